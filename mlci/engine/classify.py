"""Metric keys and the rules proposed for them: which keys are gated, in which direction, how hard.

:func:`rule_groups` turns the metric files found in a repository (their keys
and current values) into the rules ``mlci init`` writes: one group per file (or
per foreach/matrix stage, as a glob), and one rule per key for a key found in
several files. A key's direction comes from its words (:func:`guess_direction`);
counters (:func:`is_bookkeeping`) get no rule, timings (:func:`is_timing`) warn.
How hard a rule is depends on the metric: a score bounded in [0, 1]
(:func:`is_bounded_score`: accuracy, AUC, F1, precision, recall, average
precision) by an absolute tolerance, since ten percent of an AUC of 0.988 is
most of the distance to a coin toss; anything else by a percentage of the base;
``auto`` (the recorded noise, with these as the fallback) when the clone holds a
history; a train-split metric (:func:`is_train_split`) is reported, not gated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from mlci.model.fmt import plural

# The rules init writes fail on a regression of more than this percentage of the base value:
# the gate closes on a large drop (a 71 % fall of accuracy is not a warning), while run-to-run
# noise of a few percent passes. Timings get the same tolerance but only warn: they measure
# the runner as much as the change.
DEFAULT_MAX_REGRESSION_PCT = 10
# a score bounded in [0, 1] may fall this much (absolute): 0.988 -> 0.978 passes, -> 0.948 fails
DEFAULT_MAX_REGRESSION_SCORE = 0.01
# words of a score bounded in [0, 1] where higher is better
SCORE_WORDS = (
    "accuracy",
    "acc",
    "auc",
    "roc",
    "rocauc",
    "roc_auc",
    "f1",
    "fscore",
    "precision",
    "recall",
    "ap",
    "map",
    "sensitivity",
    "specificity",
    "balanced",
)
# the words of a metric measured on the training split: how well the model fits, not generalises
TRAIN_WORDS = ("train", "training")
# keys that count progress rather than measure quality (dvclive writes `step`): no rule
BOOKKEEPING = ("step", "steps", "epoch", "epochs", "iteration", "iterations", "timestamp")
TIMING = ("time", "times", "duration", "latency", "seconds", "secs", "sec", "ms")
# a metric whose name has one of these words is better when lower
LOWER_IS_BETTER = (
    "loss",
    "error",
    "err",
    "latency",
    "mae",
    "mse",
    "rmse",
    "mape",
    "time",
    "duration",
    "perplexity",
)


def guess_direction(key: str) -> str:
    """``lower`` when a word of the name says smaller is better (``log_loss``, ``latency_ms``)."""
    for word in _words(key):
        if (
            word in LOWER_IS_BETTER
            or word.removesuffix("s") in LOWER_IS_BETTER
            or word.endswith(("loss", "error", "errors", "time"))
        ):
            return "lower"
    return "higher"


def _words(key: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", key.lower()) if w]


def is_bookkeeping(key: str) -> bool:
    """``step``, ``epoch``: counters, not quality; init writes no rule for them."""
    return key.rsplit(".", 1)[-1].lower() in BOOKKEEPING


def is_timing(key: str) -> bool:
    """``train_time``, ``latency_ms``: a property of the runner as much as of the change."""
    return any(w in TIMING or w.endswith("time") for w in _words(key))


def is_bounded_score(key: str, values: list[Any]) -> bool:
    """Accuracy, AUC, F1, precision, recall, average precision: a word says so, and every
    value lies in [0, 1] (a percentage 0-100 is not gated by an absolute 0.01)."""
    words = _words(key)
    named = any(w in SCORE_WORDS for w in words) or "average_precision" in key.lower()
    return (
        named
        and guess_direction(key) == "higher"
        and all(isinstance(v, int | float) and 0 <= v <= 1 for v in values)
    )


def is_train_split(key: str, path: str = "") -> bool:
    """``train.accuracy``, ``train_loss``, ``metrics/train.json``: measured on the training split.

    A timing (``train_time``) is not: it measures the run, not the fit.
    """
    if is_timing(key):
        return False
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return any(w in TRAIN_WORDS for w in _words(key) + _words(stem))


@dataclass(frozen=True)
class MetricKey:
    key: str
    value: Any
    direction: str


@dataclass
class MetricFile:
    path: str
    stage: str | None
    keys: list[MetricKey] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class Rule:
    """One rule init writes, with what the comment beside it says."""

    name: str
    direction: str
    severity: str
    max_regression_pct: float | str | None  # percent of the base, or "auto"
    now: str | None  # the current value(s), for the comment
    bound: float | None  # the current value, offered as a commented min/max
    max_regression: float | str | None = None  # in the metric's unit, or "auto"
    fallback: float | None = None  # the limit of an `auto` rule while the history is short
    why: str = ""  # why the rule is what it is, written above it
    gated: bool = True  # False: reported only (written commented out)


@dataclass
class RuleGroup:
    """The rules of one metric file, one foreach/matrix stage, or keys shared by several files."""

    title: str
    rules: list[Rule] = field(default_factory=list)
    note: str | None = None  # why there are no rules (not reproduced yet, unreadable)
    pattern: str | None = None  # the file pattern, offered as a commented catch-all


# --- the rules ------------------------------------------------------------------


def glob_escape(text: str) -> str:
    """``text`` as an fnmatch pattern that matches only itself."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _common_prefix(items: list[str]) -> str:
    first, last = min(items), max(items)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def _vary(items: list[str]) -> str:
    """One pattern for strings that differ in one place: common prefix, ``*``, common suffix."""
    prefix = _common_prefix(items)
    rest = [i[len(prefix) :] for i in items]
    suffix = _common_prefix([r[::-1] for r in rest])[::-1]
    return glob_escape(prefix) + "*" + glob_escape(suffix)


