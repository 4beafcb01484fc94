"""How a data file moved against the base, and what of it gates: schema, missing values, rows, drift.

Each side is first reduced to a *profile* (a small JSON document: row count,
and per column its type, null count, a content hash, numeric summary with 101
quantiles, value counts of the most frequent values). Profiles are cached by
content hash, so an unchanged file, or the base file seen in an earlier run, is
never read again; the diff compares two profiles and is cheap.

The diff then judges (:func:`diff`, rules from ``data[]`` in the config, see
:class:`mlci.model.config.DiffRules`) and lists its *findings*, root causes
first: a column removed, renamed (a removed and an added column hold the same
values: same content hash) or turned into another kind of value; a column
added; a column's share of missing values rising; the row count moving; then
drift.

Drift is the population stability index (PSI) per column,
``sum((h - b) * ln(h / b))`` over bins, computed on the values present (the
missing ones are judged by the missing-values check):

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
(two random halves of 86 rows often differ by 0.2), so a drift limit also asks
whether the PSI could come from sampling: if both files were drawn from one
distribution, ``PSI * n_b * n_h / (n_b + n_h)`` would follow (approximately,
for bins of at least five expected rows) a chi-square distribution with
``bins - 1`` degrees of freedom, as Pearson's two-sample statistic does. A
column drifts when its PSI exceeds ``drift.max_psi`` *and* that p-value is
below ``drift.alpha`` (the false-alarm rate per column). Measured on re-splits
of one file in ``benchmarks/bench_drift.py``.
"""

from __future__ import annotations

import math
from typing import Any

from mlci.model.config import DiffRules
from mlci.model.fmt import MINUS

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


