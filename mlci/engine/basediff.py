"""A ``data:`` entry against the base revision: equal content first (git blob ids, md5s), else the
profiles of both sides (cached by content hash) compared by :func:`mlci.engine.datadiff.diff`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlci.adapters import dvc, git
from mlci.engine import datacache, datadiff
from mlci.engine.datacache import Cache
from mlci.engine.dataread import Reader, first_line, md5_at
from mlci.engine.expectations import Plan
from mlci.model.config import Config
from mlci.model.errors import ConfigError, MlciError


def _profile(p: Plan, frame: Any) -> dict[str, Any]:
    if p.check.engine == "spark":
        return datadiff.profile_spark(frame)
    return datadiff.profile_pandas(frame)


def diff_entry(
    p: Plan,
    root: Path,
    cfg: Config,
    cache: Cache,
    reader: Reader,
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
        return {"status": "unavailable", "message": f"base data unavailable: {first_line(exc)}"}
    if base_md5 is None:
        return {"status": "no_base", "message": f"{p.path} does not exist in {base_name}"}
    if base_md5 == p.md5:
        return unchanged
    profile_key = (
        datacache.CACHE_VERSION,
        "profile",
        datadiff.PROFILE_VERSION,
        p.format,
        p.check.read,
        p.check.engine,
    )

    def profile_of(md5: str, rev: str) -> dict[str, Any] | None:
        key = datacache.key(*profile_key, md5)
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
            "message": f"cannot read {p.path} at {base_name}: {first_line(exc)}",
        }
    if head_profile is None or base_profile is None:
        return {"status": "unavailable", "message": f"base data unavailable in {base_name}"}
    result = datadiff.diff(base_profile, head_profile, max_psi=max_psi)
    result["message"] = None
    return result
