"""Rule files' own `tests:` blocks, run through the real engine by `rules validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.registry import load_registry
from fraud_warning.ruletests import run_registry_tests

RULES = Path(__file__).resolve().parent.parent / "rules"
POLICE = RULES / "victim" / "police-impersonation-transfer.yaml"


def test_shipped_rule_tests_pass_and_exist() -> None:
    count, failures = run_registry_tests(load_registry(RULES))
    assert failures == []
    assert count >= 5


def test_a_wrong_expectation_fails_naming_file_line_and_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = POLICE.read_text().replace("expect: quiet", "expect: fire", 1)
    (tmp_path / "police.yaml").write_text(text)
    assert main(["rules", "validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    line = next(
        i
        for i, row in enumerate(text.splitlines(), 1)
        if "someone the subscriber called first" in row
    )
    assert f"police.yaml:{line}: police-impersonation-transfer test" in err
    assert "expected fire, stayed quiet" in err


def test_a_test_with_a_bad_event_names_it(tmp_path: Path) -> None:
    text = POLICE.read_text().replace("duration_s: 1500}", 'duration_s: "long"}', 1)
    (tmp_path / "police.yaml").write_text(text)
    _, failures = run_registry_tests(load_registry(tmp_path))
    assert len(failures) == 1
    assert "event 1 is not a valid event (wrong_type" in failures[0]


def test_a_shadow_rule_is_tested_as_if_stable(tmp_path: Path) -> None:
    text = POLICE.read_text().replace("status: stable", "status: shadow")
    (tmp_path / "police.yaml").write_text(text)
    count, failures = run_registry_tests(load_registry(tmp_path))
    assert (count, failures) == (3, [])


def test_unknown_keys_in_a_test_are_refused(tmp_path: Path) -> None:
    text = POLICE.read_text().replace("    expect: fire", "    expect: fire\n    expected: 1", 1)
    (tmp_path / "police.yaml").write_text(text)
    with pytest.raises(Exception, match=r"police.yaml:\d+: tests.0.expected"):
        load_registry(tmp_path)
