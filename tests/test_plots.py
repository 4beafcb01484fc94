"""Plots: read from real DVC repositories at base and head, turned into result entries and drawings."""

from __future__ import annotations

import json
import re

import pytest

from mlci.adapters.dvc import PlotSource
from mlci.engine import plots
from mlci.model.result import Plot, Result, validate
from mlci.report import charts, render, terminal
from tests.conftest import assert_golden
from tests.test_render import fixed_result

DVC_YAML = """\
stages:
  evaluate:
    cmd: python evaluate.py
    metrics:
      - eval/metrics.json:
          cache: false
    plots:
      - eval/plots/roc.json:
          cache: false
          x: fpr
          y: tpr
          title: ROC curve (test)
      - eval/plots/confusion.json:
          cache: false
          template: confusion
          x: actual
          y: predicted
          title: Confusion matrix (test)
      - eval/plots/importance.png:
          cache: false
"""


def roc(points: int, bend: float) -> list[dict[str, float]]:
    """A smooth ROC-like curve: tpr = fpr ** bend."""
    return [
        {
            "fpr": i / (points - 1),
            "tpr": round((i / (points - 1)) ** bend, 6),
            "threshold": 1 - i / points,
        }
        for i in range(points)
    ]


def confusion(tp: int, fn: int, fp: int, tn: int) -> list[dict[str, int]]:
    return (
        [{"actual": 1, "predicted": 1}] * tp
        + [{"actual": 1, "predicted": 0}] * fn
        + [{"actual": 0, "predicted": 1}] * fp
        + [{"actual": 0, "predicted": 0}] * tn
    )


