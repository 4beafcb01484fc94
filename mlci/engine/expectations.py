"""What each ``data:`` entry checks and the running of its expectations with Great Expectations.

:func:`plan` gathers every entry's path, format and expectations (inline
``expect:`` and the ``suite:`` file); :func:`check_expectations` has GX check
every expectation name and its arguments before any data is read;
:func:`validate_entry` runs them on a frame. GX is imported only by the last two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlci.adapters import tabular
from mlci.model.config import Config, DataCheck
from mlci.model.errors import ConfigError


@dataclass(frozen=True)
class Expect:
    type: str
    kwargs: dict[str, Any]
    file: str | None  # where it is written, for config errors
    line: int | None
    key: str


@dataclass
class Plan:
    index: int
    check: DataCheck
    path: str  # repo-relative, posix
    format: str
    expectations: list[Expect]
    md5: str | None = None
    cache_key: str | None = None
    entry: dict[str, Any] | None = None  # the validation result, once known
    frame: Any = None  # the head data, while it is in memory

    @property
    def where(self) -> str:
        return f"data[{self.index}]"


def _rel_path(raw: str, root: Path, cfg: Config, key: str, line: int | None) -> str:
    path = PurePosixPath(raw.replace("\\", "/"))
    if path.is_absolute():
        try:
            path = PurePosixPath(Path(raw).resolve().relative_to(root.resolve()).as_posix())
        except ValueError as exc:
            raise ConfigError(
                "the path must be inside the repository", file=cfg.path, line=line, key=key
            ) from exc
    if ".." in path.parts:
        raise ConfigError(
            "the path must be inside the repository (no '..')", file=cfg.path, line=line, key=key
        )
    return path.as_posix()


def _suite_expectations(check: DataCheck, where: str, root: Path, cfg: Config) -> list[Expect]:
    assert check.suite is not None
    rel = _rel_path(check.suite, root, cfg, f"{where}.suite", check.line)
    file = root / rel
    if not file.is_file():
        raise ConfigError(
            f"suite file not found: {rel}", file=cfg.path, line=check.line, key=f"{where}.suite"
        )
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON suite file: {exc}", file=rel) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
        raise ConfigError("a GX suite needs an 'expectations' list", file=rel)
    out = []
    for j, item in enumerate(doc["expectations"]):
        key = f"expectations[{j}]"
        if not isinstance(item, dict):
            raise ConfigError("expected {type, kwargs}", file=rel, key=key)
        type_ = item.get("type", item.get("expectation_type"))  # GX 0.x wrote expectation_type
        kwargs = item.get("kwargs", {})
        if not isinstance(type_, str):
            raise ConfigError("missing expectation type", file=rel, key=f"{key}.type")
        if not isinstance(kwargs, dict):
            raise ConfigError("kwargs must be a mapping", file=rel, key=f"{key}.kwargs")
        out.append(Expect(type_, kwargs, rel, None, key))
    return out


def plan(cfg: Config, root: Path) -> list[Plan]:
    """Gather each entry's path, format and expectations; config mistakes raise ConfigError."""
    plans = []
    for i, check in enumerate(cfg.data):
        where = f"data[{i}]"
        path = _rel_path(check.path, root, cfg, f"{where}.path", check.line)
        fmt_name = check.format or tabular.format_for(path)
        if fmt_name is None:
            names = list(tabular.FORMATS)
            raise ConfigError(
                f"cannot tell the format of '{path}' from its suffix; set format: "
                f"{', '.join(names[:-1])} or {names[-1]}",
                file=cfg.path,
                line=check.line,
                key=f"{where}.format",
            )
        expectations = []
        if check.suite:
            expectations += _suite_expectations(check, where, root, cfg)
        for j, item in enumerate(check.expect):
            expectations.append(
                Expect(
                    item["type"],
                    dict(item["kwargs"]),
                    cfg.path,
                    item.get("line"),
                    f"{where}.expect[{j}]",
                )
            )
        plans.append(Plan(i, check, path, fmt_name, expectations))
    return plans


def check_expectations(plans: list[Plan]) -> None:
    """Ask GX whether every expectation exists and takes these arguments (imports GX)."""
    from mlci.adapters import gx

    for p in plans:
        for exp in p.expectations:
            problem = gx.config_problem(exp.type, exp.kwargs)
            if problem:
                raise ConfigError(problem, file=exp.file, line=exp.line, key=exp.key)


def base_entry(p: Plan) -> dict[str, Any]:
    return {
        "path": p.path,
        "format": p.format,
        "engine": p.check.engine,
        "severity": p.check.severity,
        "suite": p.check.suite,
        "status": "passed",
        "success": True,
        "message": None,
        "statistics": {
            "rows": None,
            "columns": None,
            "evaluated": len(p.expectations),
            "successful": 0,
        },
        "expectations": [],
        "diff": {"status": "skipped"},
        "cached": False,
    }


def validate_entry(p: Plan, frame: Any) -> dict[str, Any]:
    from mlci.adapters import gx

    entry = base_entry(p)
    if p.check.engine == "spark":
        rows, columns = frame.count(), len(frame.columns)
    else:
        rows, columns = int(len(frame)), int(len(frame.columns))
    results = (
        gx.validate(
            frame,
            [{"type": e.type, "kwargs": e.kwargs} for e in p.expectations],
            engine=p.check.engine,
        )
        if p.expectations
        else []
    )
    success = all(r["success"] for r in results)
    entry.update(
        status="passed" if success else "failed",
        success=success,
        expectations=results,
        statistics={
            "rows": rows,
            "columns": columns,
            "evaluated": len(results),
            "successful": sum(1 for r in results if r["success"]),
        },
    )
    return entry
