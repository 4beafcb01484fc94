"""Plots at base and head: from DVC's plot data to :class:`~mlci.result.Plot`, and their drawings.

:func:`build` turns what :mod:`mlci.dvc` read at each revision into plot
entries of the result (pure: no DVC here). Their drawings are the
report's (:mod:`mlci.report.charts`). A plot that cannot be drawn keeps its
place with the reason, so nothing disappears quietly.
"""

from __future__ import annotations

import base64
import hashlib
import math
import posixpath
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.model.paths import clean_path
from mlci.model.result import NotDrawable, Plot

MAX_STORED_POINTS = 500  # per series in the result file; the HTML report draws these
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")
IMAGE_TYPES = {
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
# Images up to this size travel in the result (base64) so the HTML report shows them side by side;
# a larger one is named with its size only, which keeps the result file small.
MAX_EMBEDDED_IMAGE = 1_000_000
LINE_TEMPLATES = ("linear", "simple", "smooth", "scatter", "scatter_jitter")
CONFUSION_TEMPLATES = ("confusion", "confusion_normalized")
BAR_TEMPLATES = ("bar_horizontal", "bar_horizontal_sorted")


# --- from DVC's data to the result --------------------------------------------------


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value) if math.isfinite(value) else None
        except OverflowError:  # an integer beyond a float's range cannot be drawn
            return None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def decimate(points: list[list[float]], limit: int) -> list[list[float]]:
    """At most ``limit`` points, evenly spaced by index, first and last kept."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


MAX_DRAWN = 1e300


NO_DATAPOINTS = (
    "DVC finds no data points in it: its data is not a list of records (rows with "
    "named fields), nor holds such lists under its keys"
)


@dataclass
class _Converted:
    """One plot at one revision after DVC's conversion: flat data points and the fields they use."""

    points: list[dict[str, Any]]
    x: str  # the field of each point that holds x (DVC's "step" when the plot has no x)
    y: str  # the field that holds y (DVC's "dvc_inferred_y_value" when files use different fields)
    x_label: str | None


def _convert(
    plot_id: str, props: dict[str, Any], side: _Side | None, rev: str
) -> _Converted | None:
    """The data files of one side through DVC's plot conversion; None when the side has no data."""
    from mlci.adapters import dvc

    if side is None:
        return None
    data = {
        path: content
        for path, content in side.files.items()
        if content is not None and not path.lower().endswith(IMAGE_SUFFIXES)
    }
    if not data:
        return None
    try:
        points, out = dvc.plot_datapoints(plot_id, props, data, rev)
    except dvc.PlotDataError as exc:
        raise NotDrawable(str(exc)) from exc
    if not points:
        raise NotDrawable(NO_DATAPOINTS)
    return _Converted(points, str(out.get("x")), str(out.get("y")), out.get("x_label"))