def _stage_glob(paths: list[str], keys: list[str]) -> str | None:
    """A pattern for the metric files of one foreach/matrix stage, so a new item is gated too.

    Path segments that differ between items become ``*`` (keeping what they share, as in
    ``model_*.json``); with a single item, its foreach key in the path does.
    """
    if len(paths) == 1:
        (path,), (key,) = paths, keys
        if not key or key not in path:
            return None
        return "*".join(glob_escape(part) for part in path.split(key))
    split = [p.split("/") for p in paths]
    if len({len(s) for s in split}) != 1:
        return _vary(paths)
    parts = []
    for column in zip(*split, strict=False):
        parts.append(glob_escape(column[0]) if len(set(column)) == 1 else _vary(list(column)))
    return "/".join(parts)


@dataclass
class _Source:
    """Metric files judged together: one file, or the files of one foreach/matrix stage."""

    title: str
    pattern: str  # fnmatch pattern of the file part of the names
    files: list[MetricFile]


def _sources(files: list[MetricFile]) -> list[_Source]:
    stages: dict[str, list[MetricFile]] = {}
    for f in files:
        if f.stage and "@" in f.stage:
            stages.setdefault(f.stage.rsplit("@", 1)[0], []).append(f)
    sources: list[_Source] = []
    grouped: set[str] = set()
    for stage, members in stages.items():
        keys = [m.stage.rsplit("@", 1)[1] for m in members if m.stage]
        pattern = _stage_glob([m.path for m in members], keys)
        others = [f.path for f in files if f not in members]
        # the pattern must cover its own files and no other metric file
        if (
            pattern
            and all(fnmatchcase(m.path, pattern) for m in members)
            and not any(fnmatchcase(o, pattern) for o in others)
        ):
            title = f"{pattern} (stage {stage}: {plural(len(members), 'item')})"
            sources.append(_Source(title, pattern, members))
            grouped.update(m.path for m in members)
    for f in files:
        if f.path not in grouped:
            title = f.path + (f" (stage {f.stage})" if f.stage else "")
            sources.append(_Source(title, glob_escape(f.path), [f]))
    order = {f.path: i for i, f in enumerate(files)}
    return sorted(sources, key=lambda s: min(order[f.path] for f in s.files))


