"""How likely a difference between two files is from sampling alone (no scipy: the few
distributions the data checks need, written out).

- :func:`chi2_sf`: the chi-square distribution's upper tail;
- :func:`homogeneity_p`: Pearson's chi-square test that two binned samples share one
  distribution (the drift check's test, over the PSI's bins);
- :func:`more_missing_p`: Fisher's exact test, one-sided, that the head's share of missing
  values is no higher than the base's (the missing-values check's test).

Each is checked against scipy in ``tests/test_datadiff.py``.
"""

from __future__ import annotations

import math

EXACT_MAX = 2000  # missing values summed exactly; beyond, the normal approximation


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
