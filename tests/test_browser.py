"""The report in a real browser: every Mermaid block renders with mermaid, the HTML report draws its plots.

Debian's Chromium, headless, loads local pages only (see ``tests/browser.py``);
the mermaid package comes from ``scripts/fetch-test-tools``.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest

from mlci.model.result import MetricDelta, Plot
from mlci.report import render
from mlci.report.html import html as html_report
from tests import browser
from tests.test_plots import HOSTILE, plots_repo, result_with_plots
from tests.test_render import fixed_result

pytestmark = pytest.mark.slow

MERMAID_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><script src="{mermaid}"></script></head>
<body>
{blocks}
<script>
mermaid.initialize({{startOnLoad: false, securityLevel: "strict"}});
(async function () {{
  const blocks = document.querySelectorAll("pre.src");
  for (let i = 0; i < blocks.length; i++) {{
    const out = document.createElement("div");
    out.className = "out";
    out.id = "out-" + i;
    try {{
      await mermaid.parse(blocks[i].textContent);
      const rendered = await mermaid.render("chart-" + i, blocks[i].textContent);
      out.setAttribute("data-ok", "yes");
      out.innerHTML = rendered.svg;
    }} catch (err) {{
      out.setAttribute("data-ok", "no");
      out.textContent = "ERROR: " + (err && err.message ? err.message : err);
    }}
    document.body.appendChild(out);
  }}
  document.body.setAttribute("data-done", String(blocks.length));
}})();
</script>
</body></html>
"""


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.DOTALL | re.MULTILINE)


def render_mermaid(blocks: list[str], tmp_path: Path) -> list[tuple[str, str]]:
    """(ok, content) per block, as mermaid rendered them in Chromium."""
    page = tmp_path / "mermaid.html"
    page.write_text(
        MERMAID_PAGE.format(
            mermaid=browser.mermaid_js().as_uri(),
            blocks="\n".join(f'<pre class="src">{html.escape(b)}</pre>' for b in blocks),
        )
    )
    dom = browser.dump_dom(page)
    assert f'data-done="{len(blocks)}"' in dom, dom[-2000:]
    outs = re.findall(
        r'<div class="out" id="out-\d+" data-ok="(yes|no)">(.*?)</div>(?=<div class="out"|</body>|\s*</body>)',
        dom,
        re.DOTALL,
    )
    assert len(outs) == len(blocks), dom[-2000:]
    return outs


def edge_case_plots() -> tuple[Plot, ...]:
    return (
        Plot(
            "new.json",
            "line",
            "new",
            title="only at head",
            x="epoch",
            y="loss",
            head=[[1, 3.5], [2, 1.25], [30, 0.5]],
        ),
        Plot(
            "gone.json",
            "line",
            "removed",
            title="only at base",
            x="step",
            y="acc",
            base=[[0, 0.1], [10, 0.9]],
        ),
        Plot(
            "neg.json",
            "line",
            "changed",
            title="negative and tiny",
            x="t",
            y="delta",
            base=[[-5, -0.00002], [5, 0.00003]],
            head=[[-5, 0.00001], [5, -0.00004]],
        ),
        Plot(
            "big.json",
            "line",
            "changed",
            title="large values",
            x="samples",
            y="tokens",
            base=[[0, 1e12], [1e9, 3e12]],
            head=[[0, 2e12], [1e9, 2.5e12]],
        ),
        Plot(
            "flat.json",
            "line",
            "changed",
            title="constant",
            x="x",
            y="y",
            base=[[0, 1], [1, 1]],
            head=[[0, 1], [2, 1]],
        ),
        Plot(
            HOSTILE,
            "line",
            "changed",
            title=HOSTILE,
            x=HOSTILE,
            y=HOSTILE,
            base=[[0, 1], [1, 2]],
            head=[[0, 2], [1, 1]],
        ),
        Plot(
            "ünïcødé/ρ.json",
            "line",
            "changed",
            title="Verlust über Epochen — 日本語",
            x="époque",
            y="λ",
            base=[[0, 1], [1, 0.5]],
            head=[[0, 0.9], [1, 0.4]],
        ),
    )


