"""How a data file moved against the base: row count, schema, nulls, summaries, drift.

Each side is first reduced to a *profile* (a small JSON document: row count,
and per column its type, null count, numeric summary with 101 quantiles,
value counts of the most frequent values). Profiles are cached by content hash,
so an unchanged file, or the base file seen in an earlier run, is never read
again; the diff compares two profiles and is cheap.

Drift is the population stability index (PSI) per column,
``sum((h - b) * ln(h / b))`` over bins:

- categorical columns (strings, booleans, and numbers with at most
  ``CATEGORICAL_MAX`` distinct values): one bin per value seen in the
  ``TOP_VALUES`` most frequent values of either side, plus one for the rest;
- numeric columns: ten bins cut at the base's deciles. The head's share of each
  bin is read from its own 101 quantiles (linear interpolation of the
  cumulative distribution), which is exact to about one percent of the rows.

PSI below 0.1 is usually read as stable, 0.1 to 0.25 as a moderate shift,
above 0.25 as a large one; ``drift.max_psi`` turns it into a rule.
"""

from __future__ import annotations

import math
from typing import Any

PROFILE_VERSION = 1
TOP_VALUES = 50
CATEGORICAL_MAX = 20
_EPS = 1e-4  # share given to an empty bin, so ln() stays finite


# --- profiles ------------------------------------------------------------------------


