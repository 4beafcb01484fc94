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

The cache lives in ``<git common dir>/mlci/cache/validate/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlci.adapters import dvc, git, tabular
from mlci.engine import datadiff
from mlci.engine.step import Findings, Run, StepOutcome
from mlci.model.config import Config, DataCheck
from mlci.model.data import DataEntry
from mlci.model.errors import ConfigError, MlciError
from mlci.model.result import Reason

CACHE_VERSION = 1


# --- planning: what each entry checks -------------------------------------------------


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


# --- hashing and the cache ---------------------------------------------------------------


class Cache:
    """JSON files under ``.git/mlci/cache/validate/``; a broken or foreign file is a miss."""

    def __init__(self, root: Path) -> None:
        self.dir = git.common_dir(root) / "mlci" / "cache" / "validate"
        self._hashes: dict[str, Any] | None = None
        self._dirty = False

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / f"{kind}-{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, kind: str, key: str, value: dict[str, Any]) -> None:
        self._write(self.dir / f"{kind}-{key}.json", value)

    def _write(self, file: Path, value: Any) -> None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(value, handle, allow_nan=True)
            os.replace(tmp, file)  # atomic: a parallel run sees the old file or the new one
        except OSError:
            pass  # a read-only .git only costs speed

    # content hashes: stat -> md5 for work-tree files (as DVC's state db does), blob -> md5
    @property
    def hashes(self) -> dict[str, Any]:
        if self._hashes is None:
            self._hashes = self.get("hashes", "v1") or {}
            self._hashes.setdefault("stat", {})
            self._hashes.setdefault("blob", {})
        return self._hashes

    def file_md5(self, file: Path) -> str:
        return self.file_hashes(file)[0]

    def file_blob(self, file: Path) -> str:
        """The git blob id the file would have: equal to a revision's blob means same content."""
        return self.file_hashes(file)[1]

    def file_hashes(self, file: Path) -> tuple[str, str]:
        """md5 and git blob id of a work-tree file, in one read, remembered by its stat."""
        st = file.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        known = self.hashes["stat"].get(str(file))
        if known and known[:3] == stamp and len(known) == 5:
            return known[3], known[4]
        md5 = hashlib.md5()
        blob = hashlib.sha1(b"blob %d\0" % st.st_size)  # noqa: S324 - git's object id, not security
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                md5.update(chunk)
                blob.update(chunk)
        hashes = md5.hexdigest(), blob.hexdigest()
        self.hashes["stat"][str(file)] = [*stamp, *hashes]
        self._dirty = True
        return hashes

    def blob_md5(self, blob: str, fetch: Any) -> str | None:
        """The md5 of a git blob: remembered, else hashed from the file ``fetch()`` writes."""
        known = self.hashes["blob"].get(blob)
        if known:
            return known
        file = fetch()
        if file is None:
            return None
        digest = hashlib.md5()
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        md5 = digest.hexdigest()
        self.hashes["blob"][blob] = md5
        self._dirty = True
        return md5

    def flush(self) -> None:
        if self._dirty and self._hashes is not None:
            self._write(self.dir / "hashes-v1.json", self._hashes)
            self._dirty = False


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _key(*parts: Any) -> str:
    return hashlib.sha256(_canonical(parts).encode()).hexdigest()[:40]


def md5_at(root: Path, rev: str, path: str, cache: Cache, reader: _Reader) -> str | None:
    """Content hash of ``path`` at ``rev`` without reading it where DVC or git already know it."""
    if rev == dvc.WORKSPACE:
        file = root / path
        return cache.file_md5(file) if file.is_file() else None
    recorded = dvc.recorded_md5(root, rev, path) if dvc.is_dvc_repo(root) else None
    if recorded:
        return recorded
    blob = git.blob_id(rev, path, root)
    if blob:
        # the copy is kept: if the data is needed, it is read from there
        return cache.blob_md5(blob, lambda: reader.fetch(root, rev, path))
    if dvc.is_dvc_repo(root):  # e.g. a file inside a DVC-tracked directory
        # its directory's manifest in the local cache first: opening DVC at a revision costs more
        return dvc.recorded_dir_member_md5(root, rev, path) or dvc.tracked_md5(root, rev, path)
    return None


# --- reading data ---------------------------------------------------------------------


class _Reader:
    """Reads a data file for one engine; the Spark session is started on first use."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._session: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def session(self) -> Any:
        if self._session is None:
            from mlci.adapters import gx

            self._session = gx.spark_session(self.cfg.spark.master, dict(self.cfg.spark.conf))
        return self._session

    def fetch(self, root: Path, rev: str, path: str) -> Path | None:
        """The file at ``rev`` on disk: the work tree's, or a temporary copy from git or DVC."""
        if rev == dvc.WORKSPACE:
            file = root / path
            return file if file.is_file() else None
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mlci-data-")
        dest = Path(self._tmp.name) / rev / path
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        blob = git.blob_id(rev, path, root)
        if blob:
            git.copy_blob(blob, dest, root)  # streamed: large files stay out of memory
            return dest
        if dvc.is_dvc_repo(root) and dvc.copy_file_at(root, rev, path, dest):
            return dest
        return None

    def read(self, p: Plan, file: Path, cfg_path: str | None) -> Any:
        try:
            if p.check.engine == "spark":
                # cached: GX's metrics and the profile each scan the data
                return tabular.read_spark(self.session(), file, p.format, p.check.read).cache()
            return tabular.read_pandas(file, p.format, p.check.read)
        except TypeError as exc:  # an option the reader does not take
            raise ConfigError(
                f"reader option not accepted: {exc}",
                file=cfg_path,
                line=p.check.line,
                key=f"{p.where}.read",
            ) from exc

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


