"""Compare + render at scale: 10,000 metrics across 100 files.                target < 1 s

What `mlci ci` does once the files are read: compare every metric under the
rules, gate, and render the comment within GitHub's size limit (with the
hidden copy of the result). Also timed, for information: the terminal text
and the HTML report, which list every row.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scale_case import compare_and_render, metrics, parsed_config


def median_time(func, repeat: int = 5) -> tuple[float, object]:
    func()  # warm up: imports, template compilation
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    from mlci.report import html, terminal

    base, head, files = metrics()
    cfg = parsed_config()
    seconds, (result, comment) = median_time(lambda: compare_and_render(base, head, files, cfg))
    print(
        f"(c) compare + render, 10,000 metrics in 100 files\n    {seconds * 1000:8.0f} ms   "
        f"ratio to 1 s {seconds:.2f}   (target < 1)   comment {len(comment):,} characters (limit 65,536)"
    )
    t_text, _ = median_time(lambda: terminal.text(result, color=False), repeat=3)
    t_html, page = median_time(lambda: html.html(result), repeat=3)
    print(
        f"    for information: terminal text {t_text * 1000:.0f} ms, HTML report with every row "
        f"{t_html * 1000:.0f} ms ({len(page) / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
