"""``mlci sweep``: a grid of params run as DVC experiments, each judged like a check.

The grid is the product of the ``-S PARAM=V1,V2`` lists (at most
``sweep.max_experiments`` points, else a usage error: a grid is never truncated).
The DVC remote is pulled once, as ``check`` pulls (the run-cache included), then
each point runs as ``dvc exp run --temp --set-param ...`` one after the other in a
temporary copy, so the work tree, ``params.yaml`` and ``dvc.lock`` stay as they
were. Each experiment's commit is then checked against the base by
:func:`mlci.engine.check.run_check` without reproduction: the same steps, the same
rules (``auto`` limits included) and the same gate. One experiment's failure is its
row, not the end of the sweep.

The result is the head's own check (``--no-repro``) with ``experiments`` (one per
grid point) and ``best``: among the experiments that pass, the one with the
best value of ``sweep.objective`` by the direction of the rule that judged it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlci.adapters import dvc
from mlci.engine import compare, project
from mlci.engine.step import CheckOptions, Findings
from mlci.model import yamlread
from mlci.model.config import Config, MetricRule
from mlci.model.errors import ConfigError
from mlci.model.result import EventRevisions, Experiment, Reason, Result

DEFAULT_PARAMS_FILE = "params.yaml"  # DVC's default params file, as --set-param assumes


@dataclass(frozen=True)
class GridParam:
    """One ``-S`` option: a param (``params.yaml:train.C``) and the values to try."""

    file: str
    key: str
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        """As the result names params: ``params.yaml:train.C``."""
        return f"{self.file}:{self.key}"


def parse_grid(specs: Sequence[str]) -> list[GridParam]:
    """``["train.C=0.01,0.1"]`` into grid params; a malformed one is a usage error."""
    if not specs:
        raise ConfigError("give the grid: -S PARAM=V1,V2 (e.g. -S train.C=0.01,0.1,1)")
    out: list[GridParam] = []
    for spec in specs:
        left, eq, right = spec.partition("=")
        left = left.strip()
        values = tuple(v.strip() for v in right.split(","))
        if not eq or not left or not all(values):
            raise ConfigError(
                f"cannot read the grid '{spec}': write PARAM=V1,V2 (e.g. train.C=0.01,0.1,1)"
            )
        file, colon, key = left.rpartition(":")
        param = GridParam(file if colon else DEFAULT_PARAMS_FILE, key, tuple(dict.fromkeys(values)))
        if any(p.name == param.name for p in out):
            raise ConfigError(f"the grid names {param.name} twice")
        out.append(param)
    return out


def points(grid: Sequence[GridParam], limit: int) -> list[tuple[tuple[GridParam, str], ...]]:
    """Every combination of the grid's values, in order; more than ``limit`` is refused."""
    size = math.prod(len(p.values) for p in grid)
    if size > limit:
        raise ConfigError(
            f"the grid has {size} experiments, more than sweep.max_experiments ({limit}): "
            "give fewer values or raise the limit in mlci.yaml",
            key="sweep.max_experiments",
        )
    return [
        tuple(zip(grid, combo, strict=True))
        for combo in itertools.product(*(p.values for p in grid))
    ]


def _value(text: str) -> Any:
    """The value as the params file will hold it (``0.1`` a number, ``true`` a boolean)."""
    try:
        return yamlread.load(text, max_bytes=4096)
    except yamlread.YamlRefused:
        return text


def run_sweep(
    opts: CheckOptions,
    specs: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    event: EventRevisions | None = None,
    context: Any = None,
    say: Callable[[str], None] = lambda _line: None,
) -> tuple[Result, Config]:
    """``mlci sweep``: the head's check without reproduction, with the grid's experiments.

    ``say`` gets one line per experiment (progress for the log).
    """
    from mlci.engine.check import run_check

    found, cfg = project.load_config(opts.cwd, opts.config_path)
    points(parse_grid(specs), cfg.sweep.max_experiments)  # a bad grid is refused before any work
    # the head as it is, judged without reproduction: the row every experiment is read against
    head_opts = dataclasses.replace(opts, repro=False, head=None, commit=False)
    head_result, cfg = run_check(head_opts, env, context=context, event=event, cfg=cfg)
    result = with_experiments(
        head_result, cfg, found.root, specs, opts, env, event=event, context=context, say=say
    )
    return result, cfg


