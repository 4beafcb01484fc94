"""The HTML report: one self-contained page, the same sections as the Markdown, interactive plots.

A pure function of the :class:`~mlci.result.Result`, like every rendering.
Line plots become Vega-Lite specs made by DVC's own ``dvc-render`` (the
charts ``dvc plots diff`` draws); the Vega libraries are inlined from
``mlci/report/vendor`` because ``dvc-render`` loads them from a CDN and the page
must open without a network (an Actions artifact, a laptop on a plane).
The metric table is complete here: the comment folds and cuts it at scale.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mlci.model import fmt
from mlci.model.result import Plot, Result
from mlci.report import charts

VENDOR_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


@lru_cache(maxsize=1)
def vendor_js() -> str:
    """The three libraries, in load order, as one script body."""
    base = resources.files("mlci.report").joinpath("vendor")
    return "\n;\n".join(base.joinpath(name).read_text("utf-8") for name in VENDOR_FILES)


def _script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``</script>`` can end it."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _one_line(text: str) -> str:
    """A title for Vega-Lite, which copies axis titles into tooltip expressions.

    There a line break is a parse error, and a backslash is not escaped (``a\\"b``
    ends the expression's string early: the chart is not drawn), so backslashes
    become the look-alike U+29F5.
    """
    return " ".join(str(text).split()).replace("\\", "\u29f5")


def vega_spec(plot: Plot, base_label: str, head_label: str) -> dict[str, Any]:
    """A Vega-Lite spec for a line plot, base and head as two coloured series (dvc-render's template)."""
    return _two_series_spec(
        plot, base_label, head_label, "linear", ("x", "y"), lambda a, b: {"x": a, "y": b}
    )


def bar_spec(plot: Plot, base_label: str, head_label: str) -> dict[str, Any]:
    """A Vega-Lite spec for a bar plot: DVC's ``bar_horizontal`` template, base and head side by side."""
    return _two_series_spec(
        plot,
        base_label,
        head_label,
        "bar_horizontal",
        ("value", "category"),
        lambda category, value: {"value": value, "category": category},
    )


def _two_series_spec(
    plot: Plot, base_label: str, head_label: str, template: str, fields: tuple[str, str], point: Any
) -> dict[str, Any]:
    """DVC's ``template`` filled with the base's and the head's points, one series each."""
    from dvc_render.vega import VegaRenderer

    if head_label == base_label:
        head_label += " (head)"
    points = [{**point(a, b), "rev": base_label} for a, b in plot.base or ()]
    points += [{**point(a, b), "rev": head_label} for a, b in plot.head or ()]
    x, y = fields
    renderer = VegaRenderer(
        points,
        plot.id,
        template=template,
        x=x,
        y=y,
        title=_one_line(plot.title or plot.id),
        x_label=_one_line(plot.x or x),
        y_label=_one_line(plot.y or y),
    )
    spec = renderer.get_filled_template()
    spec["width"] = "container"
    return spec


# Only a base64 image of a type mlci chose itself becomes an <img> source: a result file from
# elsewhere cannot smuggle in another URL scheme (the page's CSP allows only data: images, too).
_IMAGE_DATA = re.compile(r"data:image/(png|svg\+xml|jpeg|gif);base64,[A-Za-z0-9+/]*={0,2}")


def _image_side(label: str, info: Any) -> dict[str, Any]:
    """One side of an image plot: its data URL when the result carries the image, else why not."""
    src = info.get("data") if isinstance(info, dict) else None
    if isinstance(src, str) and _IMAGE_DATA.fullmatch(src):
        return {"label": label, "src": src, "text": charts.size_text(info)}
    if not info:
        return {"label": label, "src": None, "text": "absent"}
    return {"label": label, "src": None, "text": f"{charts.size_text(info)}, too large to embed"}


def _plot_views(result: Result, base_label: str, head_label: str) -> list[dict[str, Any]]:
    out = []
    for i, plot in enumerate(result.plots):
        view: dict[str, Any] = {
            "plot": plot,
            "id": f"plot-{i}",
            "spec": None,
            "table": None,
            "text": "",
            "images": None,
        }
        if plot.kind == "none":
            view["text"] = f"not drawn: {plot.reason or 'unknown reason'}"
        elif plot.kind == "line":
            try:
                view["spec"] = _script_json(vega_spec(plot, base_label, head_label))
            except Exception as exc:  # noqa: BLE001 - dvc-render refused the data: say so, keep going
                view["text"] = f"not drawn: {exc}"
        elif plot.kind == "bar":
            try:
                view["spec"] = _script_json(bar_spec(plot, base_label, head_label))
            except Exception as exc:  # noqa: BLE001 - dvc-render refused the data: say so, keep going
                view["text"] = f"not drawn: {exc}"
        elif plot.kind == "confusion":
            cm = charts.confusion_table(plot)
            # plain rows for the template (it sees no functions): head count and change per cell
            view["table"] = {
                "labels": [str(label) for label in cm.labels],
                "rows": [
                    {
                        "label": str(a),
                        "cells": [charts.cell_text(*cm.cells[(a, p)]) for p in cm.labels],
                    }
                    for a in cm.labels
                ],
            }
        elif plot.kind == "image":
            view["text"] = (
                f"{plot.status}: {charts.size_text(plot.base)} → {charts.size_text(plot.head)}; "
                f"sha256 {(plot.base or {}).get('sha256', '—')[:12]} → "
                f"{(plot.head or {}).get('sha256', '—')[:12]}"
            )
            view["images"] = [
                _image_side(base_label, plot.base),
                _image_side(head_label, plot.head),
            ]
        if plot.status == "unchanged" and not view["text"]:
            view["text"] = "unchanged"
        out.append(view)
    return out


def _history_views(result: Result, base_label: str, head_label: str) -> list[dict[str, Any]]:
    """Every metric with a recorded history, as a Vega-Lite line (its head as a point)."""
    from mlci.report import trend

    out = []
    for i, m in enumerate(result.metrics):
        spec = trend.vega_spec(m, base_label, head_label)
        if spec is not None:
            out.append({"id": f"history-{i}", "name": m.name, "spec": _script_json(spec)})
    return out


def html(result: Result, *, root: Path | None = None, template: str = "report.html.j2") -> str:
    from mlci.report import templating, view

    env = templating.sandboxed_environment(
        root,
        autoescape=True,  # every field from the PR is escaped by Jinja
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=fmt.number, duration=fmt.duration, plural=fmt.plural)
    v = view.view(result, fold_cap=None)
    history = _history_views(result, v["base_label"], v["head_label"])
    drawn = history or any(p.kind in ("line", "bar") for p in result.plots)
    return templating.render_template(
        env,
        template,
        **templating.template_values(v),
        plot_views=_plot_views(result, v["base_label"], v["head_label"]),
        history_views=history,
        vendor_js=vendor_js() if drawn else "",
    )
