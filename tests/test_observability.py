"""Observability with the real tools: the metrics exposition, the Prometheus deploy
files and the Grafana dashboard, checked by promtool (Debian package `prometheus`).

- `fraud-warning score --metrics-out` passes `promtool check metrics` and carries no
  personal data in its labels;
- `deploy/prometheus` passes `promtool check config`, `check rules` and `test rules`;
- every metric the dashboard and the alert rules query exists: in the score exposition,
  in the desk's metrics, or in the live-runner metrics listed in :data:`LIVE_METRICS`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from fraud_warning.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "fraud-warning.json"

#: Metrics only live runners set (the worker, the desk's dispatch loop): a replay through
#: `score` never fills them, so they need not show in its exposition. name -> type.
LIVE_METRICS = {
    "fraud_warning_event_to_alert_seconds": "histogram",
    "fraud_warning_model_seconds": "histogram",
    "fraud_warning_state_bytes": "gauge",
    "fraud_warning_rule_reloads": "counter",
    "fraud_warning_consumer_lag": "gauge",
    "fraud_warning_dispatch_arrival_seconds": "histogram",
    "fraud_warning_dispatch_on_time_ratio": "gauge",
}

#: Label names allowed on the engine's metrics: small closed sets only. A new label
#: belongs here once it is shown to be bounded (never a number, account or cell id).
BOUNDED_LABELS = {
    "type",
    "reason",
    "model_id",
    "version",
    "status",
    "priority",
    "typology",
    "stage",
    "side",
    "result",
    "topic",
    "partition",
    "le",
    "quantile",
}

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "gauge": ("",),
}

METRIC_NAME = re.compile(r"\bfraud_warning_[a-z0-9_]+\b")
# Digits a phone number or account would show; allowed label values have short numbers only.
PERSONAL = [
    re.compile(r"\+\d"),  # E.164
    re.compile(r"\d{7,}"),  # msisdn without +, bank account numbers
    re.compile(r"\A[A-Z]{2,4}\d{6,}\Z"),  # merchant accounts (MCH0123456789)
]

BAD_LINES = [
    b"{not json",
    b'{"event_id": "x2", "type": "fax", "ts": "2026-03-02T09:00:00+08:00"}',
]


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's `prometheus` package "
            "(apt-get install -y prometheus), as .ci/run does",
            pytrace=False,
        )
    return path


def run(promtool: str, *args: str, stdin: bytes | None = None, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [promtool, *args], input=stdin, capture_output=True, cwd=cwd, timeout=60, check=False
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("obs-city")
    argv = ["feed", "generate", "--subscribers", "600", "--hours", "2", "--seed", "4"]
    assert main([*argv, "--fraud-rate", "60", "--out", str(out), "--quiet"]) == 0
    with (out / "events.jsonl").open("ab") as fh:
        fh.write(b"\n".join(BAD_LINES) + b"\n")
    return out


@pytest.fixture(scope="module")
def exposition(city: Path) -> str:
    metrics = city / "metrics.prom"
    argv = ["score", str(city / "events.jsonl"), "--out", str(city / "alerts.jsonl")]
    refs = ["--cells", str(city / "cells.csv"), "--units", str(city / "units.csv")]
    refs += ["--subscribers", str(city / "subscribers.csv")]
    extra = ["--dispatch-out", str(city / "tasks.jsonl"), "--metrics-out", str(metrics)]
    assert main([*argv, *refs, *extra, "--quiet"]) == 0
    return metrics.read_text()


def personal_values(city: Path) -> set[str]:
    """Every phone number, account and cell id in the feed."""
    fields = ["caller", "callee", "sender", "receiver", "payer", "payer_account", "payee_account"]
    fields += ["caller_cell", "callee_cell", "sender_cell"]
    values: set[str] = set()
    for line in (city / "events.jsonl").read_bytes().splitlines():
        try:
            event: dict[str, Any] = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        values.update(str(event[f]) for f in fields if event.get(f))
    return values


def samples_of(name: str, kind: str) -> set[str]:
    """The sample names a family exposes (prometheus_client declares a counter with its
    `_total` name, and each `_created` as a gauge family of its own)."""
    name = name.removesuffix("_total") if kind == "counter" else name
    return {name + suffix for suffix in SUFFIXES.get(kind, ("",))}


def declared(text: str) -> dict[str, str]:
    """Families declared in an exposition (`# TYPE` lines), `_created` ones left out."""
    found = re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
    return {name: kind for name, kind in found if not name.endswith("_created")}


def sample_names(families: dict[str, str]) -> set[str]:
    return {s for name, kind in families.items() for s in samples_of(name, kind)}


def known_metrics(exposition: str) -> set[str]:
    names = sample_names(declared(exposition)) | sample_names(LIVE_METRICS)
    try:
        from fraud_warning.desk.metrics import DeskMetrics
    except ImportError:
        return names
    return names | sample_names(declared(DeskMetrics().exposition().decode()))


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", ())]
    exprs += [v["definition"] for v in dash["templating"]["list"] if v.get("definition")]
    return exprs


def alert_exprs() -> list[str]:
    doc = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    return [rule["expr"] for group in doc["groups"] for rule in group["rules"]]


# -- the exposition ---------------------------------------------------------------------


def test_score_exposition_passes_promtool(promtool: str, exposition: str) -> None:
    run(promtool, "check", "metrics", stdin=exposition.encode())
    assert 'fraud_warning_events_dead_lettered_total{reason="invalid_json"} 1.0' in exposition
    assert 'fraud_warning_events_consumed_total{type="transfer"}' in exposition
    assert "fraud_warning_alerts_total{" in exposition  # the feed raised alerts


def test_no_personal_data_in_labels(city: Path, exposition: str) -> None:
    assert "+86" not in exposition
    personal = personal_values(city)
    assert personal  # the feed has numbers, accounts and cells to look for
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            unbounded = set(sample.labels) - BOUNDED_LABELS
            assert not unbounded, f"{sample.name}: label(s) {unbounded} not known to be bounded"
            for label, value in sample.labels.items():
                where = f"{sample.name}{{{label}={value!r}}}"
                assert value not in personal, f"{where} is a number, account or cell id"
                assert not any(p.search(value) for p in PERSONAL), f"{where} looks personal"


# -- deploy/prometheus --------------------------------------------------------------------


def test_prometheus_config_is_valid(promtool: str) -> None:
    out = run(promtool, "check", "config", "prometheus.yml", cwd=PROMETHEUS)
    assert "SUCCESS" in out
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"fraud-warning-worker", "fraud-warning-desk"} <= jobs
    assert all(job.startswith("fraud-warning-") for job in jobs - {"prometheus"})


def test_alert_rules_are_valid_and_their_unit_tests_pass(promtool: str) -> None:
    run(promtool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    tests = sorted(p.name for p in PROMETHEUS.glob("*_test.yml"))
    assert "alerts_test.yml" in tests
    out = run(promtool, "test", "rules", *tests, cwd=PROMETHEUS)
    assert out.count("SUCCESS") == len(tests)


def test_every_alert_has_a_severity_and_a_runbook_section() -> None:
    doc = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    operations = (ROOT / "docs" / "operations.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", operations, re.MULTILINE)
    }
    for group in doc["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"page", "warning"}, rule["alert"]
            runbook = rule["annotations"]["runbook"]
            assert runbook.startswith("docs/operations.md#"), rule["alert"]
            assert runbook.split("#", 1)[1] in anchors, f"{rule['alert']}: {runbook}"


# -- what the dashboard and the rules query -------------------------------------------------


def test_dashboard_and_rules_query_only_metrics_that_exist(exposition: str) -> None:
    known = known_metrics(exposition)
    queried = {name for e in dashboard_exprs() + alert_exprs() for name in METRIC_NAME.findall(e)}
    assert queried, "nothing queried"
    missing = sorted(queried - known)
    assert not missing, f"queried but exposed by no runner: {missing}"


def test_dashboard_covers_the_engine_metrics(exposition: str) -> None:
    queried = {name for e in dashboard_exprs() for name in METRIC_NAME.findall(e)}
    families = declared(exposition) | LIVE_METRICS
    missing = sorted(f for f, kind in families.items() if not samples_of(f, kind) & queried)
    assert not missing, f"not on the dashboard: {missing}"


def test_dashboard_queries_are_promql(promtool: str, tmp_path: Path) -> None:
    """Each panel query, with Grafana's variables filled in, parses as PromQL."""
    exprs = [
        e.replace("$__rate_interval", "5m").replace("$job", ".*")
        for e in dashboard_exprs()
        if not e.startswith("label_values(")
    ]
    rules = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(promtool, "check", "rules", str(path))


def test_dashboard_is_importable_grafana_json() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 30
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dash["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for target in panel.get("targets", ()):
            assert target["refId"] and target["expr"], panel["title"]
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