def with_experiments(
    result: Result,
    cfg: Config,
    root: Any,
    specs: Sequence[str],
    opts: CheckOptions,
    env: Mapping[str, str] | None = None,
    *,
    event: EventRevisions | None = None,
    context: Any = None,
    say: Callable[[str], None] = lambda _line: None,
) -> Result:
    """``result`` with the experiments of the grid ``specs`` and the best of them.

    Each experiment is checked like ``mlci check --no-repro --head <its commit>``.
    """
    from mlci.engine.check import run_check

    combos = points(parse_grid(specs), cfg.sweep.max_experiments)
    notes = list(_pull(root, cfg))
    exp_opts = dataclasses.replace(opts, repro=False, head=None, commit=False)
    experiments: list[Experiment] = []
    for i, combo in enumerate(combos, start=1):
        name = experiment_name(i)
        params = {p.name: _value(v) for p, v in combo}
        shown = " ".join(f"{p.key}={v}" for p, v in combo)
        say(f"mlci: sweep {i}/{len(combos)}: {name} ({shown}): running")
        ran = dvc.run_experiment(
            root,
            name,
            [f"{p.name}={v}" for p, v in combo],
            targets=cfg.repro.targets,
            run_cache=getattr(cfg.repro, "run_cache", True),  # repro.run_cache (issue 24)
            verbose=opts.verbose,
        )
        if ran.sha is None:
            why = ran.error or "unknown"
            experiments.append(
                Experiment(
                    name,
                    params,
                    "fail",
                    reasons=(Reason("repro", "fail", f"the experiment did not finish: {why}"),),
                )
            )
            say(f"mlci: sweep {i}/{len(combos)}: {name}: failed: {why}")
            continue
        judged, _ = run_check(
            dataclasses.replace(exp_opts, head=ran.sha), env, context=context, event=event, cfg=cfg
        )
        experiments.append(
            Experiment(name, params, judged.verdict, judged.metrics, judged.reasons, ran.sha)
        )
        say(f"mlci: sweep {i}/{len(combos)}: {name}: {judged.verdict}")
    best, said = best_experiment(experiments, cfg.sweep.objective)
    return dataclasses.replace(
        result,
        experiments=tuple(experiments),
        best=best,
        notes=(*result.notes, *notes, *said),
    )


def experiment_name(index: int) -> str:
    """The grid's ``index``-th point (from 1), the same in every run of the same grid:
    ``/mlci adopt`` finds an experiment's params from the grid and its name alone."""
    return f"sweep-{index}"


def params_of(specs: Sequence[str], name: str, limit: int) -> list[str]:
    """The ``--set-param`` items of the experiment ``name`` of the grid ``specs``."""
    for i, combo in enumerate(points(parse_grid(specs), limit), start=1):
        if experiment_name(i) == name:
            return [f"{p.name}={v}" for p, v in combo]
    raise ConfigError(f"the sweep {' '.join(specs)} has no experiment {name}")


def _pull(root: Any, cfg: Config) -> tuple[str, ...]:
    """Fetch from the default remote (outputs and run-cache) once, as ``check`` does:
    every experiment shares this repository's cache."""
    if not cfg.repro.pull:
        return ()
    from mlci.engine.repro import pull_remote

    found = Findings()
    with dvc.open_repo(root) as repo:
        pull_remote(repo, cfg.repro, list(cfg.repro.targets), found)
    return (*found.notes, *(r.message for r in found.reasons))


def best_experiment(
    experiments: Sequence[Experiment], objective: str | None
) -> tuple[str | None, tuple[str, ...]]:
    """The name of the best experiment that passes by ``objective``, and what to say.

    The direction is the one of the rule that judged the metric; without one there is no best.
    """
    if not objective:
        return None, ()
    pattern = MetricRule(name=objective)
    scored: list[tuple[float, str]] = []
    direction: str | None = None
    for exp in experiments:
        metric = next((m for m in exp.metrics if compare.rule_matches(pattern, m.name)), None)
        if metric is None:
            continue
        direction = direction or (metric.rule or {}).get("direction")
        value = metric.head
        if exp.verdict != "pass" or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            scored.append((float(value), exp.name))
    if direction not in ("higher", "lower"):
        return None, (
            f"sweep.objective '{objective}': no rule with a direction judges it, so no "
            "experiment is marked best",
        )
    if not scored:
        return None, (f"no experiment that passes has a value of '{objective}'",)
    pick = max if direction == "higher" else min
    return pick(scored, key=lambda s: s[0])[1], ()