# --- the sampling test -------------------------------------------------------------------


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X chi-square distributed with ``df`` degrees of freedom.

    The regularized upper incomplete gamma function Q(df/2, x/2): its power series where
    that converges fast (x/2 < df/2 + 1), else its continued fraction (Lentz's method).
    """
    if df < 1:
        raise ValueError("a chi-square distribution needs at least one degree of freedom")
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    a, z = df / 2, x / 2
    log_front = -z + a * math.log(z) - math.lgamma(a)
    if z < a + 1:
        term = total = 1 / a
        for n in range(1, 10_000):
            term *= z / (a + n)
            total += term
            if term < total * 1e-16:
                break
        return min(1.0, max(0.0, 1 - total * math.exp(log_front)))
    tiny = 1e-300
    b = z + 1 - a
    c, d = 1 / tiny, 1 / b
    fraction = d
    for i in range(1, 10_000):
        step = -i * (i - a)
        b += 2
        d = step * d + b
        d = tiny if abs(d) < tiny else d
        c = b + step / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        fraction *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return min(1.0, max(0.0, math.exp(log_front) * fraction))


def homogeneity_p(base: list[float], head: list[float], n_base: int, n_head: int) -> float | None:
    """Pearson's chi-square test that two samples, binned alike, come from one distribution.

    ``base`` and ``head`` are each side's shares of the bins, ``n_*`` the rows behind them;
    the p-value is how likely a difference this large is from sampling alone.
    """
    if n_base < 1 or n_head < 1:
        return None
    total = n_base + n_head
    stat, bins = 0.0, 0
    for b, h in zip(base, head, strict=True):
        pooled = (b * n_base + h * n_head) / total
        if pooled <= 0:
            continue
        bins += 1
        for share, n in ((b, n_base), (h, n_head)):
            expected = pooled * n
            stat += (share * n - expected) ** 2 / expected
    if bins < 2:
        return None
    return chi2_sf(stat, bins - 1)


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def more_missing_p(k_base: int, n_base: int, k_head: int, n_head: int) -> float:
    """How likely the head holds ``k_head`` or more of the missing values when both files
    sample one missing rate (one-sided; Fisher's exact test, the hypergeometric tail).

    Summed exactly for up to ``EXACT_MAX`` missing values, beyond by the normal
    approximation with a continuity correction.
    """
    total, rows = k_base + k_head, n_base + n_head
    if total == 0 or n_head == 0 or n_base == 0:
        return 1.0
    if total <= EXACT_MAX:
        log_all = _log_choose(rows, n_head)
        top = min(total, n_head)
        return min(
            1.0,
            sum(
                math.exp(_log_choose(total, x) + _log_choose(rows - total, n_head - x) - log_all)
                for x in range(k_head, top + 1)
                if n_head - x <= rows - total
            ),
        )
    share = n_head / rows
    mean = total * share
    var = total * share * (1 - share) * (rows - total) / max(1, rows - 1)
    if var <= 0:
        return 1.0
    z = (k_head - 0.5 - mean) / math.sqrt(var)
    return 0.5 * math.erfc(z / math.sqrt(2))


EXACT_MAX = 2000


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


def _significant(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


def dtype_family(dtype: str) -> str:
    """What kind of value a pandas or Spark type holds: number, bool, time or text.

    int64 -> float64 (a column that gained missing values) stays a number; float64 ->
    object (numbers read as text) does not.
    """
    t = dtype.lower()
    if t in ("bool", "boolean"):
        return "bool"
    if t.startswith(("int", "uint", "float", "double", "decimal", "bigint", "smallint", "tinyint")):
        return "number"
    if t.startswith(("datetime", "timedelta", "timestamp", "date", "period")):
        return "time"
    return "text"


_FAMILY_WORDS = {"number": "numbers", "bool": "true/false values", "time": "times", "text": "text"}


def pct_text(share: float) -> str:
    """A share of rows as a percentage that never reads 0 when it is not: 0.05 %, 18.6 %."""
    pct = share * 100
    if pct == 0:
        return "0 %"
    if pct < 0.1:
        return "<0.1 %"
    return f"{pct:.1f} %"


def p_text(p: float | None) -> str:
    if p is None:
        return "p n/a"
    if p < 1e-6:
        return "p < 1e-6"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


def _finding(
    check: str,
    severity: str,
    message: str,
    column: str | None = None,
    **numbers: Any,
) -> dict[str, Any]:
    return {"check": check, "severity": severity, "column": column, "message": message, **numbers}


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
            p_value=_significant(homogeneity_p(*shares, nb, nh)),
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


def _drifts(col: dict[str, Any], rules: DiffRules) -> bool:
    if rules.max_psi is None or col["psi"] is None or col["psi"] <= rules.max_psi:
        return False
    if rules.alpha is None:
        return True
    return col["p_value"] is not None and col["p_value"] < rules.alpha


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

    findings: list[dict[str, Any]] = []
    if rules.schema != "off":
        for c in removed:
            findings.append(
                _finding(
                    "removed",
                    rules.schema,
                    f"column {c['name']} removed (was {c['dtype']})",
                    c["name"],
                    base=c["dtype"],
                    head=None,
                )
            )
        for old, new in renamed:
            findings.append(
                _finding(
                    "renamed",
                    rules.schema,
                    f"column {old} renamed to {new} (same values)",
                    old,
                    base=old,
                    head=new,
                )
            )
        for t in type_changed:
            was, now = dtype_family(t["base"]), dtype_family(t["head"])
            kind = f": {_FAMILY_WORDS[was]} became {_FAMILY_WORDS[now]}" if was != now else ""
            findings.append(
                _finding(
                    "retyped",
                    rules.schema if was != now else "info",
                    f"column {t['name']} changed type {t['base']} → {t['head']}{kind}",
                    t["name"],
                    base=t["base"],
                    head=t["head"],
                )
            )
    if rules.missing != "off":
        for col in columns:
            found = _missing(col, rules, base_rows, head_rows)
            if found:
                findings.append(found)
    if rules.rows != "off" and base_rows:
        found = _rows(base_rows, head_rows, rules)
        if found:
            findings.append(found)
    if rules.new_columns != "off":
        for c in added:
            findings.append(
                _finding(
                    "added",
                    rules.new_columns,
                    f"column {c['name']} added ({c['dtype']})",
                    c["name"],
                    base=None,
                    head=c["dtype"],
                )
            )

    drifted = sorted((c for c in columns if _drifts(c, rules)), key=lambda c: -c["psi"])
    if rules.drift != "off":
        for col in drifted:
            findings.append(_drift(col, rules))

    scored = [c for c in columns if c["psi"]]  # a column that did not move names nothing
    worst = max(scored, key=lambda c: c["psi"], default=None)
    return {
        "status": "compared",
        "rows": {"base": base_rows, "head": head_rows, "delta": head_rows - base_rows},
        "schema": {
            "added": added,
            "removed": removed,
            "type_changed": type_changed,
            "renamed": [{"base": b, "head": h} for b, h in renamed],
        },
        "columns": columns,
        "max_psi": {"column": worst["name"], "psi": worst["psi"]} if worst else None,
        "rule": rules.to_dict(),
        "drifted": [c["name"] for c in drifted],
        "findings": findings,
    }


def _missing(
    col: dict[str, Any], rules: DiffRules, base_rows: int, head_rows: int
) -> dict[str, Any] | None:
    share = col["null_fraction"]
    nulls = col["nulls"]
    if (
        share["base"] is None
        or share["head"] is None
        or nulls["head"] <= nulls["base"] * (head_rows / base_rows)
    ):
        return None
    rise = (share["head"] - share["base"]) * 100
    complete = rules.missing_keep_complete and nulls["base"] == 0
    over = rules.missing_max_increase is not None and rise > rules.missing_max_increase + 1e-9
    if not complete and not over:
        return None
    p = more_missing_p(nulls["base"], base_rows, nulls["head"], head_rows)
    if rules.missing_alpha is not None and p >= rules.missing_alpha:
        return None  # as many as two samples of one missing rate often differ by
    numbers = {"base": share["base"], "head": share["head"], "p_value": _significant(p)}
    test = f"; {p_text(p)} at {base_rows:,} vs {head_rows:,} rows"
    if complete:
        return _finding(
            "missing",
            rules.missing,
            f"column {col['name']}: {nulls['head']:,} missing values "
            f"({pct_text(share['head'])} of rows), none in the base "
            f"(missing.keep_complete){test}",
            col["name"],
            limit=0,
            **numbers,
        )
    return _finding(
        "missing",
        rules.missing,
        f"column {col['name']}: missing values {pct_text(share['base'])} → "
        f"{pct_text(share['head'])} (+{rise:.1f} points > "
        f"{rules.missing_max_increase:g}, missing.max_increase){test}",
        col["name"],
        limit=rules.missing_max_increase,
        **numbers,
    )


def _rows(base_rows: int, head_rows: int, rules: DiffRules) -> dict[str, Any] | None:
    change = (head_rows - base_rows) / base_rows * 100
    numbers: dict[str, Any] = {"base": base_rows, "head": head_rows}
    sign = "+" if change >= 0 else MINUS
    what = f"rows {base_rows:,} → {head_rows:,} ({sign}{abs(change):.1f} %"
    drop, grow = rules.rows_max_decrease_pct, rules.rows_max_increase_pct
    if drop is not None and -change > drop + 1e-9:
        return _finding(
            "rows",
            rules.rows,
            f"{what}; at most {MINUS}{drop:g} %, rows.max_decrease_pct)",
            limit=-drop,
            **numbers,
        )
    if grow is not None and change > grow + 1e-9:
        return _finding(
            "rows",
            rules.rows,
            f"{what}; at most +{grow:g} %, rows.max_increase_pct)",
            limit=grow,
            **numbers,
        )
    return None


def _drift(col: dict[str, Any], rules: DiffRules) -> dict[str, Any]:
    sample = col["sample"]
    test = f"; {p_text(col['p_value'])} at {sample['base']:,} vs {sample['head']:,} rows"
    moved = ""
    if col.get("mean") and col["mean"]["base"] is not None and col["mean"]["head"] is not None:
        moved = f"; mean {col['mean']['base']:.4g} → {col['mean']['head']:.4g}"
    elif col.get("categories"):
        new = [c["value"] for c in col["categories"]["appeared"][:3]]
        moved = f"; new values {', '.join(new)}" if new else ""
    return _finding(
        "drift",
        rules.drift,
        f"column {col['name']} drifted: PSI {col['psi']:.3f} > {rules.max_psi:g} "
        f"(drift.max_psi){test}{moved}",
        col["name"],
        base=None,
        head=col["psi"],
        limit=rules.max_psi,
        p_value=col["p_value"],
    )
