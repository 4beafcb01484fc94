"""How often the `auto` gate is wrong: false alarms on no-op PRs, detection of real drops.

Pure Python over the functions the gate itself uses (mlci.engine.noise.estimate for the
recorded runs, mlci.engine.compare.compare_metric for the verdict); no git, no DVC.

Each trial simulates one metric ("higher is better", level 0.9, noise spread sd = 0.01
except where said): n recorded runs on main (each a main commit that re-ran the stage on
new inputs), the base being the newest, then one PR run. A no-op PR re-runs the stage on
main's inputs (its value is one more draw); a real drop lowers the PR's level by 3 or 6
noise spreads. Cases:

  gaussian   normal noise
  uniform    uniform draws with the same sd
  flip       accuracy on a 100-row test set that flips one row: 0.90 or 0.91 (sd 0.005)
  t3         Student t with 3 degrees of freedom, scaled to the same sd (heavy tails)
  drift      normal noise on a level drifting 0.1 sd per run (either way); the PR continues it
  repeats    normal noise, every run on identical inputs (a nondeterministic pipeline: the
             spread of the repeats is the noise)

Side by side, on the same draws: the default `auto` (alpha 0.7 %), a fixed
`max_regression_pct: 10`, a fixed `max_regression: 0.02`, and a Bencher-style t-test
threshold (fail below mean - t(0.99, n-1) * sample sd of the n runs).

Targets for `auto`: false alarms <= 1 % per PR for n >= 10 (<= 2 % at n = 5), detection of
a 6-spread drop >= 95 % for n >= 10.  Exit 1 when one is missed, except heavy tails' false
alarms when the run's own frontier shows them out of reach: the second table puts variants
of the bound side by side (the default widened by 10-30 %, a lower alpha, and a bound that
is told the noise is Student t with 3 degrees of freedom and fits its scale to the runs); when
none of them, on t3's own draws, keeps false alarms <= 1 % while still catching >= 95 % of the
6-spread drops at n >= 10 (the targets above), the t3 miss is reported as such and does not fail the run.

    python benchmarks/bench_noise.py [--trials N]
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlci.engine import compare, noise  # noqa: E402
from mlci.model.config import AUTO, MetricRule, MetricsConfig  # noqa: E402

LEVEL = 0.9
SD = 0.01
SIZES = (5, 10, 30)
SHIFTS = (3.0, 6.0)
FA_TARGET = {5: 0.02, 10: 0.01, 30: 0.01}
DETECT_TARGET = 0.95  # for a 6-spread drop, n >= 10

Draw = Callable[[random.Random], float]


def _t3(rng: random.Random) -> float:
    z = rng.gauss(0.0, 1.0)
    chi = sum(rng.gauss(0.0, 1.0) ** 2 for _ in range(3))
    return z / math.sqrt(chi / 3.0) * SD / math.sqrt(3.0)  # t3 has sd sqrt(3)


CASES: dict[str, tuple[Draw, float, float]] = {
    # name: (noise draw, the case's spread, level drift per run in spreads)
    "gaussian": (lambda r: r.gauss(0.0, SD), SD, 0.0),
    "uniform": (lambda r: r.uniform(-SD * math.sqrt(3), SD * math.sqrt(3)), SD, 0.0),
    "flip": (lambda r: 0.0 if r.random() < 0.5 else 0.01, 0.005, 0.0),
    "t3": (_t3, SD, 0.0),
    "drift": (lambda r: r.gauss(0.0, SD), SD, 0.1),
    "repeats": (lambda r: r.gauss(0.0, SD), SD, 0.0),
}

NAME = "eval/metrics.json:acc"
AUTO_RULE = MetricRule(name="acc", direction="higher", max_regression=AUTO)
RULES = {
    "auto": MetricsConfig(rules=(AUTO_RULE,)),
    "pct 10": MetricsConfig(
        rules=(MetricRule(name="acc", direction="higher", max_regression_pct=10),)
    ),
    "abs 0.02": MetricsConfig(
        rules=(MetricRule(name="acc", direction="higher", max_regression=0.02),)
    ),
}


def _fails(config: MetricsConfig, base: float, head: float, spread: noise.Spread | None) -> bool:
    m = compare.compare_metric(
        NAME,
        base,
        head,
        in_base=True,
        in_head=True,
        base_has_file=True,
        config=config,
        spread=spread,
    )
    return m.outcome == "fail"


def _bencher_fails(runs: list[float], head: float) -> bool:
    n = len(runs)
    mean = sum(runs) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in runs) / (n - 1))
    return head < mean - noise.t_quantile(0.99, n - 1) * sd


def trial(case: str, n: int, shift: float, rng: random.Random) -> dict[str, bool]:
    draw, spread, drift = CASES[case]
    slope = drift * spread * (1 if rng.random() < 0.5 else -1)
    levels = [LEVEL + slope * i for i in range(n + 1)]
    values = [round(levels[i] + draw(rng), 6) for i in range(n)]
    head = round(levels[n] - shift * spread + draw(rng), 6)
    same = case == "repeats"
    runs = noise.Runs(values=values, identities=["same" if same else f"c{i}" for i in range(n)])
    est = noise.estimate(runs, 5, "main")
    base = values[-1]
    out = {name: _fails(cfg, base, head, est) for name, cfg in RULES.items()}
    out["bencher t"] = _bencher_fails(values, head)
    return out


# -- heavy tails: what any bound of this form can reach ---------------------------------------


def _t3_scale(residuals: list[float]) -> float:
    """Maximum-likelihood scale of Student t with 3 degrees of freedom, location 0 (iteratively
    reweighted: each point weighs (nu + 1) / (nu + (x / scale)**2))."""
    s2 = sum(x * x for x in residuals) / len(residuals)
    for _ in range(50):
        if s2 <= 0.0:
            return 0.0
        new = sum(4.0 / (3.0 + x * x / s2) * x * x for x in residuals) / len(residuals)
        if abs(new - s2) <= 1e-12 * s2:
            return math.sqrt(new)
        s2 = new
    return math.sqrt(s2)


def _residuals(values: list[float]) -> list[float]:
    changes = noise.level_changes(values) if len(values) >= 3 else []
    cuts = [0, *(i + 1 for i in changes), len(values)]
    out: list[float] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        segment = values[a:b]
        if len(segment) > 1:
            mean = sum(segment) / len(segment)
            out.extend(v - mean for v in segment)
    return out


def _variant_allowed(name: str, values: list[float], est: noise.Spread) -> float | None:
    """The allowance of one frontier variant (the default's centre and offset; another width)."""
    alpha = (
        0.003 if name == "alpha 0.3 %" else 0.01 if name.endswith("1 %") else noise.DEFAULT_ALPHA
    )
    allowed = est.allowed(values[-1], "higher", alpha)
    width = est._width(alpha, est.recent)
    if allowed is None or width is None:
        return allowed
    if name.startswith("widened"):
        return allowed + (float(name.split("x")[1]) - 1.0) * width
    if name.startswith("told t3"):
        # Student t quantile and fitted t3 scale, with the default's small-sample factor
        small = noise.t_quantile(1 - alpha, est.dof) / NormalDist().inv_cdf(1 - alpha)
        t3_width = (
            noise.t_quantile(1 - alpha, 3)
            * _t3_scale(_residuals(values))
            * math.sqrt(1 + 1 / est.recent)
            * small
        )
        return max(0.0, allowed - width + t3_width)
    return allowed


FRONTIER = (
    "default",
    "widened x1.1",
    "widened x1.2",
    "widened x1.3",
    "alpha 0.3 %",
    "told t3, alpha 0.7 %",
    "told t3, alpha 1 %",
)


def _frontier(rng: random.Random, trials: int) -> tuple[str, bool]:
    """False alarms and detection of 6-spread drops on t3 and gaussian noise, per variant; and
    whether any variant meets both targets on t3's own draws at n = 10 and 30 (the gaussian
    columns show what each variant costs where the noise is normal)."""
    lines = [
        "| variant | t3 false alarms n = 5 / 10 / 30 | t3: 6 spreads n = 5 / 10 / 30 "
        "| gaussian false alarms n = 5 / 10 / 30 | gaussian: 6 spreads n = 5 / 10 / 30 |",
        "|---|---|---|---|---|",
    ]
    counts = {v: {} for v in FRONTIER}
    for case in ("t3", "gaussian"):
        draw, spread, _ = CASES[case]
        for n in SIZES:
            for shift, runs in ((0.0, trials), (6.0, trials // 4)):
                hits = dict.fromkeys(FRONTIER, 0)
                for _ in range(runs):
                    values = [round(LEVEL + draw(rng), 6) for _ in range(n)]
                    head = round(LEVEL - shift * spread + draw(rng), 6)
                    est = noise.estimate(
                        noise.Runs(values=values, identities=[f"c{i}" for i in range(n)]), 5, "main"
                    )
                    for v in FRONTIER:
                        allowed = _variant_allowed(v, values, est)
                        hits[v] += allowed is not None and values[-1] - head > allowed
                for v in FRONTIER:
                    counts[v][(case, n, shift)] = hits[v] / runs * 100
    reachable = False
    for v in FRONTIER:
        c = counts[v]
        lines.append(
            f"| {v} | "
            + " | ".join(
                " / ".join(f"{c[(case, n, shift)]:.{1 if shift == 0 else 0}f} %" for n in SIZES)
                for case, shift in (("t3", 0.0), ("t3", 6.0), ("gaussian", 0.0), ("gaussian", 6.0))
            )
            + " |"
        )
        # on t3's own draws: a variant that meets both targets there would make the miss ours
        reachable = reachable or all(
            c[("t3", n, 0.0)] <= FA_TARGET[n] * 100
            and (n < 10 or c[("t3", n, 6.0)] >= DETECT_TARGET * 100)
            for n in SIZES
        )
    return "\n".join(lines), reachable


def _stability(rng: random.Random, trials: int) -> str:
    """How much the default allowance varies between histories of one gaussian process."""
    lines = [
        "allowance of the default auto on gaussian histories, in noise spreads (10th / 50th / 90th percentile):"
    ]
    for n in SIZES:
        found = []
        for _ in range(trials // 4):
            values = [round(LEVEL + rng.gauss(0.0, SD), 6) for _ in range(n)]
            est = noise.estimate(
                noise.Runs(values=values, identities=[f"c{i}" for i in range(n)]), 5, "main"
            )
            allowed = est.allowed(values[-1], "higher", noise.DEFAULT_ALPHA)
            found.append((allowed or 0.0) / SD)
        found.sort()
        pick = [found[int(len(found) * q)] for q in (0.1, 0.5, 0.9)]
        lines.append(f"  n = {n:2}: " + " / ".join(f"{v:.1f}" for v in pick))
    return "\n".join(lines)


def main() -> int:
    trials = 4000
    if "--trials" in sys.argv:
        trials = int(sys.argv[sys.argv.index("--trials") + 1])
    rng = random.Random(20261206)
    names = [*RULES, "bencher t"]
    print(
        f"false alarms over {trials} no-op PRs, detection over {trials // 4} PRs per shift "
        "(shift in noise spreads); auto = the default (alpha 0.7 %)\n"
    )
    header = (
        "| case | n | "
        + " | ".join(f"{r}: false alarms | {r}: 3 / 6 spreads" for r in names)
        + " |"
    )
    print(header)
    print("|" + "---|" * (2 + 2 * len(names)))
    missed = []
    for case in CASES:
        for n in SIZES:
            fa = dict.fromkeys(names, 0)
            det = {s: dict.fromkeys(names, 0) for s in SHIFTS}
            for _ in range(trials):
                for k, v in trial(case, n, 0.0, rng).items():
                    fa[k] += v
            for s in SHIFTS:
                for _ in range(trials // 4):
                    for k, v in trial(case, n, s, rng).items():
                        det[s][k] += v
            cells = []
            for r in names:
                cells.append(f"{fa[r] / trials * 100:.1f} %")
                cells.append(" / ".join(f"{det[s][r] / (trials // 4) * 100:.0f} %" for s in SHIFTS))
            print(f"| {case} | {n} | " + " | ".join(cells) + " |", flush=True)
            rate = fa["auto"] / trials
            if rate > FA_TARGET[n]:
                missed.append(f"{case} n={n}: auto false alarms {rate * 100:.1f} %")
            caught = det[6.0]["auto"] / (trials // 4)
            if n >= 10 and caught < DETECT_TARGET:
                missed.append(f"{case} n={n}: auto detects {caught * 100:.0f} % of 6-spread drops")
    print()
    print(_stability(rng, trials))
    print()
    table, reachable = _frontier(rng, trials)
    print(
        "heavy tails: variants of the bound side by side (same draws per row; the default's "
        "centre and offset, another width)\n"
    )
    print(table)
    print()
    heavy = [m for m in missed if m.startswith("t3 ") and "false alarms" in m]
    if heavy and not reachable:
        print(
            "heavy tails out of reach: on t3's draws no variant above keeps false alarms within "
            "target at every n and catches >= 95 % of 6-spread drops at n = 10 and 30; reported, not "
            "failed: " + "; ".join(heavy)
        )
        missed = [m for m in missed if m not in heavy]
    print("targets met" if not missed else "MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
