"""The statistical model behind ``max_regression: auto``: pure functions, no I/O.

The model, as the report states it in one line ("0.7 % bound from 12 runs on main"):

* The base branch's recorded **runs** of a metric (commits where the stage
  that writes it was executed; :mod:`mlci.engine.history` decides which) are
  ``x_1 .. x_n``, oldest first. Values that a commit carried forward without
  re-running its stage are not runs and are left out.
* **Noise** ``s`` is the run-to-run spread. When enough runs repeat identical
  pipeline inputs (the same code, params and data upstream of the stage), ``s``
  is the pooled standard deviation within those groups, with ``sum(n_g - 1)``
  degrees of freedom: the purest estimate, since nothing but chance differs.
  Otherwise the runs are cut at *level changes* (a change between consecutive
  runs more than ``LEVEL_STEP`` noise-sigmas beyond the others, the noise taken
  from the other changes by von Neumann's ``mean(d**2) / 2``: a real improvement
  that landed on main), and ``s`` is the pooled standard deviation of the runs
  within those segments, with ``n - segments`` degrees of freedom. A step in
  the history then does not widen the limit.
* **Centre** ``c`` is the mean of the last ``k <= RECENT`` runs since the last level
  change: a slow drift moves it along.
* The head is one more run of the same process. Its **one-sided prediction
  bound** at false-alarm rate ``alpha`` is ``c - t(1 - alpha, dof) * s *
  sqrt(1 + 1/k)`` (for "higher is better"; mirrored for "lower"). The gate fails
  only below that bound. Expressed as the allowed worsening against the base
  value it is ``t * s * sqrt(1 + 1/k) + (base - c)``, never below 0: a PR
  that does not re-run the stage (head equal to base) always passes.
* A base outside that band is no run of the process the history describes (a
  champion deployed long ago, a level the runs have not reached): the bound is
  then centred on the base as one run, ``t * s * sqrt(2)``, and the rule text
  says so.

``t`` is Student's t quantile (exact for whole degrees of freedom), so the bound
widens when few runs are known (n = 5) and tends to the normal one (n = 30+).
``alpha`` is ``metrics.noise_alpha`` (0.7 %: the bound's rate is exact for normal
noise only, and 0.7 % keeps the measured rate under 1 % for the other shapes but
heavy tails), or the normal tail beyond ``metrics.noise_k`` sigmas when that is set.
``benchmarks/bench_noise.py`` measures its false-alarm and detection rates. On heavy
tails (Student t, 3 dof) it raises about 2 %: there the same benchmark shows that no
width of this bound, nor one told the noise's shape, keeps that under 1 % and still
catches 95 % of 6-sigma drops from 10 runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist

# a change between consecutive runs this many noise-sigmas beyond the rest (sqrt(2) sigma
# being one change's spread) is taken for a level change rather than noise
LEVEL_STEP = 6.0
# the centre is the mean of at most this many of the newest runs: a slow drift moves it along
RECENT = 5
# nominal 1 % would be exact for normal noise only: 0.7 % keeps the measured rate under 1 %
# with a margin across the noise shapes of benchmarks/bench_noise.py (docs/noise.md)
DEFAULT_ALPHA = 0.007


def alpha_of(noise_alpha: float | None, noise_k: float | None) -> float:
    """The false-alarm rate: the normal tail beyond ``noise_k`` sigmas when that is set (the
    setting of earlier versions), else ``noise_alpha``."""
    if noise_k is not None:
        return 1.0 - NormalDist().cdf(noise_k)
    return noise_alpha if noise_alpha is not None else DEFAULT_ALPHA


def _t_cdf_abs(t: float, dof: int) -> float:
    """P(|T| < t) for Student's t with whole ``dof`` (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(dof))
    c2 = math.cos(theta) ** 2
    s = math.sin(theta)
    if dof == 1:
        return 2.0 * theta / math.pi
    if dof % 2:  # odd
        term, total = 1.0, 1.0
        for j in range(1, (dof - 3) // 2 + 1):
            term *= c2 * (2 * j) / (2 * j + 1)
            total += term
        return 2.0 / math.pi * (theta + s * math.cos(theta) * total)
    term, total = 1.0, 1.0
    for j in range(1, (dof - 2) // 2 + 1):
        term *= c2 * (2 * j - 1) / (2 * j)
        total += term
    return s * total


@lru_cache(maxsize=4096)
def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``dof`` degrees of freedom."""
    if dof >= 400:  # indistinguishable from the normal at the precision a limit is shown
        return NormalDist().inv_cdf(p)
    target = 2.0 * p - 1.0  # P(|T| < q)
    lo, hi = 0.0, 1.0
    while _t_cdf_abs(hi, dof) < target:
        hi *= 2.0
    for _ in range(80):
        mid = (lo + hi) / 2.0
        if _t_cdf_abs(mid, dof) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


@dataclass(frozen=True)
class Spread:
    """A metric's noise model from the runs recorded on the base branch.

    ``sigma`` is None when fewer than ``needed`` runs were recorded: an ``auto``
    limit then falls back and says so. ``left_out`` says which recorded values
    were not counted as runs, and why ("6 commits did not re-run its stage").
    """

    sigma: float | None
    points: int  # the runs the estimate used
    needed: int
    branch: str  # the base branch's name, for "from 20 runs on main"
    center: float | None = None  # mean of the runs since the last level change
    recent: int = 0  # how many runs that mean is of
    dof: int = 0
    source: str = "runs"  # runs|repeats: where sigma came from
    left_out: tuple[str, ...] = ()
    level_changes: int = 0
    pure_noise: bool = False  # repeats on identical inputs vary as much as the runs do

    def _width(self, alpha: float, recent: int) -> float | None:
        if self.sigma is None or self.dof < 1 or recent < 1:
            return None
        return t_quantile(1.0 - alpha, self.dof) * self.sigma * math.sqrt(1.0 + 1.0 / recent)

    def _offset(self, base: float, direction: str | None, alpha: float) -> float | None:
        """How much better than the centre the base is; None when the base lies outside the
        runs' own prediction band (then the history does not describe it: a champion
        deployed long ago, a level the runs have not reached) and the bound is centred on
        the base itself, as one run."""
        width = self._width(alpha, self.recent)
        if width is None or self.center is None:
            return None
        offset = (base - self.center) if direction != "lower" else (self.center - base)
        return offset if abs(offset) <= width else None

    def allowed(self, base: float, direction: str | None, alpha: float) -> float | None:
        """The worsening against ``base`` the model allows (>= 0), or None without a model."""
        offset = self._offset(base, direction, alpha)
        if offset is None:
            width = self._width(alpha, 1)
            return width if width is not None and math.isfinite(width) else None
        width = self._width(alpha, self.recent)
        assert width is not None
        value = width + offset
        return value if math.isfinite(value) and value > 0 else 0.0

    def basis(self, alpha: float, base: float | None = None, direction: str | None = None) -> str:
        """The rule text: "0.7 % bound from 12 runs on main (sd 0.0021); 6 commits did not re-run
        its stage"."""
        pct = f"{alpha * 100:.2g} %"
        what = "repeat runs on identical inputs" if self.source == "repeats" else "runs"
        text = f"{pct} bound from {self.points} {what} on {self.branch} (sd {self.sigma:.2g})"
        extra = list(self.left_out)
        if base is not None and self._offset(base, direction, alpha) is None:
            extra.insert(0, "centred on the base, which lies outside the runs' band")
        elif self.level_changes:
            extra.insert(
                0,
                f"{self.level_changes} level change{'s' if self.level_changes > 1 else ''}: "
                f"centred on the last {self.recent}",
            )
        if self.pure_noise:
            extra.insert(
                0,
                "pure noise: runs on identical inputs vary as much as main's runs, the rule "
                "cannot gate changes smaller than this",
            )
        return "; ".join([text, *extra])

    def short(self) -> str:
        """Without a model: "3 runs on main, 5 needed" (and what was left out)."""
        text = f"{self.points} run{'s' if self.points != 1 else ''} on {self.branch}, {self.needed} needed"
        return "; ".join([text, *self.left_out])


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _mean_sq(values: Sequence[float]) -> float:
    # scaled so that 1e308-sized values do not overflow into inf
    scale = max((abs(v) for v in values), default=0.0)
    if scale == 0.0 or not math.isfinite(scale):
        return 0.0 if scale == 0.0 else math.inf
    return scale * scale * sum((v / scale) ** 2 for v in values) / len(values)


def level_changes(values: Sequence[float]) -> list[int]:
    """Indices ``i`` of the changes ``values[i] -> values[i+1]`` taken for level changes.

    The largest change is one when it exceeds ``LEVEL_STEP * sqrt(2)`` times the
    noise the other changes give, unless the next (or previous) change goes most of
    the way back: one outlying run is heavy-tailed noise, which the spread must
    keep. Repeated while at least two changes remain and at most a quarter of them
    are taken out.
    """
    diffs = [b - a for a, b in zip(values, values[1:], strict=False)]
    out: list[int] = []
    while len(diffs) - len(out) > 2 and len(out) < max(1, len(diffs) // 4):
        rest = [i for i in range(len(diffs)) if i not in out]
        big = max(rest, key=lambda i: abs(diffs[i]))
        others = [diffs[i] for i in rest if i != big]
        sigma = math.sqrt(_mean_sq(others) / 2.0)
        if sigma == 0.0 or abs(diffs[big]) <= LEVEL_STEP * math.sqrt(2.0) * sigma:
            break
        if any(
            0 <= j < len(diffs)
            and diffs[j] * diffs[big] < 0
            and abs(diffs[j]) > abs(diffs[big]) / 2
            for j in (big - 1, big + 1)
        ):
            break  # out and back: one outlying run (heavy-tailed noise), not a new level
        out.append(big)
    return sorted(out)


def successive_sigma(values: Sequence[float], skip: Iterable[int] = ()) -> tuple[float, int]:
    """von Neumann's noise estimate from consecutive changes, without those in ``skip``;
    with its degrees of freedom."""
    left = set(skip)
    diffs = [
        b - a for i, (a, b) in enumerate(zip(values, values[1:], strict=False)) if i not in left
    ]
    if not diffs:
        return 0.0, 0
    m = len(diffs)
    return math.sqrt(_mean_sq(diffs) / 2.0), max(1, math.floor(2.0 * m * m / (3.0 * m - 1.0)))


def pooled_sigma(groups: Iterable[Sequence[float]]) -> tuple[float, int, int]:
    """The pooled within-group standard deviation, its degrees of freedom, and the values used."""
    squares: list[float] = []
    dof = used = 0
    for group in groups:
        values = _finite(group)
        if len(values) < 2:
            continue
        mean = sum(values) / len(values)
        squares.extend(v - mean for v in values)
        dof += len(values) - 1
        used += len(values)
    if dof == 0:
        return 0.0, 0, 0
    return math.sqrt(_mean_sq(squares) * len(squares) / dof), dof, used


@dataclass
class Runs:
    """What history found for one metric: its runs in order, and what it left out."""

    values: list[float] = field(default_factory=list)
    identities: list[str | None] = field(default_factory=list)  # upstream inputs of each run
    # further values recorded for a run's commit (a second run noted on the same commit)
    repeats: list[list[float]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


def estimate(runs: Runs, min_points: int, branch: str) -> Spread:
    """The :class:`Spread` of one metric's runs (the model in this module's docstring)."""
    values = list(runs.values)
    n = len(values)
    left_out = tuple(runs.left_out)
    # repeat groups: runs with identical upstream inputs, and second results of one commit
    groups: dict[str, list[float]] = {}
    extra: list[list[float]] = []
    for i, (value, ident) in enumerate(zip(values, runs.identities, strict=False)):
        more = runs.repeats[i] if i < len(runs.repeats) else []
        if ident is not None:
            groups.setdefault(ident, []).extend([value, *more])
        elif more:
            extra.append([value, *more])
    rep_sigma, rep_dof, rep_used = pooled_sigma([*groups.values(), *extra])
    if n < min_points and rep_dof < min_points - 1:
        return Spread(None, n, min_points, branch, left_out=left_out)
    changes = level_changes(values) if n >= 3 else []
    cuts = [0, *(i + 1 for i in changes), n]
    segments = [values[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
    run_sigma, run_dof, _ = pooled_sigma(segments)
    start = changes[-1] + 1 if changes else 0
    recent = values[max(start, len(values) - RECENT) :] or values[-1:]
    center = sum(recent) / len(recent) if recent else None
    if rep_dof >= min_points - 1:
        # the repeats alone: centred on the group of the newest run when it has repeats
        last = runs.identities[-1] if runs.identities else None
        group = groups.get(last) if last is not None else None
        if group is None or len(group) < 2:
            group = recent
        pure = n >= min_points and run_sigma > 0 and rep_sigma >= 0.7 * run_sigma
        return Spread(
            rep_sigma,
            rep_used,
            min_points,
            branch,
            center=sum(group) / len(group),
            recent=len(group),
            dof=rep_dof,
            source="repeats",
            left_out=left_out,
            pure_noise=pure or (n < min_points and rep_used >= min_points),
        )
    return Spread(
        run_sigma,
        n,
        min_points,
        branch,
        center=center,
        recent=len(recent),
        dof=run_dof,
        source="runs",
        left_out=left_out,
        level_changes=len(changes),
    )