def _category(value: Any) -> str:
    """The bin name of a value: 1 and 1.0 are the same category (a column that became float)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def profile_pandas(frame: Any) -> dict[str, Any]:
    """The profile of a pandas DataFrame."""
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        col: dict[str, Any] = {"dtype": str(series.dtype), "nulls": int(series.isna().sum())}
        values = series.dropna()
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and len(values):
            data = values.to_numpy(dtype="float64")
            data = data[np.isfinite(data)]
            if len(data):
                col.update(
                    kind="numeric",
                    mean=float(data.mean()),
                    std=float(data.std()) if len(data) > 1 else 0.0,
                    min=float(data.min()),
                    max=float(data.max()),
                    quantiles=[float(q) for q in np.quantile(data, np.linspace(0, 1, 101))],
                )
        else:
            col["kind"] = "categorical"
        distinct = values.value_counts() if len(values) else pd.Series(dtype="int64")
        col["distinct"] = int(len(distinct))
        if col["kind"] == "categorical" or len(distinct) <= CATEGORICAL_MAX:
            top = distinct.head(TOP_VALUES)
            col["counts"] = {}
            for k, v in top.items():
                col["counts"][_category(k)] = col["counts"].get(_category(k), 0) + int(v)
            col["other"] = (
                int(distinct.iloc[TOP_VALUES:].sum()) if len(distinct) > TOP_VALUES else 0
            )
        columns[str(name)] = col
    return {"version": PROFILE_VERSION, "rows": int(len(frame)), "columns": columns}


def profile_spark(frame: Any) -> dict[str, Any]:
    """The same profile computed by Spark (:mod:`mlci.adapters.spark`), for files too large
    for pandas."""
    from mlci.adapters import spark

    rows, columns = spark.profile(
        frame, top_values=TOP_VALUES, categorical_max=CATEGORICAL_MAX, category=_category
    )
    return {"version": PROFILE_VERSION, "rows": rows, "columns": columns}


# --- PSI -----------------------------------------------------------------------------


def _psi(base: list[float], head: list[float]) -> float:
    total = 0.0
    for b, h in zip(base, head, strict=False):
        b, h = max(b, _EPS), max(h, _EPS)
        total += (h - b) * math.log(h / b)
    return total


def _shares(counts: dict[str, int], other: int, keys: list[str]) -> list[float]:
    n = sum(counts.values()) + other
    if n == 0:
        return [0.0] * (len(keys) + 1)
    known = [counts.get(k, 0) / n for k in keys]
    return known + [max(0.0, 1.0 - sum(known))]


def categorical_psi(base: dict[str, Any], head: dict[str, Any]) -> float | None:
    if "counts" not in base or "counts" not in head:
        return None
    keys = sorted(set(base["counts"]) | set(head["counts"]))
    return _psi(
        _shares(base["counts"], base.get("other", 0), keys),
        _shares(head["counts"], head.get("other", 0), keys),
    )


def _cdf(quantiles: list[float], x: float) -> float:
    """Share of values <= x, from 101 evenly spaced quantiles (ties: the upper end)."""
    if x < quantiles[0]:
        return 0.0
    if x >= quantiles[-1]:
        return 1.0
    n = len(quantiles) - 1
    # the last quantile index whose value is <= x, then interpolate to the next
    lo = max(i for i, q in enumerate(quantiles) if q <= x)
    hi = lo + 1
    span = quantiles[hi] - quantiles[lo]
    frac = (x - quantiles[lo]) / span if span > 0 else 0.0
    return (lo + frac) / n


def numeric_psi(base: dict[str, Any], head: dict[str, Any]) -> float | None:
    bq, hq = base.get("quantiles"), head.get("quantiles")
    if not bq or not hq:
        return None
    edges = sorted({bq[i] for i in range(10, 100, 10)})
    base_cdf = [_cdf(bq, e) for e in edges]
    head_cdf = [_cdf(hq, e) for e in edges]
    b = (
        [base_cdf[0]]
        + [base_cdf[i] - base_cdf[i - 1] for i in range(1, len(edges))]
        + [1 - base_cdf[-1]]
    )
    h = (
        [head_cdf[0]]
        + [head_cdf[i] - head_cdf[i - 1] for i in range(1, len(edges))]
        + [1 - head_cdf[-1]]
    )
    return _psi(b, h)


# --- the diff --------------------------------------------------------------------------


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def diff(
    base: dict[str, Any], head: dict[str, Any], *, max_psi: float | None = None
) -> dict[str, Any]:
    """Compare two profiles; ``drifted`` lists the columns whose PSI exceeds ``max_psi``."""
    bcols, hcols = base["columns"], head["columns"]
    added = [{"name": n, "dtype": hcols[n]["dtype"]} for n in hcols if n not in bcols]
    removed = [{"name": n, "dtype": bcols[n]["dtype"]} for n in bcols if n not in hcols]
    type_changed = [
        {"name": n, "base": bcols[n]["dtype"], "head": hcols[n]["dtype"]}
        for n in hcols
        if n in bcols and bcols[n]["dtype"] != hcols[n]["dtype"]
    ]
    columns = []
    for name in (n for n in hcols if n in bcols):
        b, h = bcols[name], hcols[name]
        entry: dict[str, Any] = {
            "name": name,
            "null_fraction": {
                "base": _rounded(b["nulls"] / base["rows"]) if base["rows"] else None,
                "head": _rounded(h["nulls"] / head["rows"]) if head["rows"] else None,
            },
        }
        if b.get("kind") == "numeric" and h.get("kind") == "numeric":
            for stat in ("mean", "std", "min", "max"):
                entry[stat] = {"base": _rounded(b.get(stat)), "head": _rounded(h.get(stat))}
            entry["median"] = {
                "base": _rounded(b["quantiles"][50]),
                "head": _rounded(h["quantiles"][50]),
            }
        both_counted = "counts" in b and "counts" in h
        if both_counted and (
            b.get("kind") == "categorical" or b.get("distinct", 0) <= CATEGORICAL_MAX
        ):
            psi, method = categorical_psi(b, h), "categorical"
        elif b.get("kind") == "numeric" and h.get("kind") == "numeric":
            psi, method = numeric_psi(b, h), "binned"
        else:
            psi, method = None, None
        entry["psi"] = _rounded(psi, 4)
        entry["psi_method"] = method
        columns.append(entry)
    scored = [c for c in columns if c["psi"] is not None]
    worst = max(scored, key=lambda c: c["psi"], default=None)
    drifted = sorted(
        (c["name"] for c in scored if max_psi is not None and c["psi"] > max_psi),
        key=lambda n: -next(c["psi"] for c in scored if c["name"] == n),
    )
    return {
        "status": "compared",
        "rows": {"base": base["rows"], "head": head["rows"], "delta": head["rows"] - base["rows"]},
        "schema": {"added": added, "removed": removed, "type_changed": type_changed},
        "columns": columns,
        "max_psi": {"column": worst["name"], "psi": worst["psi"]} if worst else None,
        "rule": {"max_psi": max_psi} if max_psi is not None else None,
        "drifted": drifted,
    }
