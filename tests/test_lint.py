"""`fraud-warning rules lint`: severities, ranges, rules that can never fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.features import CATALOGUE
from fraud_warning.lint import RANGES, Finding, counts, lint_directory

RULES = Path(__file__).resolve().parent.parent / "rules"

RULE = """\
id: {id}
version: 1
title: A lint test rule
typology: impersonating_police
status: {status}
priority: P1
owner: {owner}
on: transfer
{body}
score: 0.9
reasons: ["{{amount_cny:.0f}} CNY"]
falsepositives: [a genuine payment]
tests:
  - name: example
    expect: quiet
    events:
      - {{type: call, ts: "+0s", caller: "+8617012345678", callee: "+8613800000001", duration_s: 5}}
"""
BODY = "when:\n  amount_cny: {gte: 1000}\n  payee_is_new: {eq: 1}"


def rule(
    rule_id: str = "lint-rule", body: str = BODY, status: str = "stable", owner: str = "desk"
) -> str:
    return RULE.format(id=rule_id, status=status, owner=owner, body=body)


def lint(tmp_path: Path, *texts: str) -> list[Finding]:
    for i, text in enumerate(texts):
        (tmp_path / f"rule{i}.yaml").write_text(text, encoding="utf-8")
    return lint_directory(tmp_path)


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.severity, f.code) for f in findings]


def line_of(text: str, needle: str) -> int:
    return next(i for i, row in enumerate(text.splitlines(), 1) if needle in row)


def test_a_clean_rule_has_no_findings(tmp_path: Path) -> None:
    assert lint(tmp_path, rule()) == []


def test_shipped_rules_lint_without_errors() -> None:
    findings = lint_directory(RULES)
    assert counts(findings)["error"] == 0, [str(f) for f in findings]
    assert counts(findings)["warning"] == 0, [str(f) for f in findings]


def test_every_catalogue_feature_has_a_range() -> None:
    names = {name for kind in CATALOGUE.values() for name in kind}
    assert names <= set(RANGES), names - set(RANGES)


# -- metadata ---------------------------------------------------------------------------


def test_duplicate_ids_are_errors(tmp_path: Path) -> None:
    findings = lint(tmp_path, rule(), rule())
    (dup,) = [f for f in findings if f.code == "duplicate-id"]
    assert dup.severity == "error"
    assert dup.file.endswith("rule1.yaml") and dup.line == 1
    assert "duplicate rule id 'lint-rule' (also in " in dup.message
    assert "rule0.yaml:1)" in dup.message


def test_duplicate_ids_in_one_multi_document_file(tmp_path: Path) -> None:
    text = rule() + "---\n" + rule()
    findings = lint(tmp_path, text)
    (dup,) = [f for f in findings if f.code == "duplicate-id"]
    assert dup.line == len(rule().splitlines()) + 2


def test_stable_rule_without_falsepositives(tmp_path: Path) -> None:
    text = rule().replace("falsepositives: [a genuine payment]\n", "")
    assert codes(lint(tmp_path, text)) == [("warning", "no-falsepositives")]
    text = rule().replace("[a genuine payment]", '["  "]')
    assert codes(lint(tmp_path, text)) == [("warning", "no-falsepositives")]


def test_shadow_rule_without_falsepositives_is_fine(tmp_path: Path) -> None:
    text = rule(status="shadow").replace("falsepositives: [a genuine payment]\n", "")
    assert lint(tmp_path, text) == []


@pytest.mark.parametrize("owner", ["TBD", "todo", "'-'", "unknown"])
def test_stable_rule_without_a_real_owner(tmp_path: Path, owner: str) -> None:
    text = rule(owner=owner)
    (finding,) = lint(tmp_path, text)
    assert (finding.severity, finding.code) == ("warning", "no-owner")
    assert finding.line == line_of(text, "owner:")


def test_deprecated_rules_warn(tmp_path: Path) -> None:
    text = rule(status="deprecated")
    (finding,) = lint(tmp_path, text)
    assert (finding.severity, finding.code, finding.line) == ("warning", "deprecated", 5)


def test_rules_without_tests_are_info(tmp_path: Path) -> None:
    text = rule().split("tests:")[0]
    assert codes(lint(tmp_path, text)) == [("info", "no-tests")]


def test_a_file_that_does_not_load_is_an_error(tmp_path: Path) -> None:
    text = rule(body="condition: amout_cny >= 1000")
    (finding,) = lint(tmp_path, text, rule("other-rule"))
    assert (finding.severity, finding.code, finding.rule) == ("error", "invalid", "")
    assert finding.line == line_of(text, "condition:")
    assert "unknown feature 'amout_cny' (did you mean 'amount_cny'?)" in finding.message
    broken = "id: [unclosed\n"
    (finding,) = lint(tmp_path, broken)
    assert finding.code == "invalid" and "invalid YAML" in finding.message


# -- thresholds against feature ranges -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("when:\n  payee_risky_share_24h: {gt: 1}", "payee_risky_share_24h > 1 is never true"),
        ("when:\n  payee_linked_share_24h: {lte: 1.5}", "<= 1.5 is always true"),
        ("when:\n  payee_payers_24h: {gte: -1}", "payee_payers_24h >= -1 is always true"),
        ("when:\n  flagged_call_s_24h: {gte: -60}", "always true"),
        ("when:\n  amount_cny: {gt: 0}", "amount_cny > 0 is always true"),
        ("when:\n  since_noncontact_call_s: {lte: 100000}", "always true"),
        ("when:\n  payee_is_new: {eq: 2}", "payee_is_new is a flag (0 or 1)"),
        ("when:\n  elderly: {gte: 0.5}", "elderly is a flag"),
        ("condition: payee_is_new == -1 or amount_cny >= 5", "is a flag"),
        ("condition: amount_cny >= 5 and payee_risky_share_24h >= 2", "never true"),
    ],
)
def test_thresholds_outside_the_feature_range(tmp_path: Path, body: str, needle: str) -> None:
    text = rule(body=body)
    findings = [f for f in lint(tmp_path, text) if f.code == "threshold-range"]
    assert len(findings) == 1, findings
    assert findings[0].severity == "warning"
    assert needle in findings[0].message, findings[0].message
    first = body.splitlines()[-1].split(":")[0].strip()
    assert findings[0].line == line_of(text, first + ":")


def test_condition_findings_name_the_column(tmp_path: Path) -> None:
    text = rule(body="condition: amount_cny >= 5 and payee_risky_share_24h >= 2")
    (finding,) = [f for f in lint(tmp_path, text) if f.code == "threshold-range"]
    assert finding.message.startswith("condition (column 21): payee_risky_share_24h >= 2")


def test_fractional_threshold_on_a_count_is_info(tmp_path: Path) -> None:
    text = rule(body="when:\n  new_payee_transfers_2h: {gte: 1.5}")
    assert codes(lint(tmp_path, text)) == [("info", "fractional-threshold")]
    # hourly rates are smoothed over the hour: fractions are fine there
    assert (
        lint(tmp_path, rule(body="when:\n  amount_cny: {gte: 10}\n  payee_is_new: {eq: 1}")) == []
    )


# -- a rule's own windowed features ----------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "condition", "needle"),
    [
        (
            "count(call, within=1h)",
            "w >= 2000",
            "w >= 2000 is never true: w is count() over a window, which holds 1,024 events",
        ),
        ("distinct(call.caller, within=1h)", "w >= 0", "w >= 0 is always true"),
        ("max(call.duration_s, within=2h)", "w > 700000", "w > 700000 is never true"),
        ("max(call.duration_s / 60, within=2h)", "w > 11000", "is never true"),
        ("sum(transfer.amount_cny, within=24h)", "w < 0", "w < 0 is never true"),
        ("last(call.duration_s, within=1h)", "w >= 0", "w >= 0 is always true"),
        ("avg(transfer.amount_cny, within=1h)", "w > 2e12", "never true: w is avg() over"),
    ],
)
def test_window_feature_thresholds_outside_their_range(
    tmp_path: Path, feature: str, condition: str, needle: str
) -> None:
    body = f"features:\n  w: {feature}\ncondition: amount_cny >= 10 and {condition}"
    findings = [f for f in lint(tmp_path, rule(body=body)) if f.code == "threshold-range"]
    assert len(findings) == 1, findings
    assert needle in findings[0].message, findings[0].message


@pytest.mark.parametrize(
    ("feature", "condition"),
    [
        ("count(call, within=1h)", "w >= 3"),
        ("max(call.duration_s / 60, within=2h)", "w >= 10"),
        ("sum(transfer.amount_cny, within=24h)", "w >= 50000"),
        ("avg(call.duration_s, within=1h)", "w >= 0.5"),  # an average: fractions are fine
        ("max(call.caller_fanout_1h, within=1h)", "w >= 12.5"),
    ],
)
def test_window_feature_thresholds_in_range_are_clean(
    tmp_path: Path, feature: str, condition: str
) -> None:
    body = f"features:\n  w: {feature}\ncondition: amount_cny >= 10 and {condition}"
    assert lint(tmp_path, rule(body=body)) == []


def test_every_numeric_event_field_has_a_range() -> None:
    from fraud_warning.lint import FIELD_RANGES
    from fraud_warning.windowlang import FIELDS

    numeric = {
        f for side in FIELDS.values() for ev in side.values() for f, t in ev.items() if t == "num"
    }
    assert numeric == set(FIELD_RANGES)


def test_a_window_count_past_what_a_window_holds_never_fires(tmp_path: Path) -> None:
    body = "features:\n  w: count(sms, within=24h)\ncondition: w > 1024 or amount_cny < 0"
    (finding,) = [f for f in lint(tmp_path, rule(body=body)) if f.code == "never-fires"]
    assert "w > 1024 is never true" in finding.message, finding.message


# -- rules that can never fire ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (
            "when:\n  amount_cny: {gte: 10, lt: 5}",
            "amount_cny >= 10 and amount_cny < 5 cannot all hold",
        ),
        ("condition: amount_cny >= 10 and amount_cny < 5", "cannot all hold"),
        ("condition: amount_cny >= 10 and not amount_cny >= 5", "cannot all hold"),
        ("condition: amount_cny == 10 and amount_cny != 10", "cannot all hold"),
        (
            "when:\n  amount_cny: {gte: 1000}\ncondition: amount_cny < 500 or payee_is_new > 1",
            "can never fire",
        ),
        (
            "condition: payee_payers_24h > 3 and payee_payers_24h < 4",
            "cannot all hold (payee_payers_24h is a count",
        ),
        ("condition: new_payee_transfers_2h in [1, 2] and new_payee_transfers_2h > 2", "hold"),
        ("when:\n  payee_risky_share_24h: {gte: 1.01}", "is never true"),
        (
            "when:\n  amount_cny: {gte: 1000}\n"
            "any:\n  - amount_cny: {lt: 100}\n  - {payee_is_new: {eq: 1}, elderly: {eq: 3}}",
            "can never fire",
        ),
    ],
)
def test_rules_that_can_never_fire_are_errors(tmp_path: Path, body: str, needle: str) -> None:
    text = rule(body=body)
    (finding,) = [f for f in lint(tmp_path, text) if f.code == "never-fires"]
    assert finding.severity == "error"
    assert finding.message.startswith("can never fire: ")
    assert needle in finding.message, finding.message
    key = "condition:" if "condition:" in body else "when:"
    assert finding.line == line_of(text, key)


@pytest.mark.parametrize(
    "body",
    [
        "when:\n  amount_cny: {gte: 10, lt: 50}",
        "condition: amount_cny >= 10 and amount_cny < 5 or payee_is_new == 1",
        "condition: not (amount_cny >= 10 and amount_cny < 5) and payee_is_new == 1",
        "condition: amount_cny == 10 and payee_is_new == 1",
        "condition: payee_payers_24h > 3 and payee_payers_24h <= 4",
        "condition: payee_payers_24h != 0 and payee_payers_24h < 2",
    ],
)
def test_rules_that_can_fire_are_not_flagged(tmp_path: Path, body: str) -> None:
    findings = lint(tmp_path, rule(body=body))
    assert not [f for f in findings if f.code == "never-fires"], findings


def test_a_dead_any_group_is_a_warning(tmp_path: Path) -> None:
    body = (
        "when:\n  amount_cny: {gte: 1000}\n"
        "any:\n  - amount_cny: {lt: 100}\n  - payee_is_new: {eq: 1}"
    )
    text = rule(body=body)
    (finding,) = lint(tmp_path, text)
    assert (finding.severity, finding.code) == ("warning", "dead-branch")
    assert finding.line == line_of(text, "- amount_cny")
    assert "any[0] can never hold together with 'when'" in finding.message


def test_a_rule_that_fires_on_every_trigger_warns(tmp_path: Path) -> None:
    text = rule(body="condition: amount_cny > 0 or payee_is_new == 1")
    found = codes(lint(tmp_path, text))
    assert ("warning", "always-fires") in found
    assert lint(tmp_path, rule(body="condition: amount_cny > 10 or payee_is_new == 1")) == []


def test_a_huge_condition_is_not_checked_but_not_an_error(tmp_path: Path) -> None:
    clause = "(amount_cny >= {0} or payee_payers_24h <= {0})"
    body = "condition: " + " and ".join(clause.format(i + 1) for i in range(14))
    findings = lint(tmp_path, rule(body=body))
    assert ("info", "not-checked") in codes(findings)
    assert counts(findings)["error"] == 0


# -- the command -----------------------------------------------------------------------


def test_command_exits_1_on_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lint(tmp_path, rule(), rule())
    assert main(["rules", "lint", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "rule1.yaml:1: error: lint-rule: duplicate rule id 'lint-rule'" in out
    assert "[duplicate-id]" in out
    assert "1 error(s), 0 warning(s), 0 info" in err


def test_command_exits_0_on_warnings_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lint(tmp_path, rule(status="deprecated"))
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "warning: lint-rule: deprecated" in out
    assert "1 rule file(s) in" in out and "0 error(s), 1 warning(s), 0 info" in out


def test_command_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", str(RULES)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_command_on_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "lint", str(tmp_path / "nope")]) == 2
    assert "rules directory not found" in capsys.readouterr().err
