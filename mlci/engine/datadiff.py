"""How a data file moved against the base: row count, schema, missing values, summaries, drift.

Each side is first reduced to a *profile* (a small JSON document: row count,
and per column its type, null count, a content hash of its values, numeric
summary with 101 quantiles, value counts of the most frequent values).
Profiles are cached by content hash, so an unchanged file, or the base file
seen in an earlier run, is never read again; the diff compares two profiles
and is cheap. It recognises a rename (a removed and an added column with the
same content hash, whatever the row order), and hands its comparison to
:mod:`mlci.engine.datajudge`, which lists what fails, warns or informs.

Drift is the population stability index (PSI) per column,
``sum((h - b) * ln(h / b))`` over bins, computed on the values present (the
missing ones are the missing-values check's):

- categorical columns (strings, booleans, and numbers with at most
  ``CATEGORICAL_MAX`` distinct values): one bin per value seen in the
  ``TOP_VALUES`` most frequent values of either side; values too rare to
  judge (fewer than ``MIN_BIN_ROWS`` expected rows on the smaller side) are
  pooled with the rest into one bin;
- numeric columns: bins cut at the base's quantiles, ten (deciles) or fewer,
  so that each bin expects at least ``MIN_BIN_ROWS`` rows of the smaller side.
  The head's share of each bin is read from its own 101 quantiles (linear
  interpolation of the cumulative distribution), exact to about one percent
  of the rows.

PSI below 0.1 is usually read as stable, 0.1 to 0.25 as a moderate shift,
above 0.25 as a large one. On small files sampling alone moves it that much
(two random 86-row splits of one table exceed 0.2 in two trials of three), so
each column also gets the p-value of Pearson's chi-square test of homogeneity
over the same bins (:func:`mlci.engine.sampling.homogeneity_p`): how likely a
difference this large is when both files sample one distribution. A column
drifts when its PSI exceeds ``drift.max_psi`` *and* the p-value is below
``drift.alpha``. Measured on re-splits in ``benchmarks/bench_drift.py``.
"""

from __future__ import annotations

import math
from typing import Any

from mlci.engine import datajudge, sampling
from mlci.model.config import DiffRules

PROFILE_VERSION = 2  # 2: a content hash per column
TOP_VALUES = 50
CATEGORICAL_MAX = 20
MIN_BIN_ROWS = 5  # expected rows of the smaller side in a bin: below, the chi-square test misleads
MAX_BINS = 10
_EPS = 1e-4  # share given to an empty bin, so ln() stays finite
SHOWN_CATEGORIES = 10  # categories that appeared or vanished, listed per column


# --- profiles ------------------------------------------------------------------------


