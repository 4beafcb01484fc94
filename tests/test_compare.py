"""Rules, statuses and outcomes of the metric comparison (pure functions)."""

from __future__ import annotations

import math

import pytest

from mlci.engine.compare import compare_metric, compare_metrics, compare_params, match_rule
from mlci.engine.gate import metric_reasons, verdict
from mlci.model.config import MetricRule, MetricsConfig


def cmp(base, head, *rules: MetricRule, name="m.json:acc", missing_baseline="warn", **kw):
    cfg = MetricsConfig(rules=tuple(rules), missing_baseline=missing_baseline)
    return compare_metric(
        name,
        base,
        head,
        in_base=kw.get("in_base", base is not None),
        in_head=kw.get("in_head", head is not None),
        base_has_file=kw.get("base_has_file", True),
        config=cfg,
    )


HIGHER = MetricRule("acc", direction="higher", max_regression=0.01)


def test_regression_beyond_absolute_limit_fails():
    d = cmp(0.90, 0.88, HIGHER)
    assert (d.status, d.outcome) == ("regressed", "fail")
    assert d.delta == pytest.approx(-0.02)
    assert d.delta_pct == pytest.approx(-2.2222, abs=1e-3)
    assert "allowed: 0.01" in d.message


def test_regression_within_limit_passes():
    d = cmp(0.90, 0.895, HIGHER)
    assert (d.status, d.outcome) == ("regressed", "pass")


def test_regression_exactly_at_limit_passes_despite_float_noise():
    # 0.9 - 0.89 is 0.010000000000000009 in binary floating point
    d = cmp(0.90, 0.89, HIGHER)
    assert d.outcome == "pass"


def test_float_noise_is_not_a_change():
    d = cmp(0.3, 0.1 + 0.2, MetricRule("acc", direction="higher"))
    assert (d.status, d.outcome, d.delta) == ("unchanged", "pass", 0.0)


def test_improvement_lower_is_better():
    d = cmp(0.5, 0.4, MetricRule("acc", direction="lower", max_regression=0))
    assert (d.status, d.outcome) == ("improved", "pass")
    d = cmp(0.5, 0.6, MetricRule("acc", direction="lower", max_regression=0))
    assert (d.status, d.outcome) == ("regressed", "fail")


def test_relative_limit_and_warn_severity():
    rule = MetricRule("acc", direction="lower", max_regression_pct=10.0, severity="warn")
    assert cmp(10.0, 10.9, rule).outcome == "pass"
    d = cmp(10.0, 12.0, rule)
    assert (d.outcome, d.delta_pct) == ("warn", pytest.approx(20.0))


def test_direction_without_limits_allows_no_regression():
    d = cmp(0.9, 0.8999, MetricRule("acc", direction="higher"))
    assert d.outcome == "fail" and "allowed: none" in d.message


def test_absolute_bounds_apply_without_direction():
    rule = MetricRule("acc", min=0.75, max=0.99)
    assert cmp(0.8, 0.7, rule).outcome == "fail"
    assert cmp(0.8, 0.995, rule).outcome == "fail"
    assert cmp(0.8, 0.76, rule).outcome == "pass"
    assert cmp(0.8, 0.7, rule).status == "changed"  # no direction: not improved/regressed


def test_no_rule_is_informational():
    d = cmp(0.9, 0.5)
    assert (d.status, d.outcome) == ("changed", "info")


@pytest.mark.parametrize("policy,outcome", [("fail", "fail"), ("warn", "warn"), ("off", "pass")])
def test_missing_baseline_policy(policy, outcome):
    d = cmp(None, 0.9, HIGHER, missing_baseline=policy, base_has_file=False)
    assert (d.status, d.outcome, d.base) == ("no_baseline", outcome, None)


def test_new_key_in_existing_file_is_new():
    d = cmp(None, 0.9, HIGHER, base_has_file=True)
    assert d.status == "new"


def test_missing_baseline_still_checks_bounds():
    d = cmp(None, 0.5, MetricRule("acc", min=0.75), missing_baseline="off", base_has_file=False)
    assert d.outcome == "fail" and "below the minimum" in d.message


def test_removed_gated_metric_fails_and_ungated_is_info():
    assert cmp(0.9, None, HIGHER).status == "removed"
    assert cmp(0.9, None, HIGHER).outcome == "fail"
    assert cmp(0.9, None).outcome == "info"


def test_nan_head_fails_a_gated_metric():
    d = cmp(0.9, math.nan, HIGHER)
    assert (d.status, d.outcome, d.delta) == ("changed", "fail", None)
    assert "NaN" in d.message


def test_nan_on_both_sides_is_unchanged():
    assert cmp(math.nan, math.nan).status == "unchanged"


def test_infinity():
    rule = MetricRule("acc", direction="lower", max_regression=1)
    d = cmp(1.0, math.inf, rule)
    assert (d.status, d.outcome, d.delta) == ("regressed", "fail", math.inf)
    assert cmp(math.inf, math.inf, rule).status == "unchanged"


def test_non_numeric_values_compare_as_changed_or_unchanged():
    assert cmp("resnet", "resnet").status == "unchanged"
    assert cmp("resnet", "vit").status == "changed"
    d = cmp("a", "b", HIGHER)
    assert d.outcome == "fail" and "not a number" in d.message
    assert cmp(True, False).status == "changed"


def test_integers_keep_integer_delta():
    d = cmp(10, 12, MetricRule("acc", direction="higher"))
    assert d.delta == 2 and isinstance(d.delta, int)


def test_rule_matching_globs_keys_and_first_match():
    rules = (
        MetricRule("eval/*.json:loss", direction="lower"),
        MetricRule("acc*", direction="higher"),
        MetricRule("*", severity="warn"),
    )
    assert match_rule("eval/metrics.json:loss", rules) is rules[0]
    assert match_rule("train/metrics.json:loss", rules) is rules[2]
    assert match_rule("any/file.yaml:accuracy", rules) is rules[1]
    assert match_rule("eval/metrics.json:avg_prec.test", rules) is rules[2]
    assert match_rule("x.json:a.acc", (MetricRule("acc"),)) is None  # the key is a.acc


def test_compare_metrics_keeps_removed_and_new():
    deltas = compare_metrics({"f:a": 1, "f:b": 2}, {"f:a": 1, "f:c": 3}, {"f"}, MetricsConfig())
    assert [(d.name, d.status) for d in deltas] == [
        ("f:a", "unchanged"),
        ("f:c", "new"),
        ("f:b", "removed"),
    ]


def test_params_diff():
    deltas = compare_params(
        {"p:a": 1, "p:b": 0.1, "p:gone": 1}, {"p:a": 2, "p:b": 0.1, "p:new": "x"}
    )
    assert {d.name: d.status for d in deltas} == {
        "p:a": "changed",
        "p:b": "unchanged",
        "p:new": "added",
        "p:gone": "removed",
    }


def test_verdict_from_outcomes():
    deltas = [
        cmp(0.9, 0.8, HIGHER),
        cmp(
            10.0, 12.0, MetricRule("acc", direction="lower", max_regression_pct=1, severity="warn")
        ),
    ]
    reasons = metric_reasons(deltas)
    assert [r.severity for r in reasons] == ["fail", "warn"]
    assert verdict(reasons) == "fail"
    assert verdict(reasons[1:]) == "warn"
    assert verdict([]) == "pass"
