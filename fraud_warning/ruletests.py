"""Runs the `tests:` block of rule files: example events that must make a rule fire,
or must leave it quiet, through the real engine.

The rule under test runs as if `stable` (its status decides who is paged, not what it
detects), beside the registry's number-side rules, because cross-viewpoint rules such
as "a transfer after talking to a flagged number" need the number side to flag first.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from fraud_warning.decode import Decoder
from fraud_warning.engine import Engine
from fraud_warning.features import NUMBER_KINDS
from fraud_warning.registry import Registry, RegistryError
from fraud_warning.rules import Rule, RuleTest

#: Offsets in test events count from here (a Monday morning in the city's time zone).
BASE = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
_OFFSET = re.compile(r"^\+(\d{1,6}(?:\.\d{1,3})?)(s|m|h)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600}


def _event_line(event: dict[str, Any], index: int) -> bytes:
    event = dict(event)
    event.setdefault("event_id", f"test-{index}")
    ts = event.get("ts")
    if isinstance(ts, str):
        match = _OFFSET.match(ts)
        if match:
            seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
            event["ts"] = (BASE + timedelta(seconds=seconds)).isoformat()
    return orjson.dumps(event)


def _fired(
    rule: Rule,
    test: RuleTest,
    context: Sequence[Rule],
    where: str,
    lists: Mapping[str, tuple[str, ...]],
) -> bool | str:
    """Whether the rule fired on the test's events, or a message if they do not decode."""
    lines = [_event_line(ev, i) for i, ev in enumerate(test.events, start=1)]
    good, bad = Decoder(where).decode_lines(enumerate(lines, start=1))
    if bad:
        first = bad[0]
        return f"event {first.offset} is not a valid event ({first.reason}: {first.detail})"
    stable = dataclasses.replace(rule, spec=rule.spec.model_copy(update={"status": "stable"}))
    others = [r for r in context if r.spec.id != rule.spec.id]
    try:
        registry = Registry.of([stable, *others], lists=lists)
    except RegistryError as exc:
        return str(exc).splitlines()[0]
    out = Engine(registry).process(good)
    return any(m["id"] == rule.spec.id for alert in out.alerts for m in alert["models"])


def run_rule_tests(
    rule: Rule,
    context: Sequence[Rule] = (),
    lists: Mapping[str, tuple[str, ...]] | None = None,
) -> list[str]:
    """Failures as `file:line: rule-id test 'name': why`; empty when all pass. `lists`:
    the named lists the rule's window features read."""
    failures = []
    for test, line in zip(rule.spec.tests, rule.test_lines, strict=True):
        where = f"{rule.source}:{line}"
        fired = _fired(rule, test, context, where, lists or {})
        if isinstance(fired, str):
            failures.append(f"{where}: {rule.spec.id} test '{test.name}': {fired}")
        elif fired != (test.expect == "fire"):
            did = "fired" if fired else "stayed quiet"
            failures.append(
                f"{where}: {rule.spec.id} test '{test.name}': expected {test.expect}, {did}"
            )
    return failures


def run_registry_tests(registry: Registry) -> tuple[int, list[str]]:
    """(tests run, failures) over every rule; number-side stable rules are the context."""
    context = [
        r for kind in sorted(NUMBER_KINDS) for r in registry.by_kind.get(kind, ()) if r.pages
    ]
    count, failures = 0, []
    for rule in registry:
        count += len(rule.spec.tests)
        failures += run_rule_tests(rule, context, registry.lists)
    return count, failures


__all__ = ["BASE", "run_registry_tests", "run_rule_tests"]