def test_every_mermaid_block_renders(tmp_path, dvc_repo, mlci):
    plots_repo(dvc_repo)
    example = mlci(dvc_repo, "compare", "--base", "main", "--format", "markdown").out
    golden = render.markdown(result_with_plots())
    edges = render.markdown(fixed_result(plots=edge_case_plots()))
    blocks = mermaid_blocks(example) + mermaid_blocks(golden) + mermaid_blocks(edges)
    assert len(blocks) == 1 + 1 + len(edge_case_plots())

    outs = render_mermaid(blocks, tmp_path)
    for block, (ok, content) in zip(blocks, outs, strict=False):
        assert ok == "yes", f"mermaid could not render:\n{block}\n{html.unescape(content)[:500]}"
        assert "<svg" in content and "Syntax error" not in content
        series = len(re.findall(r"^    line \[", block, re.MULTILINE))
        # xychart draws each line series as a path in its own group
        assert len(re.findall(r'class="line-plot-\d+"', content)) == series, content[:1000]
    # the hostile block drew its title as text, not as markup
    hostile = outs[len(blocks) - 2][1]
    assert "img src=x onerror=alert(1)" in hostile  # as text of the title
    tags, handlers = _elements(hostile)
    assert "img" not in tags and not handlers


def _elements(markup: str) -> tuple[set[str], list[str]]:
    """Element names and event-handler attributes in ``markup``."""
    from html.parser import HTMLParser

    tags: set[str] = set()
    handlers: list[str] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            handlers.extend(name for name, _ in attrs if name.startswith("on"))

    Collect().feed(markup)
    return tags, handlers


def test_a_broken_block_is_caught(tmp_path):
    """The check above can fail: a block mermaid cannot parse comes back as an error."""
    [(ok, content)] = render_mermaid(['xychart-beta\n    title "x\n    line [1, oops]'], tmp_path)
    assert ok == "no" and "ERROR" in content


def test_the_html_report_draws_its_plots(tmp_path):
    result = result_with_plots()
    page = tmp_path / "report.html"
    page.write_text(html_report(result))
    dom = browser.dump_dom(page)
    # one Vega view per changed or unchanged line plot, drawn as SVG with line marks
    assert dom.count('data-drawn="yes"') == 2, re.findall(r'data-drawn="\w+"', dom)
    assert dom.count('class="mark-line role-mark') >= 2
    assert 'data-drawn="error"' not in dom
    assert "Confusion matrix (test)" in dom and "51 (+1)" in dom

    shot = browser.screenshot(page, tmp_path / "report.png")
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # not a blank page
    # dvc-render's series colours are on screen: the curves were drawn
    counts = {rgb: n for n, rgb in colours}
    purple = sum(n for rgb, n in counts.items() if _near(rgb, (0x94, 0x5D, 0xD6)))
    teal = sum(n for rgb, n in counts.items() if _near(rgb, (0x13, 0xAD, 0xC7)))
    assert purple > 200 and teal > 200, (purple, teal)


def _near(rgb: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, target, strict=False))


def test_the_html_report_escapes_the_pr(tmp_path):
    result = fixed_result(plots=edge_case_plots())
    page = tmp_path / "report.html"
    page.write_text(html_report(result))
    dom = browser.dump_dom(page)
    assert "<img src=x" not in dom  # the hostile name is text, never an element
    assert dom.count('data-drawn="yes"') == len(edge_case_plots())
    spec_texts = re.findall(
        r'<script type="application/json" data-plot="[^"]+">(.*?)</script>',
        page.read_text(),
        re.DOTALL,
    )
    assert len(spec_texts) == len(edge_case_plots())
    assert all(json.loads(t)["$schema"].endswith("vega-lite/v5.json") for t in spec_texts)


def test_a_missing_browser_fails_with_the_install_command(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(
        pytest.fail.Exception, match=r"apt-get update && apt-get install -y chromium"
    ):
        browser.chromium_path()


def _with_history(name: str = 'eval/"m".json:acc`<b>') -> MetricDelta:
    history = tuple(
        {"sha": f"{i:02x}" + "ab" * 19, "value": 0.9 + (i % 3) / 1000} for i in range(12)
    )
    rule = {"name": "acc", "direction": "higher", "severity": "fail"}
    return MetricDelta(name, 0.902, 0.85, -0.052, -5.8, "regressed", "fail", rule, "worse", history)


def test_the_trend_chart_of_a_failing_metric_renders(tmp_path):
    from mlci.report import trend

    block = trend.mermaid_chart(_with_history(), "main", "this PR")
    [inner] = mermaid_blocks(block + "\n")
    [(ok, content)] = render_mermaid([inner], tmp_path)
    assert ok == "yes", f"mermaid could not render:\n{inner}\n{html.unescape(content)[:500]}"
    assert len(re.findall(r'class="line-plot-\d+"', content)) == 1
    assert "<b>" not in content


def test_the_html_report_plots_every_metric_history(tmp_path):
    result = fixed_result()
    result = dataclasses.replace(
        result, metrics=(_with_history("a:acc"), _with_history("b:f1"), *result.metrics)
    )
    page = tmp_path / "report.html"
    page.write_text(html_report(result))
    dom = browser.dump_dom(page)
    drawn = re.findall(r'id="history-\d+" data-drawn="(\w+)"', dom)
    assert drawn == ["yes", "yes"], drawn
