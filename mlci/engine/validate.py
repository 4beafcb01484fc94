"""The data step: validate each ``data:`` entry with Great Expectations and diff it with the base.

Order of work, so that mistakes surface cheaply and unchanged data costs nothing:

1. every entry's expectations are gathered (inline ``expect:`` and the
   ``suite:`` file) and each file's content hash is taken;
2. entries whose result is in the cache are done: the cache key is the
   content hash (DVC's md5 where DVC recorded one), the expectations, the
   reader options, the engine and the GX version, so GX is not even imported;
3. for the rest, GX checks every expectation name and its arguments *before*
   any data is read (a mistake is a config error, exit 2, with the key path);
4. files are read (pandas, or Spark for ``engine: spark``) and validated;
5. the diff against the base compares cached profiles of both sides
   (:mod:`mlci.datadiff`); the base file comes from git or DVC's cache or
   remote at the base revision, without a checkout.

The parts: :mod:`~mlci.engine.expectations` (what each entry checks, running
GX), :mod:`~mlci.engine.dataread` (hashing and reading a file at a revision),
:mod:`~mlci.engine.basediff` (the diff with the base, PSI in
:mod:`~mlci.engine.datadiff`) and :mod:`~mlci.engine.datacache` (the cache,
in ``<git common dir>/mlci/cache/validate/``). This module is the step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.engine import basediff
from mlci.engine.datacache import CACHE_VERSION, Cache, key
from mlci.engine.dataread import Reader, first_line, md5_at
from mlci.engine.expectations import Plan, base_entry, check_expectations, plan, validate_entry
from mlci.engine.step import Findings, Run, StepOutcome
from mlci.model.config import Config
from mlci.model.data import DataEntry
from mlci.model.errors import ConfigError, MlciError
from mlci.model.result import Reason


class DataStep:
    """Validate the ``data:`` entries at the head and diff them with the base.

    GX is imported only when a result is not cached. ``mlci validate`` is this
    step alone; it says so when the config has no ``data:`` entries
    (``say_when_empty``), where a check stays quiet.
    """

    def __init__(self, *, say_when_empty: bool = False) -> None:
        self.say_when_empty = say_when_empty

    def run(self, run: Run) -> StepOutcome:
        cfg, target = run.cfg, run.target
        if not cfg.data:
            if self.say_when_empty:
                return StepOutcome(notes=("no data: entries in the config: nothing to validate",))
            return StepOutcome()
        run.progress.step(f"Validating {len(cfg.data)} data file(s)")
        return validate_data(
            target.root,
            cfg,
            head_rev=target.head_rev,
            base_rev=target.base_sha,
            head_name=target.head_name,
            base_name=target.base_ref,
        )


def validate_data(
    root: Path,
    cfg: Config,
    *,
    head_rev: str,
    base_rev: str | None,
    head_name: str = "the work tree",
    base_name: str = "the base",
) -> StepOutcome:
    """Validate every ``data:`` entry at ``head_rev`` and diff it with ``base_rev``."""
    found = Findings()
    entries = []
    plans = plan(cfg, root)
    cache = Cache(root)
    reader = Reader(cfg)
    try:
        _validate_and_diff(
            plans,
            root,
            cfg,
            cache,
            reader,
            head_rev=head_rev,
            base_rev=base_rev,
            head_name=head_name,
            base_name=base_name,
        )
    finally:
        reader.close()
        cache.flush()

    config_file = cfg.repo_path(root)
    for p in plans:
        assert p.entry is not None
        entry = DataEntry.from_dict(p.entry)
        sev = p.check.severity
        where: dict[str, Any] = (
            {"file": config_file, "line": p.check.line} if config_file and p.check.line else {}
        )
        if entry.status in ("missing", "error"):
            found.reasons.append(Reason("data", sev, entry.message or entry.status, **where))
        for exp in entry.failed_expectations:
            found.reasons.append(
                Reason("data", sev, exp.message(p.path, entry.statistics.rows), **where)
            )
        d = entry.diff
        for name in d.drifted:
            found.reasons.append(
                Reason(
                    "data",
                    sev,
                    f"{p.path}: column {name} drifted from {base_name}: "
                    f"PSI {d.column(name)['psi']:.3f} > {d.max_psi_limit:g} (drift.max_psi)",
                    **where,
                )
            )
        entries.append(entry)
    return found.outcome(data=tuple(entries))


def _validate_and_diff(
    plans: list[Plan],
    root: Path,
    cfg: Config,
    cache: Cache,
    reader: Reader,
    *,
    head_rev: str,
    base_rev: str | None,
    head_name: str,
    base_name: str,
) -> None:
    from mlci.adapters import gx

    gx_version = gx.version()
    for p in plans:
        try:
            p.md5 = md5_at(root, head_rev, p.path, cache, reader)
        except MlciError as exc:
            p.entry = {**base_entry(p), "status": "error", "success": False, "message": str(exc)}
            continue
        if p.md5 is None:
            p.entry = {
                **base_entry(p),
                "status": "missing",
                "success": False,
                "message": f"{p.path} does not exist in {head_name}",
            }
            continue
        p.cache_key = key(
            CACHE_VERSION,
            "result",
            p.path,
            p.md5,
            p.format,
            p.check.read,
            p.check.engine,
            [[e.type, e.kwargs] for e in p.expectations],
            gx_version,
        )
        cached = cache.get("result", p.cache_key)
        if cached is not None:
            p.entry = {**cached, "severity": p.check.severity, "cached": True}

    unchecked = [p for p in plans if p.entry is None or not p.entry.get("cached")]
    if unchecked:
        check_expectations(unchecked)  # before any data is read
    for p in plans:  # one file at a time: a large frame goes before the next is read
        if p.entry is None:
            _read_and_validate(p, root, cfg, cache, reader, head_rev=head_rev, head_name=head_name)
        assert p.entry is not None
        p.entry["diff"] = basediff.diff_entry(
            p, root, cfg, cache, reader, head_rev=head_rev, base_rev=base_rev, base_name=base_name
        )
        if p.frame is not None and p.check.engine == "spark":
            p.frame.unpersist()
        p.frame = None


def _read_and_validate(
    p: Plan,
    root: Path,
    cfg: Config,
    cache: Cache,
    reader: Reader,
    *,
    head_rev: str,
    head_name: str,
) -> None:
    try:
        source = reader.fetch(root, head_rev, p.path)
    except MlciError as exc:
        p.entry = {**base_entry(p), "status": "error", "success": False, "message": str(exc)}
        return
    if source is None:
        p.entry = {
            **base_entry(p),
            "status": "missing",
            "success": False,
            "message": f"{p.path} does not exist in {head_name}",
        }
        return
    try:
        p.frame = reader.read(p, source, cfg.path)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parse error is a finding about the data
        p.entry = {
            **base_entry(p),
            "status": "error",
            "success": False,
            "message": f"cannot read {p.path} as {p.format}: {first_line(exc)}",
        }
        return
    try:
        p.entry = validate_entry(p, p.frame)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a Spark job that failed: say so, go on
        p.entry = {
            **base_entry(p),
            "status": "error",
            "success": False,
            "message": f"Great Expectations could not validate {p.path}: {first_line(exc)}",
        }
        return
    cache.put("result", p.cache_key or "", {**p.entry, "cached": False})
