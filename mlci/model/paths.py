"""Paths as a report shows them: slash-separated, joined with one slash.

A ``dvc.yaml`` may write ``./src/train.py`` or ``eval/`` and DVC records them
so in ``dvc.lock``; a project's folder is joined to paths inside it. Every
path mlci prints, records or matches goes through :func:`clean_path` or
:func:`join_path`, so that ``eval/``, ``./eval`` and ``eval`` are one path and none
is shown with a ``./``, a doubled slash or a trailing slash.
"""

from __future__ import annotations


def clean_path(path: str) -> str:
    """``path`` without ``.`` segments, empty segments or a trailing slash (``..`` is kept).

    ``"./eval/"`` -> ``"eval"``, ``"a//b"`` -> ``"a/b"``; an absolute path stays
    absolute; a path that names the folder itself (``"."``, ``"./"``) is ``"."``.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    lead = "/" if path.startswith("/") else ""
    return lead + "/".join(parts) or "."


def join_path(*parts: str) -> str:
    """The parts joined with one slash each, as :func:`clean_path` shows them (``"."`` parts drop)."""
    return clean_path("/".join(p for p in parts if p))
