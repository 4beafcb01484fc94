"""Renderings are pure functions of a Result: exact Markdown, escaping, JSON round trip."""

from __future__ import annotations

import math

import pytest

from mlci.model import fmt
from mlci.model.result import Context, MetricDelta, ParamDelta, Reason, Result, Revision, validate
from mlci.report import render, terminal
from tests.conftest import assert_golden

BASE_SHA = "b37ae76" + "0" * 33
HEAD_SHA = "7f40cd7" + "1" * 33


def fixed_result(**changes) -> Result:
    metrics = (
        MetricDelta(
            "eval/metrics.json:avg_prec.test",
            0.9726,
            0.9412,
            -0.0314,
            -3.2285,
            "regressed",
            "fail",
            {
                "name": "avg_prec.test",
                "direction": "higher",
                "max_regression": 0.01,
                "severity": "fail",
            },
            "worse by 0.0314 (3.23 %); allowed: 0.01",
        ),
        MetricDelta(
            "eval/metrics.json:latency_ms",
            10.0,
            12.0,
            2.0,
            20.0,
            "regressed",
            "warn",
            {
                "name": "latency_ms",
                "direction": "lower",
                "max_regression_pct": 10.0,
                "severity": "warn",
            },
            "worse by 2 (20 %); allowed: 10 %",
        ),
        MetricDelta(
            "eval/metrics.json:roc_auc",
            0.95,
            0.96,
            0.01,
            1.0526,
            "improved",
            "pass",
            {"name": "roc_auc", "direction": "higher", "severity": "fail"},
        ),
        MetricDelta("eval/metrics.json:f1", 0.9, 0.9, 0.0, 0.0, "unchanged", "info"),
        MetricDelta("eval/metrics.json:n_rows", None, 16011, None, None, "no_baseline", "info"),
    )
    reasons = (
        Reason(
            "metrics",
            "fail",
            "eval/metrics.json:avg_prec.test: worse by 0.0314 (3.23 %); allowed: 0.01",
        ),
        Reason("metrics", "warn", "eval/metrics.json:latency_ms: worse by 2 (20 %); allowed: 10 %"),
    )
    kwargs = dict(
        context=Context(
            repo="acme/model",
            event="pull_request",
            pr=12,
            base=Revision("main", BASE_SHA),
            head=Revision("feature", HEAD_SHA),
            run_url="https://github.com/acme/model/actions/runs/1",
        ),
        verdict="fail",
        reasons=reasons,
        metrics=metrics,
        params=(
            ParamDelta("params.yaml:featurize.max_features", 200, 50, "changed"),
            ParamDelta("params.yaml:train.seed", 1, 1, "unchanged"),
        ),
        duration_s=38.2,
        tool_version="0.1.0",
    )
    kwargs.update(changes)
    return Result(**kwargs)


def test_markdown_matches_the_golden_file():
    got = render.markdown(fixed_result())
    assert_golden("report_fail.md", got)


def test_text_matches_the_golden_file():
    got = terminal.text(fixed_result(), color=False, width=120)
    assert_golden("report_fail.txt", got)
    assert "\x1b[" not in got


def test_text_uses_colour_only_when_asked(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[" in terminal.text(fixed_result(), color=True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in terminal.text(fixed_result(), color=True)


def test_pass_headline_and_folded_sections():
    res = fixed_result(verdict="pass", reasons=(), metrics=fixed_result().metrics[2:])
    md = render.markdown(res)
    assert md.splitlines()[1] == "### ✅ mlci: gate open — 1 improved, 1 metric within its rule"
    assert "<details><summary>Metrics: 1 improved, 1 new" not in md  # no_baseline is its own word
    assert "<details><summary>Metrics: 1 improved, 1 no baseline, 1 unchanged</summary>" in md


HOSTILE = "x|y</code><script>alert(1)</script>@octocat `rm` [link](http://e.vil) <!-- -->"


def test_text_from_the_pr_cannot_inject_markdown():
    res = fixed_result(
        metrics=(
            MetricDelta(
                f"eval/{HOSTILE}.json:acc",
                HOSTILE,
                1.0,
                None,
                None,
                "changed",
                "fail",
                None,
                HOSTILE,
            ),
        ),
        reasons=(Reason("data", "fail", HOSTILE),),
        params=(ParamDelta(HOSTILE, HOSTILE, "@admin", "changed"),),
        notes=(HOSTILE,),
        context=Context(pr=3, base=Revision("main", BASE_SHA), head=Revision(HOSTILE, HEAD_SHA)),
    )
    md = render.markdown(res)
    body = md.split("\n", 1)[1]  # after our own marker
    for bad in ("<script", "</code><", "@octocat", "@admin", "](http", "<!--", "-->", "`rm`"):
        assert bad not in body, bad
    # every table row still has exactly the number of cells of its header
    for line in body.splitlines():
        if line.startswith("| ❌ |"):
            assert line.count("|") == 7


@pytest.mark.parametrize(
    "value,text",
    [
        (0.97256, "0.9726"),
        (10.0, "10.0"),
        (16011, "16,011"),
        (1234.5, "1,234.5"),
        (-0.5, "−0.5"),
        (math.nan, "NaN"),
        (math.inf, "∞"),
        (1e-7, "1.000e−07"),
        (None, "—"),
        ("abc", "abc"),
        (True, "True"),
    ],
)
def test_numbers_for_humans(value, text):
    assert fmt.number(value) == text


@pytest.mark.parametrize(
    "delta,pct,status,text",
    [
        (-0.0314, -3.2285, "regressed", "▼ −0.0314 (−3.2 %)"),
        (2.0, 20.0, "regressed", "▼ +2.0 (+20 %)"),
        (0.01, 1.0526, "improved", "▲ +0.01 (+1.1 %)"),
        (0.0, 0.0, "unchanged", "0"),
        (None, None, "no_baseline", "new"),
        (-0.1, None, "changed", "−0.1"),
    ],
)
def test_change_column(delta, pct, status, text):
    assert fmt.change(delta, pct, status) == text


def test_json_round_trip_keeps_non_finite_values():
    res = fixed_result(
        metrics=(
            MetricDelta("m:x", 1.0, math.nan, None, None, "changed", "fail"),
            MetricDelta("m:y", -math.inf, math.inf, math.inf, None, "improved", "pass"),
        )
    )
    text = res.to_json()
    assert "NaN" in text and "Infinity" in text
    validate(__import__("json").loads(text))
    back = Result.from_json(text)
    assert math.isnan(back.metrics[0].head) and back.metrics[1].head == math.inf
    assert back.to_json() == text
    assert back == Result.from_json(back.to_json())


def test_prose_from_the_pr_cannot_become_a_link():
    text = fmt.md_text("see https://evil.example/x and www.evil.example")
    assert "https://" not in text and "www." not in text
    assert "evil.example" in text
