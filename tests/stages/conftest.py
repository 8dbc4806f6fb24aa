"""A generated city, its decoded events and the embedded engine's alerts, shared by the
stage tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fraud_warning.cli import main
from fraud_warning.decode import Decoded, Decoder
from fraud_warning.engine import Engine
from fraud_warning.refdata import RefData, load_refdata
from fraud_warning.registry import Registry, load_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Decoded], Registry, RefData]:
    out = tmp_path_factory.mktemp("city")
    argv = ["feed", "generate", "--subscribers", "3000", "--hours", "12", "--seed", "17"]
    assert main([*argv, "--fraud-rate", "40", "--out", str(out), "--quiet"]) == 0
    lines = (out / "events.jsonl").read_bytes().splitlines()
    good, dead = Decoder().decode_lines(enumerate(lines))
    assert not dead
    registry = load_registry(ROOT / "rules", ROOT / "models")
    refdata = load_refdata(out / "cells.csv", None, out / "subscribers.csv")
    return good, registry, refdata


def canonical(alerts: list[dict[str, object]]) -> list[str]:
    return sorted(json.dumps(a, sort_keys=True) for a in alerts)


@pytest.fixture(scope="session")
def embedded(city: tuple[list[Decoded], Registry, RefData]) -> list[str]:
    events, registry, refdata = city
    alerts = canonical(Engine(registry, refdata).process(events).alerts)
    # a feed where nothing fires would prove nothing: every side must have alerted
    assert len(alerts) > 50
    typologies = {json.loads(a)["typology"] for a in alerts}
    assert {"fraud_number", "suspected_fraud_transfer"} <= typologies
    return alerts


# Stable rules over window features on every side, so that what crosses between stages
# (SMS texts to V, the payer's windows to P, number windows in N) is in the comparison.
WINDOWED = {
    "number/short-fanout-10m.yaml": """\
id: t-short-fanout-10m
version: 1
title: many distinct short calls in 10 min
typology: fraud_number
status: stable
priority: P2
owner: t
on: number
features:
  short_callees_10m: distinct(call.callee, within=10m, where=call.duration_s < 30)
  link_sms_1h: count(sms, within=1h, where=sms.has_url)
condition: short_callees_10m >= 12 or link_sms_1h >= 30
score: 0.7
reasons: ["{short_callees_10m:.0f} short calls to distinct subscribers in 10 min"]
""",
    "number/link-blast-30m.yaml": """\
id: t-link-blast-30m
version: 1
title: links to many in half an hour
typology: fraud_number
status: stable
priority: P2
owner: t
on: number_sms
features:
  link_receivers_30m: distinct(sms.receiver, within=30m, where=sms.has_url)
condition: link_receivers_30m >= 8
score: 0.7
reasons: ["{link_receivers_30m:.0f} receivers"]
""",
    "victim/new-payees-1h.yaml": """\
id: t-new-payees-1h
version: 1
title: several new payees in an hour after a stranger's long call
typology: suspected_fraud_transfer
status: stable
priority: P2
owner: t
on: transfer
features:
  new_payees_1h: distinct(transfer.payee_account, within=1h, where=transfer.payee_is_new)
  risky_min_2h: sum(call.duration_s / 60, within=2h, where=call.origin in $risky-origins)
condition: new_payees_1h >= 2 and risky_min_2h >= 5
score: 0.7
reasons: ["{new_payees_1h:.0f} new payees in 1 h", "{risky_min_2h:.0f} min"]
""",
    "victim/lure-call.yaml": """\
id: t-lure-call
version: 1
title: a call after a lure SMS
typology: suspected_fraud_call
status: stable
priority: P3
owner: t
on: call
features:
  lure_sms_24h: count(sms, within=24h, where=sms.text contains $lure-keywords)
condition: lure_sms_24h >= 1 and call_duration_s >= 120
score: 0.5
reasons: ["{lure_sms_24h:.0f} lure SMS"]
""",
}


@pytest.fixture(scope="session")
def windowed(
    city: tuple[list[Decoded], Registry, RefData], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Registry, list[str]]:
    """The shipped rules plus WINDOWED, and the embedded engine's alerts with them."""
    events, _, refdata = city
    rules = tmp_path_factory.mktemp("windowed")
    shutil.copytree(ROOT / "rules", rules, dirs_exist_ok=True)
    for name, text in WINDOWED.items():
        (rules / name).write_text(text)
    registry = load_registry(rules)
    alerts = canonical(Engine(registry, refdata).process(events).alerts)
    fired = {m["id"] for a in map(json.loads, alerts) for m in a["models"]}  # type: ignore[index]
    assert {"t-short-fanout-10m", "t-link-blast-30m", "t-new-payees-1h", "t-lure-call"} <= fired
    return registry, alerts