def _category(value: Any) -> str:
    """The bin name of a value: 1 and 1.0 are the same category (a column that became float)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def _content_hash(series: Any) -> str | None:
    """A hash of the column's values that ignores their order (the sum of per-row hashes).

    Equal for a column renamed, or with its rows shuffled; None when pandas cannot hash the
    values (lists read from JSON).
    """
    import numpy as np
    import pandas as pd

    try:
        rows = pd.util.hash_pandas_object(series, index=False).to_numpy(dtype="uint64")
    except (TypeError, ValueError):
        return None
    with np.errstate(over="ignore"):
        total = int(rows.sum(dtype="uint64"))  # wraps modulo 2**64, which is what we want
    return f"{str(series.dtype)}:{total:016x}"


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
        if "kind" not in col:
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
        content = _content_hash(series)
        if content is not None:
            col["hash"] = content
        columns[str(name)] = col
    return {"version": PROFILE_VERSION, "rows": int(len(frame)), "columns": columns}


def profile_spark(frame: Any) -> dict[str, Any]:
    """The same profile computed by Spark (:mod:`mlci.adapters.spark`), for files too large
    for pandas (without content hashes: a rename there shows as a removed and an added column)."""
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


def _present(col: dict[str, Any], rows: int) -> int:
    return max(0, rows - int(col.get("nulls") or 0))


def categorical_bins(
    base: dict[str, Any], head: dict[str, Any], n_base: int | None = None, n_head: int | None = None
) -> tuple[list[float], list[float]] | None:
    """Each side's shares of the counted values' bins, the rest in the last bin.

    A value whose expected rows on the smaller side (its share of both sides together) are
    fewer than ``MIN_BIN_ROWS`` joins the bin of the uncounted rest.
    """
    if "counts" not in base or "counts" not in head:
        return None
    bc, hc = base["counts"], head["counts"]
    nb = sum(bc.values()) + base.get("other", 0) if n_base is None else n_base
    nh = sum(hc.values()) + head.get("other", 0) if n_head is None else n_head
    if nb == 0 or nh == 0:
        return None
    smaller = min(nb, nh)
    keys = sorted(
        k
        for k in set(bc) | set(hc)
        if smaller * (bc.get(k, 0) + hc.get(k, 0)) / (nb + nh) >= MIN_BIN_ROWS
    )
    b = [bc.get(k, 0) / nb for k in keys]
    h = [hc.get(k, 0) / nh for k in keys]
    b.append(max(0.0, 1 - sum(b)))
    h.append(max(0.0, 1 - sum(h)))
    if b[-1] == 0 and h[-1] == 0:
        b, h = b[:-1], h[:-1]
    return b, h


def _quantile(quantiles: list[float], share: float) -> float:
    """The value below which ``share`` of the rows lie, from 101 evenly spaced quantiles."""
    pos = share * (len(quantiles) - 1)
    lo = min(int(pos), len(quantiles) - 2)
    return quantiles[lo] + (pos - lo) * (quantiles[lo + 1] - quantiles[lo])


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


def numeric_bins(
    base: dict[str, Any], head: dict[str, Any], n_base: int | None = None, n_head: int | None = None
) -> tuple[list[float], list[float]] | None:
    """Each side's shares of bins cut at the base's quantiles.

    Ten bins (deciles), fewer when the smaller side has under ``MIN_BIN_ROWS`` rows per bin;
    None when it has too few rows for two.
    """
    bq, hq = base.get("quantiles"), head.get("quantiles")
    if not bq or not hq:
        return None
    smaller = min(n_base, n_head) if n_base is not None and n_head is not None else None
    count = MAX_BINS if smaller is None else min(MAX_BINS, smaller // MIN_BIN_ROWS)
    if count < 2:
        return None
    edges = sorted({_quantile(bq, j / count) for j in range(1, count)})
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
    return b, h


def categorical_psi(base: dict[str, Any], head: dict[str, Any]) -> float | None:
    shares = categorical_bins(base, head)
    return None if shares is None else _psi(*shares)


def numeric_psi(base: dict[str, Any], head: dict[str, Any]) -> float | None:
    shares = numeric_bins(base, head)
    return None if shares is None else _psi(*shares)


# --- the diff --------------------------------------------------------------------------


def _rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _renames(
    removed: list[str], added: list[str], bcols: dict[str, Any], hcols: dict[str, Any]
) -> list[tuple[str, str]]:
    """Removed and added columns holding the same values: (base name, head name)."""
    by_hash: dict[str, list[str]] = {}
    for name in added:
        if hcols[name].get("hash"):
            by_hash.setdefault(hcols[name]["hash"], []).append(name)
    pairs = []
    for name in removed:
        candidates = by_hash.get(bcols[name].get("hash") or "", [])
        if candidates:
            pairs.append((name, candidates.pop(0)))
    return pairs


def _categories(b: dict[str, Any], h: dict[str, Any]) -> dict[str, Any] | None:
    """The values that appeared or vanished, where the other side's counts are complete."""
    if "counts" not in b or "counts" not in h:
        return None
    appeared = (
        [(k, v) for k, v in h["counts"].items() if k not in b["counts"]]
        if not b.get("other")
        else []
    )
    vanished = (
        [(k, v) for k, v in b["counts"].items() if k not in h["counts"]]
        if not h.get("other")
        else []
    )
    if not appeared and not vanished:
        return None

    def listed(pairs: list[tuple[str, int]]) -> list[dict[str, Any]]:
        pairs.sort(key=lambda kv: (-kv[1], kv[0]))
        return [{"value": k, "rows": v} for k, v in pairs[:SHOWN_CATEGORIES]]

    return {
        "appeared": listed(appeared),
        "vanished": listed(vanished),
        "more": max(0, len(appeared) - SHOWN_CATEGORIES) + max(0, len(vanished) - SHOWN_CATEGORIES),
    }