def _series(conv: _Converted | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Points grouped by (file, field): DVC draws each as its own line."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for point in conv.points if conv else ():
        key = (str(point.get("filename", "")), str(point.get("field", "")))
        out.setdefault(key, []).append(point)
    return out


def _line_points(points: list[dict[str, Any]] | None, x: str, y: str) -> list[list[float]] | None:
    if points is None:
        return None
    out = []
    for point in points:
        xv, yv = _as_float(point.get(x)), _as_float(point.get(y))
        if xv is not None and yv is not None:
            out.append([xv, yv])
    if not out:
        raise NotDrawable(
            f"no numeric values in field(s) '{x}'/'{y}'"
            if x != "step"
            else f"no numeric values in field '{y}'"
        )
    if any(abs(v) > MAX_DRAWN for point in out for v in point):
        # the scale of a chart spans the values: beyond this, their difference is no float
        raise NotDrawable(f"values beyond ±{MAX_DRAWN:g} cannot be drawn")
    return decimate(out, MAX_STORED_POINTS)


def _confusion_cells(
    points: list[dict[str, Any]] | None, actual: str, predicted: str
) -> list[list[Any]] | None:
    if points is None:
        return None
    labels = (str, int, float, bool)
    if any(
        not isinstance(p.get(key), labels)
        for p in points
        for key in (actual, predicted)
        if key in p
    ):
        raise NotDrawable(f"'{actual}' and '{predicted}' must be class labels (strings or numbers)")
    counts = Counter(
        (p.get(actual), p.get(predicted)) for p in points if actual in p and predicted in p
    )
    if not counts:
        raise NotDrawable(f"no records with both '{actual}' and '{predicted}'")
    return [
        [a, p, n]
        for (a, p), n in sorted(counts.items(), key=lambda item: (str(item[0][0]), str(item[0][1])))
    ]


def _bars(points: list[dict[str, Any]] | None, value: str, category: str) -> list[list[Any]] | None:
    """``[[category, value], ...]`` in the file's order; the last value of a repeated category."""
    if points is None:
        return None
    bars: dict[str, float] = {}
    for point in points:
        number = _as_float(point.get(value))
        if number is not None and point.get(category) is not None:
            bars[str(point.get(category))] = number
    if not bars:
        raise NotDrawable(f"no numeric values in field '{value}' for the bars")
    return [[name, number] for name, number in list(bars.items())[:MAX_STORED_POINTS]]


def _series_label(plot_id: str, key: tuple[str, str], keys: list[tuple[str, str]]) -> str:
    """The plot id, with the file and/or field when the plot has several lines."""
    if len(keys) <= 1:
        return plot_id
    files = {k[0] for k in keys}
    fields = {k[1] for k in keys}
    if len(fields) == 1:
        return f"{plot_id} ({key[0]})"
    if len(files) == 1:
        return f"{plot_id} ({key[1]})"
    return f"{plot_id} ({key[0]}: {key[1]})"


def _data_plots(
    plot_id: str, props: dict[str, Any], base: _Side | None, head: _Side | None, many: bool
) -> list[Plot]:
    """The data (non-image) files of one definition, drawn the way ``dvc plots diff`` reads them."""
    template = str(props.get("template") or "linear")
    title = props.get("title")
    b = _convert(plot_id, props, base, "base")
    h = _convert(plot_id, props, head, "head")
    either = h or b
    assert either is not None
    b_series, h_series = _series(b), _series(h)
    if template in CONFUSION_TEMPLATES:
        # one matrix per data file; DVC's points hold the actual class in x, the predicted in y
        files = list(dict.fromkeys(k[0] for k in [*h_series, *b_series]))
        b_files = {f: [p for k, ps in b_series.items() if k[0] == f for p in ps] for f in files}
        h_files = {f: [p for k, ps in h_series.items() if k[0] == f for p in ps] for f in files}
        x_name = str(props.get("x_label") or _axis_name(props.get("x")) or either.x)
        y_name = str(props.get("y_label") or _axis_name(props.get("y")) or either.y)
        out = []
        for file in files:
            label = plot_id if len(files) == 1 and not many else f"{plot_id} ({file})"
            bc = _confusion_cells(b_files[file] or None, b.x, b.y) if b is not None else None
            hc = _confusion_cells(h_files[file] or None, h.x, h.y) if h is not None else None
            out.append(
                Plot(
                    label,
                    "confusion",
                    _status(bc, hc),
                    title=title,
                    x=x_name,
                    y=y_name,
                    base=bc,
                    head=hc,
                )
            )
        return out
    if template in BAR_TEMPLATES:
        # DVC's horizontal bars: x is the value, y the category (a feature's importance, say)
        keys = list(dict.fromkeys([*h_series, *b_series]))
        out = []
        for key in keys:
            bb = _bars(b_series.get(key), b.x, b.y) if b is not None else None
            hb = _bars(h_series.get(key), h.x, h.y) if h is not None else None
            out.append(
                Plot(
                    _series_label(plot_id, key, keys),
                    "bar",
                    _status(bb, hb),
                    title=title,
                    x=str(props.get("x_label") or either.x_label or either.x),
                    y=str(props.get("y_label") or either.y),
                    base=bb,
                    head=hb,
                )
            )
        return out
    if template not in LINE_TEMPLATES:
        raise NotDrawable(
            f"template '{template}' has no form in mlci's reports; `dvc plots diff` draws it"
        )
    keys = list(dict.fromkeys([*h_series, *b_series]))
    out = []
    for key in keys:
        if many and len(keys) == 1:
            label = f"{plot_id} ({key[0]})"  # the one readable file of several
        else:
            label = _series_label(plot_id, key, keys)
        bp = _line_points(b_series.get(key), b.x, b.y) if b is not None else None
        hp = _line_points(h_series.get(key), h.x, h.y) if h is not None else None
        x_label = props.get("x_label") or either.x_label or either.x
        out.append(
            Plot(
                label,
                "line",
                _status(bp, hp),
                title=title,
                x=str(x_label),
                y=str(props.get("y_label") or key[1] or either.y),
                base=bp,
                head=hp,
            )
        )
    return out


def _axis_name(value: Any) -> str | None:
    """A field name from ``x``/``y``: a string, or the one field of a ``{file: field}`` map."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        fields = {str(v) for v in value.values() if isinstance(v, str)}
        return fields.pop() if len(fields) == 1 else None
    return None


def _image_info(content: Any, path: str = "") -> dict[str, Any]:
    """Hash and size of an image, and its bytes (a data URL) when small enough for the HTML report."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    if not isinstance(content, (bytes, bytearray)):
        raise NotDrawable("not an image file")
    info: dict[str, Any] = {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    mime = IMAGE_TYPES.get(posixpath.splitext(path.lower())[1])
    if mime and len(content) <= MAX_EMBEDDED_IMAGE:
        info["data"] = f"data:{mime};base64," + base64.b64encode(content).decode("ascii")
    return info


def _status(base: Any, head: Any) -> str:
    if base is None:
        return "new"
    if head is None:
        return "removed"
    return "unchanged" if base == head else "changed"


@dataclass
class _Side:
    """One plot definition at one revision, as :mod:`mlci.dvc` read it."""

    props: dict[str, Any]
    files: dict[str, Any]
    errors: dict[str, str]


def _side(source: Any) -> _Side | None:
    if source is None:
        return None
    return _Side(dict(source.props or {}), dict(source.files or {}), dict(source.errors or {}))


def _image_plot(
    plot_id: str,
    path: str,
    props: dict[str, Any],
    many: bool,
    base: _Side | None,
    head: _Side | None,
) -> Plot:
    """One image file of a definition (DVC's image renderer shows each file on its own)."""
    title = props.get("title")
    if path.startswith(clean_path(plot_id) + "/"):
        label = path  # one file of a directory of plots
    else:
        label = f"{plot_id} ({path})" if many else plot_id
    b_content = base.files.get(path) if base else None
    h_content = head.files.get(path) if head else None
    try:
        b = _image_info(b_content, path) if b_content is not None else None
        h = _image_info(h_content, path) if h_content is not None else None
    except NotDrawable as exc:
        return Plot(label, "none", "changed", title=title, reason=str(exc))
    return Plot(
        label,
        "image",
        _status(b, h),
        title=title,
        base=b,
        head=h,
        path=path if h is not None else None,
    )


def build(
    base: Mapping[str, Any] | None, head: Mapping[str, Any] | None, *, head_name: str = "head"
) -> list[Plot]:
    """Plot entries from :class:`mlci.dvc.PlotSource` maps (plot id -> source) of both revisions.

    Data files go through DVC's own conversion (:func:`mlci.dvc.plot_datapoints`),
    so whatever ``dvc plots diff`` finds in a file, mlci finds too.
    """
    base = base or {}
    head = head or {}
    out: list[Plot] = []
    for plot_id in [*head, *(k for k in base if k not in head)]:
        b, h = _side(base.get(plot_id)), _side(head.get(plot_id))
        # the head's properties win, as in `dvc plots diff`
        props = (b.props if b else {}) | (h.props if h else {})
        if h is not None and h.errors and not h.files:
            problems = "; ".join(f"{p}: {m}" for p, m in sorted(h.errors.items()))
            if b is not None and b.files and all(m == "file not found" for m in h.errors.values()):
                out.append(
                    Plot(
                        plot_id,
                        "none",
                        "removed",
                        title=props.get("title"),
                        reason=f"missing in {head_name} ({problems})",
                    )
                )
            else:
                out.append(
                    Plot(
                        plot_id,
                        "none",
                        "changed",
                        title=props.get("title"),
                        reason=f"cannot read it in {head_name}: {problems}",
                    )
                )
            continue
        files = list(dict.fromkeys([*(h.files if h else {}), *(b.files if b else {})]))
        many = len({*files, *(h.errors if h else {})}) > 1
        images = [f for f in files if f.lower().endswith(IMAGE_SUFFIXES)]
        if len(images) < len(files):
            try:
                out.extend(_data_plots(plot_id, props, b, h, many))
            except NotDrawable as exc:
                out.append(
                    Plot(plot_id, "none", "changed", title=props.get("title"), reason=str(exc))
                )
        for path in images:
            out.append(_image_plot(plot_id, path, props, many, b, h))
        # a file of a multi-file plot that the head cannot read, and the base did not have
        for path, problem in sorted((h.errors if h else {}).items()):
            if path not in files:
                out.append(
                    Plot(
                        plot_id if path == plot_id else f"{plot_id} ({path})",
                        "none",
                        "changed",
                        title=props.get("title"),
                        reason=f"cannot read {path} in {head_name}: {problem}",
                    )
                )
        if not files and h is None and b is not None and b.errors:
            problems = "; ".join(f"{p}: {m}" for p, m in sorted(b.errors.items()))
            out.append(
                Plot(
                    plot_id,
                    "none",
                    "removed",
                    title=props.get("title"),
                    reason=f"no longer declared, and unreadable at the base ({problems})",
                )
            )
    return out


def copy_images(plots: tuple[Plot, ...] | list[Plot], root: Path, dest: Path) -> Path | None:
    """Copy the head's image plots from the work tree into ``dest`` (for upload as artifacts).

    The paths come from the PR's ``dvc.yaml``: only regular files that
    resolve inside ``root`` are copied, so a path like ``../../secret`` or a
    symlink out of the repository uploads nothing.
    """
    import shutil

    root = root.resolve()
    copied = 0
    for plot in plots:
        if plot.kind != "image" or not plot.path:
            continue
        source = (root / plot.path).resolve()
        if not source.is_relative_to(root) or not source.is_file():
            continue
        target = dest / source.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied += 1
    return dest if copied else None
