"""10,000 metrics across 100 files: the comment leads with the verdict and the problems and fits GitHub.

Speed is measured in ``benchmarks/bench_scale.py``, not asserted here.
"""

from __future__ import annotations

import re

from mlci.report import html, view
from tests.scale_case import FILES, PER_FILE, compare_and_render, metrics, parsed_config

LIMIT = 65_536


def test_ten_thousand_metrics_make_a_short_useful_comment():
    base, head, files = metrics()
    result, comment = compare_and_render(base, head, files, parsed_config())
    assert len(result.metrics) == FILES * PER_FILE == 10_000
    assert result.verdict == "fail"

    assert len(comment) <= LIMIT
    lines = comment.splitlines()
    assert lines[1] == "### ❌ mlci: gate closed — 30 metrics failed their rules, 20 warnings"
    # the failing and warning rows come first, worst first, all of them
    rows = [line for line in lines if line.startswith(("| ❌ |", "| ⚠️ |"))]
    assert len(rows) == 50
    assert all(r.startswith("| ❌ |") for r in rows[:30]) and all(
        r.startswith("| ⚠️ |") for r in rows[30:]
    )
    first_table = comment.index("| ❌ |")
    assert first_table < comment.index("<details>")
    # everything else is folded: counted, and only changed rows listed (up to the cap)
    assert "<summary>Metrics: 200 improved, 300 changed, 9,450 unchanged</summary>" in comment
    folded = re.findall(r"^\| (?:✅|) \| `eval/part_\d+\.json:\w+` \|", comment, re.MULTILINE)
    assert len(folded) == view.FOLD_CAP
    assert "`| 0 |" not in comment  # no unchanged row is listed
    assert "9,750 more metrics not listed here" in comment


def test_the_html_report_has_every_row():
    base, head, files = metrics()
    result, _ = compare_and_render(base, head, files, parsed_config())
    page = html.html(result)
    assert len(re.findall(r"<tr class=\"(?:fail|warn|pass|info)\"><td>", page)) == 10_000 + 50
    assert "<script src" not in page