def _column(
    name: str, b: dict[str, Any], h: dict[str, Any], base_rows: int, head_rows: int
) -> dict[str, Any]:
    """One column present on both sides: base -> head summaries and its drift statistic."""
    entry: dict[str, Any] = {
        "name": name,
        "null_fraction": {
            "base": _rounded(b["nulls"] / base_rows) if base_rows else None,
            "head": _rounded(h["nulls"] / head_rows) if head_rows else None,
        },
        "nulls": {"base": int(b["nulls"]), "head": int(h["nulls"])},
    }
    if b.get("kind") == "numeric" and h.get("kind") == "numeric":
        for stat in ("mean", "std", "min", "max"):
            entry[stat] = {"base": _rounded(b.get(stat)), "head": _rounded(h.get(stat))}
        entry["median"] = {
            "base": _rounded(b["quantiles"][50]),
            "head": _rounded(h["quantiles"][50]),
        }
    categories = _categories(b, h)
    if categories:
        entry["categories"] = categories
    nb, nh = _present(b, base_rows), _present(h, head_rows)
    both_counted = "counts" in b and "counts" in h
    shares: tuple[list[float], list[float]] | None
    if both_counted and (b.get("kind") == "categorical" or b.get("distinct", 0) <= CATEGORICAL_MAX):
        shares, method = categorical_bins(b, h, nb, nh), "categorical"
    elif b.get("kind") == "numeric" and h.get("kind") == "numeric":
        shares, method = numeric_bins(b, h, nb, nh), "binned"
    else:
        shares, method = None, None
    if shares is None:
        entry.update(psi=None, psi_method=None, bins=None, p_value=None)
    else:
        entry.update(
            psi=_rounded(_psi(*shares), 4),
            psi_method=method,
            bins=len(shares[0]),
            p_value=datajudge.round_p(sampling.homogeneity_p(*shares, nb, nh)),
        )
    entry["sample"] = {"base": nb, "head": nh}
    entry["changed"] = _changed(entry)
    return entry


def _changed(entry: dict[str, Any]) -> bool:
    """Whether anything of the column moved (a reorder of rows moves nothing)."""
    if entry.get("categories"):
        return True
    if entry.get("psi"):
        return True
    for stat in ("null_fraction", "mean", "std", "min", "max", "median"):
        pair = entry.get(stat)
        if pair and pair["base"] != pair["head"]:
            return True
    return False


def diff(
    base: dict[str, Any], head: dict[str, Any], rules: DiffRules | None = None
) -> dict[str, Any]:
    """Compare two profiles and judge the change by ``rules`` (defaults: :class:`DiffRules`).

    ``findings`` lists what changed with a severity (fail, warn, info), root causes first
    (schema, missing values, row count), drift after; ``drifted`` names the drifted columns.
    """
    rules = rules or DiffRules()
    bcols, hcols = base["columns"], head["columns"]
    base_rows, head_rows = int(base["rows"]), int(head["rows"])
    removed_names = [n for n in bcols if n not in hcols]
    added_names = [n for n in hcols if n not in bcols]
    renamed = _renames(removed_names, added_names, bcols, hcols)
    gone = {b for b, _ in renamed} | {h for _, h in renamed}
    added = [{"name": n, "dtype": hcols[n]["dtype"]} for n in added_names if n not in gone]
    removed = [{"name": n, "dtype": bcols[n]["dtype"]} for n in removed_names if n not in gone]
    type_changed = [
        {"name": n, "base": bcols[n]["dtype"], "head": hcols[n]["dtype"]}
        for n in hcols
        if n in bcols and bcols[n]["dtype"] != hcols[n]["dtype"]
    ]
    columns = [_column(n, bcols[n], hcols[n], base_rows, head_rows) for n in hcols if n in bcols]

    schema = {
        "added": added,
        "removed": removed,
        "type_changed": type_changed,
        "renamed": [{"base": b, "head": h} for b, h in renamed],
    }
    findings, drifted = datajudge.findings(schema, columns, base_rows, head_rows, rules)
    scored = [c for c in columns if c["psi"]]  # a column that did not move names nothing
    worst = max(scored, key=lambda c: c["psi"], default=None)
    return {
        "status": "compared",
        "rows": {"base": base_rows, "head": head_rows, "delta": head_rows - base_rows},
        "schema": schema,
        "columns": columns,
        "max_psi": {"column": worst["name"], "psi": worst["psi"]} if worst else None,
        "rule": rules.to_dict(),
        "drifted": [c["name"] for c in drifted],
        "findings": findings,
    }
