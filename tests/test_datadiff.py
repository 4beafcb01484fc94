"""Profiles, PSI and the diff of two profiles (pure functions, pandas only)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mlci.engine import datadiff
from mlci.model.data import DataDiff
from mlci.report.data import diff_summary


def test_identical_data_has_no_drift():
    df = pd.DataFrame({"x": np.arange(1000) / 10, "c": ["a", "b", "c", "a"] * 250})
    p = datadiff.profile_pandas(df)
    d = datadiff.diff(p, p, max_psi=0.1)
    assert d["rows"] == {"base": 1000, "head": 1000, "delta": 0}
    assert all(c["psi"] == 0 for c in d["columns"])
    assert d["drifted"] == [] and d["schema"] == {"added": [], "removed": [], "type_changed": []}


def test_categorical_psi_by_hand():
    base = datadiff.profile_pandas(pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50}))
    head = datadiff.profile_pandas(pd.DataFrame({"c": ["a"] * 80 + ["b"] * 20}))
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    col = datadiff.diff(base, head)["columns"][0]
    assert col["psi_method"] == "categorical"
    assert col["psi"] == pytest.approx(expected, abs=1e-4)


def test_numeric_psi_matches_exact_binning():
    rng = np.random.default_rng(0)
    base_values = rng.normal(0, 1, 20_000)
    head_values = rng.normal(0.5, 1, 20_000)
    base = datadiff.profile_pandas(pd.DataFrame({"x": base_values}))
    head = datadiff.profile_pandas(pd.DataFrame({"x": head_values}))
    col = datadiff.diff(base, head, max_psi=0.2)["columns"][0]
    # the exact PSI over the base's deciles, computed directly from the data
    edges = np.quantile(base_values, np.linspace(0.1, 0.9, 9))
    b = np.histogram(base_values, np.concatenate([[-np.inf], edges, [np.inf]]))[0] / len(
        base_values
    )
    h = np.histogram(head_values, np.concatenate([[-np.inf], edges, [np.inf]]))[0] / len(
        head_values
    )
    exact = float(np.sum((h - b) * np.log(h / b)))
    assert col["psi_method"] == "binned"
    assert col["psi"] == pytest.approx(exact, rel=0.05)
    assert col["mean"]["head"] - col["mean"]["base"] == pytest.approx(0.5, abs=0.05)


def test_schema_nulls_and_summary_line():
    base = datadiff.profile_pandas(pd.DataFrame({"a": [1, 2, 3, 4], "b": ["x", "y", None, "x"]}))
    head = datadiff.profile_pandas(pd.DataFrame({"a": [1.5, 2, None, 4, 5], "c": [1, 1, 1, 1, 1]}))
    d = datadiff.diff(base, head)
    assert [c["name"] for c in d["schema"]["added"]] == ["c"]
    assert [c["name"] for c in d["schema"]["removed"]] == ["b"]
    assert d["schema"]["type_changed"] == [{"name": "a", "base": "int64", "head": "float64"}]
    a = d["columns"][0]
    assert a["null_fraction"] == {"base": 0.0, "head": 0.2}
    line = diff_summary(DataDiff.from_dict(d))
    assert line.startswith(
        "+1 rows (+25.0 %), 1 column added (c), 1 column removed (b), 1 column changed type (a)"
    )
    assert (
        diff_summary(
            DataDiff.from_dict({"status": "no_base", "message": "x.csv does not exist in main"})
        )
        == "x.csv does not exist in main"
    )