# --- results ----------------------------------------------------------------------------


def _base_entry(p: Plan) -> dict[str, Any]:
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


def _validate_entry(p: Plan, frame: Any) -> dict[str, Any]:
    from mlci.adapters import gx

    entry = _base_entry(p)
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


# --- the step ---------------------------------------------------------------------------


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
    reader = _Reader(cfg)
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
    reader: _Reader,
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
            p.entry = {**_base_entry(p), "status": "error", "success": False, "message": str(exc)}
            continue
        if p.md5 is None:
            p.entry = {
                **_base_entry(p),
                "status": "missing",
                "success": False,
                "message": f"{p.path} does not exist in {head_name}",
            }
            continue
        p.cache_key = _key(
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
        p.entry["diff"] = _diff(
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
    reader: _Reader,
    *,
    head_rev: str,
    head_name: str,
) -> None:
    try:
        source = reader.fetch(root, head_rev, p.path)
    except MlciError as exc:
        p.entry = {**_base_entry(p), "status": "error", "success": False, "message": str(exc)}
        return
    if source is None:
        p.entry = {
            **_base_entry(p),
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
            **_base_entry(p),
            "status": "error",
            "success": False,
            "message": f"cannot read {p.path} as {p.format}: {_first_line(exc)}",
        }
        return
    try:
        p.entry = _validate_entry(p, p.frame)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a Spark job that failed: say so, go on
        p.entry = {
            **_base_entry(p),
            "status": "error",
            "success": False,
            "message": f"Great Expectations could not validate {p.path}: {_first_line(exc)}",
        }
        return
    cache.put("result", p.cache_key or "", {**p.entry, "cached": False})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _profile(p: Plan, frame: Any) -> dict[str, Any]:
    if p.check.engine == "spark":
        return datadiff.profile_spark(frame)
    return datadiff.profile_pandas(frame)


def _diff(
    p: Plan,
    root: Path,
    cfg: Config,
    cache: Cache,
    reader: _Reader,
    *,
    head_rev: str,
    base_rev: str | None,
    base_name: str,
) -> dict[str, Any]:
    assert p.entry is not None
    max_psi = p.check.drift.get("max_psi")
    if base_rev is None:
        return {"status": "no_base", "message": "no base revision"}
    if p.md5 is None or p.entry["status"] in ("missing", "error"):
        return {"status": "skipped", "message": "no head data to compare"}
    rows = p.entry["statistics"]["rows"]
    unchanged = {
        "status": "unchanged",
        "message": "unchanged",
        "rows": {"base": rows, "head": rows, "delta": 0},
    }
    base_blob = git.blob_id(base_rev, p.path, root)
    if base_blob is not None:  # in git at the base: compare object ids, no content read
        head_file = root / p.path
        head_blob = (
            (cache.file_blob(head_file) if head_file.is_file() else None)
            if head_rev == dvc.WORKSPACE
            else git.blob_id(head_rev, p.path, root)
        )
        if head_blob == base_blob:
            return unchanged
    try:
        base_md5 = md5_at(root, base_rev, p.path, cache, reader)
    except MlciError as exc:
        return {"status": "unavailable", "message": f"base data unavailable: {_first_line(exc)}"}
    if base_md5 is None:
        return {"status": "no_base", "message": f"{p.path} does not exist in {base_name}"}
    if base_md5 == p.md5:
        return unchanged
    profile_key = (
        CACHE_VERSION,
        "profile",
        datadiff.PROFILE_VERSION,
        p.format,
        p.check.read,
        p.check.engine,
    )

    def profile_of(md5: str, rev: str) -> dict[str, Any] | None:
        key = _key(*profile_key, md5)
        known = cache.get("profile", key)
        if known is not None:
            return known
        frame = p.frame if rev == head_rev and p.frame is not None else None
        if frame is None:
            source = reader.fetch(root, rev, p.path)
            if source is None:
                return None
            frame = reader.read(p, source, cfg.path)
        prof = _profile(p, frame)
        cache.put("profile", key, prof)
        return prof

    try:
        head_profile = profile_of(p.md5, head_rev)
        base_profile = profile_of(base_md5, base_rev)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - unreadable base data is stated, not fatal
        return {
            "status": "unavailable",
            "message": f"cannot read {p.path} at {base_name}: {_first_line(exc)}",
        }
    if head_profile is None or base_profile is None:
        return {"status": "unavailable", "message": f"base data unavailable in {base_name}"}
    result = datadiff.diff(base_profile, head_profile, max_psi=max_psi)
    result["message"] = None
    return result
