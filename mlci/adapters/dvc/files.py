"""Data files at a revision, for validation and the data diff: recorded hashes (read
from the committed ``dvc.lock`` / ``.dvc`` files with git, without DVC where it can) and
a file's content from git or DVC's cache or remote, without a checkout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlci.adapters.dvc.repo import DvcError, describe, is_missing, quiet_dvc

# --- data files at a revision (for validation and the data diff) -----------------


def _lock_outs(text: bytes) -> Iterator[dict[str, Any]]:
    from mlci.model import yamlread

    try:
        doc = yamlread.load(text)  # bounded; the C parser where PyYAML has it
    except yamlread.YamlRefused:
        return
    if not isinstance(doc, dict):
        return
    stages = doc.get("stages") if "stages" in doc else None
    if isinstance(stages, dict):  # dvc.lock
        for stage in stages.values():
            for out in (stage or {}).get("outs", []) or []:
                if isinstance(out, dict):
                    yield out
    for out in doc.get("outs", []) or []:  # a .dvc file
        if isinstance(out, dict):
            yield out


def recorded_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 DVC recorded for the file ``path`` at ``rev`` (dvc.lock or ``path.dvc``).

    Read from the committed files with git, without importing DVC; None when
    DVC does not track this exact file (untracked, or inside a tracked directory).
    """
    from mlci.adapters import git

    candidates = [("dvc.lock", "")]
    parent = str(Path(path).parent.as_posix())
    candidates.append((f"{path}.dvc", "" if parent == "." else parent + "/"))
    for lock, prefix in candidates:
        text = git.show_file(rev, lock, root)
        if not text:
            continue
        for out in _lock_outs(text):
            out_path = prefix + str(out.get("path", ""))
            if (
                Path(out_path).as_posix() == path
                and isinstance(out.get("md5"), str)
                and not out["md5"].endswith(".dir")
            ):
                return out["md5"]
    return None


def recorded_dir_member_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 of ``path`` inside a directory output recorded in ``dvc.lock`` at ``rev``.

    Read from the directory's manifest (``<md5>.dir``) in the local cache, so that
    no DVC repository is opened for it; None when that cannot be told this way (no
    such output, a cache elsewhere than ``.dvc/cache``, the manifest not in the cache):
    the caller asks DVC then.
    """
    import json

    from mlci.adapters import git

    text = git.show_file(rev, "dvc.lock", root)
    if not text:
        return None
    for config in (root / ".dvc" / "config", root / ".dvc" / "config.local"):
        try:
            if "[cache]" in config.read_text(encoding="utf-8", errors="replace"):
                return None  # a configured cache (dir, type): let DVC find it
        except OSError:
            continue
    for out in _lock_outs(text):
        out_path = Path(str(out.get("path", ""))).as_posix().rstrip("/")
        md5 = out.get("md5")
        if not (isinstance(md5, str) and md5.endswith(".dir") and path.startswith(out_path + "/")):
            continue
        if out.get("hash") != "md5":  # DVC 2's layout: not worth a second reader
            return None
        manifest = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        try:
            entries = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        rel = path[len(out_path) + 1 :]
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("relpath") == rel:
                found = entry.get("md5")
                return found if isinstance(found, str) else None
        return None
    return None


@contextmanager
def _fs_at(root: Path, rev: str) -> Iterator[Any]:
    with quiet_dvc():
        from dvc.fs import DVCFileSystem

        try:
            fs = DVCFileSystem(repo=str(root), rev=rev)
        except Exception as exc:  # noqa: BLE001 - not a DVC repo at this rev, unknown rev
            raise DvcError(f"DVC cannot open {root} at {rev[:12]}: {describe(exc)}") from exc
        try:
            yield fs
        finally:
            fs.close()


def tracked_md5(root: Path, rev: str, path: str) -> str | None:
    """The md5 DVC knows for ``path`` at ``rev``, also inside a tracked directory; no data read."""
    with _fs_at(root, rev) as fs:
        try:
            info = fs.info(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            if is_missing(exc):
                return None
            raise DvcError(f"cannot look up {path} at {rev[:12]}: {describe(exc)}") from exc
    md5 = info.get("md5") if info.get("type") == "file" else None
    return md5 if isinstance(md5, str) and not md5.endswith(".dir") else None


def copy_file_at(root: Path, rev: str, path: str, dest: Path) -> bool:
    """Copy ``path`` at ``rev`` to ``dest`` from git or DVC's cache/remote; no checkout.

    False when the revision has no such file. Raises DvcError when DVC knows the
    file but cannot get its content (not in the cache, remote unreachable).
    """
    import shutil

    with _fs_at(root, rev) as fs:
        try:
            with fs.open(path, "rb") as handle, dest.open("wb") as out:
                shutil.copyfileobj(handle, out, 1 << 20)
            return True
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001 - missing from cache and remote, network
            if is_missing(exc):
                return False
            raise DvcError(f"cannot read {path} at {rev[:12]}: {describe(exc)}") from exc
