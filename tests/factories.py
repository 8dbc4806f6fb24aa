"""Factories for wire events and small scenarios used across the tests."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

T0 = datetime.fromisoformat("2026-03-02T09:00:00+08:00")


class Feed:
    """Builds a time-ordered list of wire events with unique ids."""

    def __init__(self, start: datetime = T0) -> None:
        self.start = start
        self.events: list[dict[str, Any]] = []

    def _ts(self, at_s: float) -> str:
        return (self.start + timedelta(seconds=at_s)).isoformat()

    def _id(self) -> str:
        return f"ev{len(self.events) + 1:06d}"

    def call(self, at_s: float, caller: str, callee: str, duration_s: int, **extra: Any) -> str:
        ev = {
            "event_id": self._id(),
            "type": "call",
            "ts": self._ts(at_s),
            "caller": caller,
            "callee": callee,
            "duration_s": duration_s,
            **extra,
        }
        self.events.append(ev)
        return str(ev["event_id"])

    def sms(self, at_s: float, sender: str, receiver: str, **extra: Any) -> str:
        ev = {
            "event_id": self._id(),
            "type": "sms",
            "ts": self._ts(at_s),
            "sender": sender,
            "receiver": receiver,
            **extra,
        }
        self.events.append(ev)
        return str(ev["event_id"])

    def transfer(
        self,
        at_s: float,
        payer: str,
        payee_account: str,
        amount_cny: float,
        channel: str = "mobile_banking",
        **extra: Any,
    ) -> str:
        ev = {
            "event_id": self._id(),
            "type": "transfer",
            "ts": self._ts(at_s),
            "payer": payer,
            "payer_account": "ACC" + payer[-6:],
            "payee_account": payee_account,
            "amount_cny": amount_cny,
            "channel": channel,
            **extra,
        }
        self.events.append(ev)
        return str(ev["event_id"])

    def sorted(self) -> list[dict[str, Any]]:
        return sorted(self.events, key=lambda e: e["ts"])

    def lines(self) -> list[bytes]:
        return [orjson.dumps(e) for e in self.sorted()]

    def write(self, path: Any) -> None:
        path.write_bytes(b"\n".join(self.lines()) + b"\n")


def subscriber(i: int) -> str:
    return f"+86138{i:08d}"


def mass_dialler_scenario(
    feed: Feed, caller: str = "+85260001234", victims: int = 1, fanout: int = 40
) -> list[str]:
    """A risky-origin number rings `fanout` subscribers briefly, holds `victims` long,
    and each victim then pays a new payee. Returns the victims' numbers."""
    for i in range(fanout):
        feed.call(i * 20, caller, subscriber(1000 + i), 5, origin="overseas")
    held = [subscriber(5000 + j) for j in range(victims)]
    for j, victim in enumerate(held):
        feed.call(900 + j * 60, caller, victim, 1800, origin="overseas", callee_cell="C1")
        feed.transfer(900 + j * 60 + 2100, victim, "MULE-1", 8000)
    return held


def score_argv(code: str, root: Path, city: Path, out: Path) -> list[str]:
    """A child `python -c code score ...` over a generated `city` with the shipped rules
    and models under `root`, writing alerts.jsonl and tasks.jsonl into `out`."""
    argv = [sys.executable, "-c", code, "score", str(city / "events.jsonl")]
    argv += ["--rules", str(root / "rules"), "--models", str(root / "models")]
    argv += ["--cells", str(city / "cells.csv"), "--subscribers", str(city / "subscribers.csv")]
    argv += ["--out", str(out / "alerts.jsonl"), "--dispatch-out", str(out / "tasks.jsonl")]
    return argv