def _rule(name: str, key: str, values: list[Any], path: str = "", history: bool = False) -> Rule:
    direction = guess_direction(key)
    numbers = sorted(values)
    if len(numbers) == 1:
        now, bound = _number_text(numbers[0]), numbers[0]
    else:
        now = f"{_number_text(numbers[0])} to {_number_text(numbers[-1])} in {len(numbers)} files"
        bound = numbers[0] if direction == "higher" else numbers[-1]  # the loosest bound that holds
    timing = is_timing(key)
    severity = "warn" if timing else "fail"
    auto = (
        "; auto: the bound the runs recorded on the base branch allow (this clone holds a "
        "history), this fallback until there are enough of them: "
    )
    if is_train_split(key, path):
        return Rule(
            name,
            direction,
            "fail",
            DEFAULT_MAX_REGRESSION_PCT,
            now,
            None,
            why="measured on the training split: how well the model fits, not how well it "
            "generalises; reported, not gated (uncomment to gate it)",
            gated=False,
        )
    if not timing and is_bounded_score(key, values):
        limit = DEFAULT_MAX_REGRESSION_SCORE
        why = (
            f"a score in [0, 1], higher is better: it may fall by {limit} (absolute: "
            "10 % of an AUC of 0.99 would let it fall to 0.89)"
        )
        if history:
            return Rule(
                name,
                direction,
                severity,
                None,
                now,
                bound,
                "auto",
                limit,
                why + auto + str(limit),
            )
        return Rule(name, direction, severity, None, now, bound, limit, None, why)
    pct = DEFAULT_MAX_REGRESSION_PCT
    if timing:
        why = "a timing: it depends on the runner as much as on the change, so it only warns"
    elif direction == "lower":
        why = "a loss or an error: lower is better"
    else:
        why = "higher is better (from its name)"
    why += f"; it may worsen by {pct} % of its base value"
    if history:
        return Rule(
            name,
            direction,
            severity,
            "auto",
            now,
            bound,
            None,
            pct,
            why + auto + f"{pct} %",
        )
    return Rule(name, direction, severity, pct, now, bound, None, None, why)


def _number_text(value: float) -> str:
    return f"{value:.6g}"


def rule_groups(files: list[MetricFile], history: bool = False) -> list[RuleGroup]:
    """The rules init proposes: per file (or per foreach stage, as a glob), and one rule per key
    for a key found in several of them, so no metric is gated twice or by diverging rules."""
    sources = _sources(files)
    seen_in: dict[str, list[int]] = {}
    for i, source in enumerate(sources):
        for key in dict.fromkeys(k.key for f in source.files for k in f.keys):
            seen_in.setdefault(key, []).append(i)
    shared = [
        k
        for k, where in seen_in.items()
        if len(where) > 1 and ":" not in k and not is_bookkeeping(k)
    ]

    def values(key: str, among: list[MetricFile]) -> list[Any]:
        return [k.value for f in among for k in f.keys if k.key == key]

    groups: list[RuleGroup] = []
    for source in sources:
        group = RuleGroup(source.title, pattern=source.pattern + ":*")
        keys = dict.fromkeys(k.key for f in source.files for k in f.keys)
        for key in keys:
            if key in shared or is_bookkeeping(key):
                continue
            name = f"{source.pattern}:{glob_escape(key)}"
            group.rules.append(
                _rule(name, key, values(key, source.files), source.files[0].path, history)
            )
        if not keys:
            problems = [f.error for f in source.files if f.error]
            group.note = (
                f"cannot read it ({problems[0]}): no rules written"
                if problems
                else "not in the work tree yet: run `dvc repro`, then `mlci init --force` "
                "to list its keys"
            )
        else:
            group.pattern = None  # its keys are known: no catch-all to offer
            if not group.rules:
                gated = [k for k in keys if k in shared]
                group.note = (
                    f"{', '.join(gated)}: gated by the rules for keys found in several files"
                    if gated
                    else "only counters (step, epoch): nothing to gate"
                )
        groups.append(group)
    if shared:
        group = RuleGroup("keys found in several metric files: one rule each, for every file")
        for key in shared:
            group.rules.append(_rule(glob_escape(key), key, values(key, files), "", history))
        groups.append(group)
    return groups
