"""The command line as users and scripts call it: exit codes, outputs, determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fraud_warning.cli import main
from tests.factories import Feed, mass_dialler_scenario

BAD_LINES = [
    b"{not json",
    b'{"event_id": "x1", "type": "call", "ts": "2026-03-02T09:00:00+08:00"}',
    b'{"event_id": "x2", "type": "fax", "ts": "2026-03-02T09:00:00+08:00"}',
    b'{"event_id": "x3", "type": "transfer", "ts": "2026-03-02T09:00:00+08:00",'
    b' "payer": "+8613800000001", "payer_account": "A", "payee_account": "B",'
    b' "amount_cny": -5, "channel": "atm"}',
    b'{"event_id": "x4", "type": "call", "ts": "yesterday", "caller": "+8613800000001",'
    b' "callee": "+8613800000002", "duration_s": 5}',
    b'{"event_id": "x5", "type": "call", "ts": "2026-03-02T09:00:00+08:00",'
    b' "caller": "+8613800000001", "callee": "+8613800000002", "duration_s": "five"}',
]


@pytest.fixture()
def events(tmp_path: Path) -> Path:
    feed = Feed()
    mass_dialler_scenario(feed, victims=2)
    lines = feed.lines()
    mixed = lines[:10] + BAD_LINES + lines[10:]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(mixed) + b"\n")
    return path


def test_score_writes_alerts_and_dead_letters(events: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    assert main(["score", str(events), "--out", str(out), "--quiet"]) == 0
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert {a["typology"] for a in alerts} >= {"fraud_number"}
    dead = [json.loads(line) for line in (tmp_path / "alerts.dead-letter.jsonl").open()]
    assert [d["offset"] for d in dead] == list(range(11, 11 + len(BAD_LINES)))
    assert [d["reason"] for d in dead] == [
        "invalid_json",
        "missing_field",
        "unknown_type",
        "invalid_value",
        "bad_timestamp",
        "wrong_type",
    ]
    assert all(d["raw"] and d["detail"] for d in dead)


def test_score_is_byte_identical_across_runs_and_batch_sizes(events: Path, tmp_path: Path) -> None:
    outputs = []
    for i, batch in enumerate(["2000", "3", "2000"]):
        out = tmp_path / f"a{i}.jsonl"
        tasks = tmp_path / f"t{i}.jsonl"
        args = ["score", str(events), "--out", str(out), "--dispatch-out", str(tasks)]
        assert main([*args, "--batch", batch, "--quiet"]) == 0
        outputs.append((out.read_bytes(), tasks.read_bytes()))
    assert outputs[0][0]  # there is something to compare
    assert outputs[0] == outputs[1] == outputs[2]


def test_metrics_out_is_prometheus_text(events: Path, tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.prom"
    out = tmp_path / "a.jsonl"
    argv = ["score", str(events), "--out", str(out), "--metrics-out", str(metrics), "--quiet"]
    assert main(argv) == 0
    text = metrics.read_text()
    assert 'fraud_warning_events_dead_lettered_total{reason="invalid_json"} 1.0' in text
    assert "fraud_warning_events_consumed_total" in text
    assert "+86" not in text  # no phone numbers in labels


@pytest.mark.parametrize(
    "argv",
    [
        ["score", "/nonexistent/events.jsonl", "--out", "/tmp/x.jsonl"],
        ["score", "EVENTS", "--out", "/tmp/x.jsonl", "--rules", "/nonexistent/rules"],
        ["evaluate", "--alerts", "/nonexistent/a", "--labels", "/nonexistent/l"],
        ["worker"],
        ["feed", "generate", "--subscribers", "0", "--hours", "1", "--out", "/tmp/x"],
    ],
)
def test_bad_usage_exits_2_with_one_line(
    argv: list[str], events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(events) if a == "EVENTS" else a for a in argv]
    with pytest.raises(SystemExit) as exc_info:
        raise SystemExit(main(argv))
    assert exc_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) <= 2


def test_bad_rule_file_exits_2_naming_file_and_line(
    events: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("id: x-rule\nversion: 1\nvolume: 11\n")
    assert main(["score", str(events), "--out", str(tmp_path / "a"), "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml:" in err
    assert main(["rules", "validate", str(rules)]) == 1


@pytest.mark.parametrize("name", ["events", "alert", "task"])
def test_schema_prints_json_schema(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", name]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema.get("type") == "object" or "oneOf" in schema or "anyOf" in schema


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "fraud_warning", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "score" in done.stdout


def test_score_writes_the_shadow_log_that_evaluate_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = Feed()
    mass_dialler_scenario(feed, victims=2)
    # the shipped shadow rule's scenario: a lure SMS from a stranger, then a long VoIP call
    victim = "+8613900000042"
    feed.sms(60, "+8617012345678", victim, text="您的账户涉嫌洗钱，请配合调查")
    feed.call(3000, "+8618800001234", victim, 900, origin="voip_gateway")
    events = tmp_path / "events.jsonl"
    feed.write(events)
    out, shadow = tmp_path / "alerts.jsonl", tmp_path / "shadow.jsonl"
    args = ["score", str(events), "--out", str(out), "--shadow-out", str(shadow), "--quiet"]
    assert main(args) == 0
    records = [json.loads(line) for line in shadow.read_text().splitlines()]
    assert "lure-sms-then-long-risky-call@1" in {r["model"] for r in records}
    assert {r["status"] for r in records} <= {"shadow", "experimental"}
    alerts = [json.loads(line) for line in out.read_text().splitlines()]
    assert victim not in {a["subscriber"] for a in alerts}  # logged, never paged
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"subscriber": victim, "typology": "impersonating_police"}))
    argv = ["evaluate", "--alerts", str(shadow), "--labels", str(labels), "--json"]
    capsys.readouterr()
    assert main([*argv, "--subscribers-count", "100", "--days", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["victims_alerted"] == 1


def test_worker_linger_flag_and_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--linger-ms` (FW_LINGER_MS) sets how long a worker micro-batch waits to fill;
    it must be positive (0 would spin)."""
    from fraud_warning.cli import build_parser

    assert build_parser().parse_args(["worker"]).linger_ms == 50.0
    assert build_parser().parse_args(["worker", "--linger-ms", "20"]).linger_ms == 20.0
    monkeypatch.setenv("FW_LINGER_MS", "7.5")
    assert build_parser().parse_args(["worker"]).linger_ms == 7.5
    with pytest.raises(SystemExit) as exc_info:
        build_parser().parse_args(["worker", "--linger-ms", "0"])
    assert exc_info.value.code == 2
