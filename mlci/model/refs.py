"""What may stand for a commit or a branch when an event payload or a file names one.

Such a name reaches ``git`` as an argument: a value starting with ``-`` would be an option
(``--upload-pack=...`` runs a program). mlci accepts a full hex sha for a commit and a name
``git check-ref-format`` would accept for a branch, and passes both after ``--end-of-options``.
"""

from __future__ import annotations

import re

# a commit or object name as an event or a file gives it: full hex only (sha-1 or sha-256)
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# what git's check-ref-format refuses in a ref name, and a leading "-" (an option to git)
_BAD_REF = re.compile(r"^-|\.\.|@\{|//|[\x00-\x20\x7f~^:?*\[\\]|\.lock$|^/|/$|\.$|^@$")


def is_sha(value: object) -> bool:
    """A full commit sha, nothing else (no option, no revision expression)."""
    return isinstance(value, str) and _SHA.fullmatch(value) is not None


def is_ref_name(value: object) -> bool:
    """A name git would accept for a branch (``git check-ref-format``), never an option."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 255
        and _BAD_REF.search(value) is None
        and not any(part.startswith(".") for part in value.split("/"))
    )
