"""The data step's cache: validation results and data profiles by content hash, and the content
hashes themselves.

JSON files under ``<git common dir>/mlci/cache/validate/``, written atomically;
a broken or foreign file is a miss, a read-only ``.git`` only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from mlci.adapters import git

CACHE_VERSION = 1


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


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def key(*parts: Any) -> str:
    return hashlib.sha256(canonical(parts).encode()).hexdigest()[:40]