def plots_repo(repo, *, extra_yaml: str = "", config: str | None = None) -> tuple[str, str]:
    """Base on main, head on branch feature: every plot changes."""
    repo.write("dvc.yaml", DVC_YAML + extra_yaml)
    repo.write("eval/metrics.json", {"accuracy": 0.9})
    repo.write("eval/plots/roc.json", roc(120, 0.3))
    repo.write("eval/plots/confusion.json", confusion(40, 5, 3, 52))
    (repo.path / "eval/plots/importance.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"a" * 1000)
    if config is not None:
        repo.write("mlci.yaml", config)
    base = repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("eval/metrics.json", {"accuracy": 0.92})
    repo.write("eval/plots/roc.json", roc(80, 0.2))
    repo.write("eval/plots/confusion.json", confusion(43, 2, 4, 51))
    (repo.path / "eval/plots/importance.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"b" * 1500)
    head = repo.commit("better model")
    return base, head


# --- end to end with DVC -----------------------------------------------------------------


def test_plots_are_read_at_base_and_head_without_a_checkout(dvc_repo, mlci):
    plots_repo(dvc_repo)
    (dvc_repo.path / "untracked.txt").write_text("keep me")
    before = dvc_repo.git("status", "--porcelain", "--untracked-files=all")

    run = mlci(dvc_repo, "compare", "--base", "main", "--head", "feature", "--format", "json")
    doc = run.json()
    validate(doc)
    by_id = {p["id"]: p for p in doc["plots"]}
    assert set(by_id) == {
        "eval/plots/roc.json",
        "eval/plots/confusion.json",
        "eval/plots/importance.png",
    }

    roc_plot = by_id["eval/plots/roc.json"]
    assert (roc_plot["kind"], roc_plot["status"], roc_plot["x"], roc_plot["y"]) == (
        "line",
        "changed",
        "fpr",
        "tpr",
    )
    assert len(roc_plot["base"]) == 120 and len(roc_plot["head"]) == 80
    assert roc_plot["head"][-1] == [1.0, 1.0]

    cm = by_id["eval/plots/confusion.json"]
    assert cm["kind"] == "confusion"
    assert sorted(map(tuple, cm["base"])) == [(0, 0, 52), (0, 1, 3), (1, 0, 5), (1, 1, 40)]
    assert sorted(map(tuple, cm["head"])) == [(0, 0, 51), (0, 1, 4), (1, 0, 2), (1, 1, 43)]

    image = by_id["eval/plots/importance.png"]
    assert image["kind"] == "image" and image["status"] == "changed"
    assert (image["base"]["size"], image["head"]["size"]) == (1008, 1508)
    assert image["path"] == "eval/plots/importance.png"

    assert dvc_repo.git("rev-parse", "--abbrev-ref", "HEAD") == "feature"
    assert dvc_repo.git("status", "--porcelain", "--untracked-files=all") == before


def test_plots_in_the_markdown_report(dvc_repo, mlci):
    plots_repo(dvc_repo)
    md = mlci(dvc_repo, "compare", "--base", "main", "--format", "markdown").out
    assert (
        "<details><summary>Plots: ROC curve (test), Confusion matrix (test), eval/plots/importance.png"
        in md
    )
    [chart] = re.findall(r"```mermaid\n(.*?)```", md, re.DOTALL)
    assert 'title "ROC curve (test)"' in chart and 'x-axis "fpr" 0 --> 1' in chart
    series = re.findall(r"line \[(.*?)\]", chart)
    assert [len(s.split(", ")) for s in series] == [charts.CHART_POINTS, charts.CHART_POINTS]
    assert "grey: main · blue: feature" in md
    assert "| `1` | 2 (−3) | 43 (+3) |" in md  # actual 1: predicted 0, predicted 1
    assert "`eval/plots/importance.png`: changed: 1.0 kB → 1.5 kB" in md


def test_report_plots_false_turns_plots_off(dvc_repo, mlci):
    plots_repo(dvc_repo, config="report:\n  plots: false\n")
    doc = mlci(dvc_repo, "compare", "--base", "main", "--format", "json").json()
    assert doc["plots"] == []
    assert "Plots" not in mlci(dvc_repo, "compare", "--base", "main", "--format", "markdown").out


def test_extra_plots_and_plots_that_cannot_be_drawn_are_named(dvc_repo, mlci):
    extra = """\
plots:
  - loss:
      x: epoch
      y:
        logs/train.csv: loss
  - eval/plots/bars.json:
      template: bar_horizontal
      x: importance
      y: feature
  - eval/plots/custom.json:
      template: .dvc/plots/my_template.json
      x: a
      y: b
"""
    plots_repo(
        dvc_repo,
        extra_yaml=extra,
        config="metrics:\n  plots: [logs/extra.json, logs/missing.json]\n",
    )
    dvc_repo.write(
        "logs/train.csv", "epoch,loss\n" + "".join(f"{i},{1 / (i + 1):.4f}\n" for i in range(30))
    )
    dvc_repo.write("logs/extra.json", {"not": "records"})
    dvc_repo.write("eval/plots/bars.json", [{"feature": "a", "importance": 1}])
    dvc_repo.write("eval/plots/custom.json", [{"a": 1, "b": 2}])
    doc = mlci(dvc_repo, "compare", "--base", "main", "--format", "json").json()
    validate(doc)
    by_id = {p["id"]: p for p in doc["plots"]}
    assert by_id["loss"]["kind"] == "line" and by_id["loss"]["status"] == "new"
    assert by_id["loss"]["head"][:2] == [[0.0, 1.0], [1.0, 0.5]]
    assert by_id["logs/extra.json"]["kind"] == "none"
    assert "not a list of records" in by_id["logs/extra.json"]["reason"]
    assert by_id["logs/missing.json"]["kind"] == "none"
    assert "file not found" in by_id["logs/missing.json"]["reason"]
    assert ".dvc/plots/my_template.json" in by_id["eval/plots/custom.json"]["reason"]
    assert by_id["eval/plots/bars.json"]["kind"] == "bar"
    assert by_id["eval/plots/bars.json"]["head"] == [["a", 1.0]]
    md = mlci(dvc_repo, "compare", "--base", "main", "--format", "markdown").out
    for plot_id in ("logs/extra.json", "logs/missing.json", "eval/plots/custom.json"):
        assert f"`{plot_id}`: not drawn: " in md


def test_top_level_plots_of_a_dvc_yaml_in_a_subdirectory(dvc_repo, mlci):
    plots_repo(dvc_repo)
    dvc_repo.write(
        "sub/dvc.yaml",
        "plots:\n  - loss:\n      x: epoch\n      y:\n        logs/train.csv: loss\n",
    )
    dvc_repo.write("sub/logs/train.csv", "epoch,loss\n0,1.0\n1,0.5\n2,0.25\n")
    doc = mlci(dvc_repo, "compare", "--base", "main", "--format", "json").json()
    [loss] = [p for p in doc["plots"] if p["id"] == "loss"]
    assert (loss["kind"], loss["status"], loss["x"], loss["y"]) == ("line", "new", "epoch", "loss")
    assert loss["head"] == [[0.0, 1.0], [1.0, 0.5], [2.0, 0.25]]


def test_a_directory_of_images_lists_each_file(dvc_repo, mlci):
    extra = "      - eval/images:\n          cache: false\n"
    plots_repo(dvc_repo, extra_yaml=extra)
    dvc_repo.git("checkout", "-q", "main")
    (dvc_repo.path / "eval/images").mkdir(parents=True)
    (dvc_repo.path / "eval/images/a.png").write_bytes(b"\x89PNG a")
    (dvc_repo.path / "eval/images/b.svg").write_text("<svg/>")
    dvc_repo.commit("images")
    (dvc_repo.path / "eval/images/b.svg").write_text("<svg><rect/></svg>")
    (dvc_repo.path / "eval/images/c.png").write_bytes(b"\x89PNG c")
    doc = mlci(dvc_repo, "compare", "--base", "main", "--format", "json").json()
    images = {p["id"]: p["status"] for p in doc["plots"] if p["id"].startswith("eval/images")}
    assert images == {
        "eval/images/a.png": "unchanged",
        "eval/images/b.svg": "changed",
        "eval/images/c.png": "new",
    }


def test_a_plot_missing_at_head_is_reported_not_dropped(dvc_repo, mlci):
    plots_repo(dvc_repo)
    (dvc_repo.path / "eval/plots/roc.json").unlink()
    doc = mlci(dvc_repo, "compare", "--base", "main", "--format", "json").json()
    [roc_plot] = [p for p in doc["plots"] if p["id"] == "eval/plots/roc.json"]
    assert roc_plot["kind"] == "none" and roc_plot["status"] == "removed"
    assert "missing in the work tree" in roc_plot["reason"]


def test_the_html_option_writes_a_self_contained_page(dvc_repo, mlci, tmp_path):
    plots_repo(dvc_repo)
    out = tmp_path / "report.html"
    run = mlci(dvc_repo, "compare", "--base", "main", "--html", str(out))
    assert run.code == 0
    page = out.read_text()
    assert "<script src" not in page and "cdn.jsdelivr" not in page  # nothing loaded from a network
    assert page.count('data-plot="plot-') == 1  # the ROC curve as a Vega-Lite spec
    assert "vegaEmbed" in page and "Confusion matrix (test)" in page


# --- pure functions ------------------------------------------------------------------------


def source(
    plot_id: str, files: dict, props: dict | None = None, errors: dict | None = None
) -> PlotSource:
    return PlotSource(plot_id, props or {}, files, errors or {})


def test_a_file_the_head_cannot_read_is_named_even_in_a_multi_file_plot():
    rows = [{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}]
    props = {"x": "epoch", "y": {"train.csv": "loss", "val.csv": "loss"}}
    head = {"loss": source("loss", {"train.csv": rows}, props, errors={"val.csv": "cannot parse"})}
    got = plots.build({}, head, head_name="feature")
    assert [(p.id, p.kind) for p in got] == [
        ("loss (train.csv)", "line"),
        ("loss (val.csv)", "none"),
    ]
    assert got[1].reason == "cannot read val.csv in feature: cannot parse"


def test_line_plots_default_to_the_step_and_the_last_field():
    rows = [{"loss": 1.0, "acc": 0.5}, {"loss": 0.5, "acc": 0.7}, {"loss": "nan?", "acc": 0.8}]
    [plot] = plots.build({}, {"log.json": source("log.json", {"log.json": rows})})
    assert (plot.x, plot.y, plot.status) == ("step", "acc", "new")
    assert plot.head == [[0.0, 0.5], [1.0, 0.7], [2.0, 0.8]]


def test_several_y_fields_give_one_plot_each():
    rows = [{"epoch": i, "train": 1 / (i + 1), "val": 1.2 / (i + 1)} for i in range(5)]
    src = source("loss.json", {"loss.json": rows}, {"x": "epoch", "y": ["train", "val"]})
    got = plots.build({"loss.json": src}, {"loss.json": src})
    assert [(p.id, p.status) for p in got] == [
        ("loss.json (train)", "unchanged"),
        ("loss.json (val)", "unchanged"),
    ]


def test_long_series_are_decimated_keeping_both_ends():
    rows = [{"x": i, "y": i * i} for i in range(10_000)]
    [plot] = plots.build({}, {"p.json": source("p.json", {"p.json": rows}, {"x": "x", "y": "y"})})
    assert len(plot.head) == plots.MAX_STORED_POINTS
    assert plot.head[0] == [0.0, 0.0] and plot.head[-1] == [9999.0, 9999.0**2]


def test_series_are_interpolated_on_a_shared_grid():
    plot = Plot("p", "line", "changed", base=[[0, 0], [10, 10]], head=[[0, 10], [5, 0], [10, 10]])
    grid, (base, head) = charts.shared_grid(plot, 5)
    assert grid == [0, 2.5, 5, 7.5, 10]
    assert base == [0, 2.5, 5, 7.5, 10]
    assert head == [10, 5, 0, 5, 10]


def test_a_series_shorter_than_the_grid_is_held_flat_at_its_ends():
    plot = Plot("p", "line", "changed", base=[[0, 1], [10, 2]], head=[[4, 3], [6, 5]])
    _, (_, head) = charts.shared_grid(plot, 3)
    assert head == [3, 4, 5]


def test_a_vertical_step_takes_its_top_like_a_roc_curve():
    plot = Plot("p", "line", "new", head=[[0, 0], [0, 0.8], [1, 1]])
    _, [head] = charts.shared_grid(plot, 3)
    assert head == [0.8, 0.9, 1]


def test_a_plot_with_one_x_value_is_not_drawn_and_says_why():
    plot = Plot("p", "line", "new", head=[[1, 0], [1, 2]])
    with pytest.raises(charts.NotDrawable, match="same x value"):
        charts.mermaid_chart(plot, "main", "this PR")
    [view] = charts.markdown_views([plot], "main", "this PR")
    assert view["text"] == "not drawn: every point has the same x value" and not view["chart"]


HOSTILE = 'x" ]\n```\n%%{init: {"theme": "dark"}}%%\n<img src=x onerror=alert(1)> @admin; line [1]`'


def test_mermaid_labels_cannot_break_out_of_the_string_or_the_fence():
    plot = Plot(
        HOSTILE,
        "line",
        "changed",
        title=HOSTILE,
        x=HOSTILE,
        y=HOSTILE,
        base=[[0, 1], [1, 2]],
        head=[[0, 2], [1, 1]],
    )
    chart = charts.mermaid_chart(plot, "main", "this PR")
    body = chart.split("\n")[1:-1]
    assert chart.startswith("```mermaid\n") and chart.endswith("\n```")
    assert not any("`" in line for line in body)
    assert sum("%%" in line for line in body) == 1  # only mlci's own init directive
    assert all(line.count('"') in (0, 2) for line in body[2:])  # each label one quoted string
    assert not any("<" in line or "@" in line or ";" in line for line in body)
    md = render.markdown(fixed_result(plots=(plot,)))
    assert md.count("```mermaid") == 1 and md.count("```") == 2
    assert "<img" not in md and "@admin" not in md


def test_only_so_many_charts_are_drawn_the_others_are_named():
    many = [
        Plot(
            f"p{i}.json",
            "line",
            "changed",
            x="x",
            y="y",
            base=[[0, 0], [1, i]],
            head=[[0, 1], [1, i]],
        )
        for i in range(charts.MAX_CHARTS + 3)
    ]
    md = render.markdown(fixed_result(plots=tuple(many)))
    assert md.count("```mermaid") == charts.MAX_CHARTS
    assert md.count("not drawn here to keep the comment short") == 3
    assert "`p14.json`: changed; not drawn here" in md


def test_confusion_with_named_classes():
    rows = [
        {"a": "cat", "p": "dog"},
        {"a": "cat", "p": "cat"},
        {"a": "dog", "p": "dog"},
        {"a": "<b>", "p": "cat"},
    ]
    [plot] = plots.build(
        {}, {"cm": source("cm", {"cm": rows}, {"template": "confusion", "x": "a", "y": "p"})}
    )
    assert plot.kind == "confusion" and plot.status == "new"
    md = render.markdown(fixed_result(plots=(plot,)))
    assert "| <code>&lt;b&gt;</code> | 0 | 1 (+1) | 0 |" in md
    assert "<b>" not in md


def test_confusion_cells_show_the_change():
    plot = Plot(
        "cm",
        "confusion",
        "changed",
        x="actual",
        y="predicted",
        base=[[0, 0, 50], [0, 1, 3], ["1", 0, 2]],
        head=[[0, 0, 48], [0, 1, 5], [1, 1, 7]],
    )
    table = charts.confusion_table(plot)
    assert [charts.cell_text(*table.cells[(0, p)]) for p in table.labels if p in (0, 1)] == [
        "48 (−2)",
        "5 (+2)",
    ]
    assert charts.cell_text(None, None) == "0"
    assert charts.cell_text(2, None) == "0 (−2)"


def test_copy_images_stays_inside_the_repository(tmp_path):
    root = tmp_path / "repo"
    (root / "eval").mkdir(parents=True)
    (root / "eval" / "a.png").write_bytes(b"png")
    (tmp_path / "secret.png").write_bytes(b"secret")
    (root / "eval" / "link.png").symlink_to(tmp_path / "secret.png")
    entries = [
        Plot(p, "image", "changed", head={"sha256": "0", "size": 1}, path=p)
        for p in ("eval/a.png", "../secret.png", "eval/link.png", "eval/gone.png")
    ]
    dest = plots.copy_images(entries, root, tmp_path / "out")
    assert dest is not None
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == [
        "eval/a.png"
    ]


# --- the Markdown, exactly -----------------------------------------------------------------


def result_with_plots() -> Result:
    return fixed_result(
        plots=(
            Plot(
                "eval/plots/roc.json",
                "line",
                "changed",
                title="ROC curve (test)",
                x="fpr",
                y="tpr",
                base=[[0.0, 0.0], [0.1, 0.6], [0.3, 0.85], [1.0, 1.0]],
                head=[[0.0, 0.0], [0.05, 0.7], [0.2, 0.9], [1.0, 1.0]],
            ),
            Plot(
                "eval/plots/confusion.json",
                "confusion",
                "changed",
                title="Confusion matrix (test)",
                x="actual",
                y="predicted",
                base=[[0, 0, 50], [0, 1, 3], [1, 0, 5], [1, 1, 42]],
                head=[[0, 0, 51], [0, 1, 2], [1, 0, 3], [1, 1, 44]],
            ),
            Plot(
                "eval/plots/pr.json",
                "line",
                "unchanged",
                title="Precision-recall",
                x="recall",
                y="precision",
                base=[[0, 1], [1, 0.5]],
                head=[[0, 1], [1, 0.5]],
            ),
            Plot(
                "eval/plots/importance.png",
                "image",
                "changed",
                base={"sha256": "a" * 64, "size": 20_480},
                head={"sha256": "b" * 64, "size": 21_733},
                path="eval/plots/importance.png",
            ),
            Plot("logs/extra.json", "none", "changed", reason="its data is not a list of records"),
        )
    )


def test_markdown_with_plots_matches_the_golden_file():
    got = render.markdown(result_with_plots())
    assert_golden("report_plots.md", got)


def test_text_with_plots_matches_the_golden_file():
    got = terminal.text(result_with_plots(), color=False)
    assert_golden("report_plots.txt", got)


def test_a_result_with_plots_round_trips_through_json():
    result = result_with_plots()
    doc = json.loads(result.to_json())
    validate(doc)
    assert Result.from_dict(doc) == result


def test_dvclive_nested_records_go_through_dvcs_conversion():
    """dvclive's ``{"roc": [...]}``: DVC finds the records under the key, so mlci does."""
    rows = {
        "roc": [
            {"fpr": 0.0, "tpr": 0.0, "threshold": 2},
            {"fpr": 0.5, "tpr": 0.9, "threshold": 0.5},
            {"fpr": 1.0, "tpr": 1.0, "threshold": 0},
        ]
    }
    props = {"template": "simple", "x": "fpr", "y": {"roc.json": "tpr"}}
    [plot] = plots.build({}, {"ROC": source("ROC", {"roc.json": rows}, props)})
    assert (plot.id, plot.kind, plot.x, plot.y) == ("ROC", "line", "fpr", "tpr")
    assert plot.head == [[0.0, 0.0], [0.5, 0.9], [1.0, 1.0]]


def test_a_field_dvc_cannot_find_keeps_dvcs_words():
    props = {"x": "epoch", "y": "loss_typo"}
    [plot] = plots.build(
        {}, {"l.json": source("l.json", {"l.json": [{"epoch": 0, "loss": 1}]}, props)}
    )
    assert plot.kind == "none"
    assert (
        "Could not find provided field ('loss_typo') in data fields ('epoch, loss')" in plot.reason
    )


def test_horizontal_bars_compare_each_category():
    props = {"template": "bar_horizontal_sorted", "x": "importance", "y": "feature"}
    base = [{"feature": "age", "importance": 0.5}, {"feature": "income", "importance": 0.3}]
    head = [
        {"feature": "age", "importance": 0.4},
        {"feature": "income", "importance": 0.45},
        {"feature": "<b>zip</b>", "importance": 0.15},
    ]
    [plot] = plots.build(
        {"imp.json": source("imp.json", {"imp.json": base}, props)},
        {"imp.json": source("imp.json", {"imp.json": head}, props)},
    )
    assert (plot.kind, plot.status, plot.x, plot.y) == ("bar", "changed", "importance", "feature")
    assert plot.head == [["age", 0.4], ["income", 0.45], ["<b>zip</b>", 0.15]]
    md = render.markdown(fixed_result(plots=(plot,)))
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| feature |")) + 2
    rows = lines[start : start + 3]
    assert rows == [
        "| `income` | 0.3 | 0.45 | +0.15 |",
        "| `age` | 0.5 | 0.4 | −0.1 |",
        "| <code>&lt;b&gt;zip&lt;/b&gt;</code> | — | 0.15 | new |",
    ]
    assert "<b>" not in md
    text = terminal.text(fixed_result(plots=(plot,)), color=False)
    assert "importance by feature" in text and "+0.15" in text
