"""Topic names, partition count, broker URLs and record keys of the distributed runner.

Keys, and why (the stages are in :mod:`fraud_warning.stages.tasks`):
- **input key** (the `fw.events` record key): the caller of a call, the sender of an
  SMS, the payer of a transfer. The first stage is the number side: number features
  (one number reaching hundreds of subscribers) are per calling number, so its calls
  must meet on one partition. Transfers have no number side; keyed by payer they
  pass through to the payer's victim partition.
- **victim key**: the subscriber an event happens to or is made by. The number stage
  sends each call to its callee's and its caller's victim partitions, where contacts,
  strangers' calls and transfers meet; flagged numbers go to every victim partition.
- **payee key**: the payee account of a transfer (the money-mule viewpoint).

Partitions are chosen with the Java/aiokafka/Faust partitioner (murmur2 of the key
bytes), so a key lands on the same partition whoever produced it. librdkafka-based
clients (confluent-kafka) default to CRC32 and must set `partitioner=murmur2_random`
to agree.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass

from fraud_warning.murmur import Partitioner, partition_for
from fraud_warning.settings import env
from fraud_warning.wire import Call, Sms, Transfer, WireEvent

DEFAULT_PORT = 9092
DEFAULT_PARTITIONS = 8  # room for 8 workers; more partitions than workers is harmless
SCHEMES = ("kafka", "fwkafka", "aiokafka")


@dataclass(frozen=True)
class Topics:
    """The four topics of the wire contract (names overridable per deployment), and the
    shadow log: what shadow and experimental models fired on, never paged."""

    events: str = "fw.events"
    alerts: str = "fw.alerts"
    dispatch: str = "fw.dispatch"
    dead_letter: str = "fw.dead-letter"
    shadow: str = "fw.shadow"

    @classmethod
    def from_env(cls) -> Topics:
        """`FW_EVENTS_TOPIC`, `FW_ALERTS_TOPIC`, `FW_DISPATCH_TOPIC`, `FW_DEAD_LETTER_TOPIC`,
        `FW_SHADOW_TOPIC`."""
        d = cls()
        return cls(
            events=env("events_topic", d.events) or d.events,
            alerts=env("alerts_topic", d.alerts) or d.alerts,
            dispatch=env("dispatch_topic", d.dispatch) or d.dispatch,
            dead_letter=env("dead_letter_topic", d.dead_letter) or d.dead_letter,
            shadow=env("shadow_topic", d.shadow) or d.shadow,
        )


def partitions_from_env() -> int:
    """`FW_PARTITIONS`, else :data:`DEFAULT_PARTITIONS`."""
    text = env("partitions")
    if text is None:
        return DEFAULT_PARTITIONS
    value = int(text)
    if value <= 0:
        raise ValueError(f"FW_PARTITIONS must be positive: {value}")
    return value


def add_topic_flags(p: argparse.ArgumentParser) -> None:
    """`--events-topic --alerts-topic --dispatch-topic --dead-letter-topic --shadow-topic`
    (for the worker)."""
    d = Topics.from_env()
    g = p.add_argument_group("topics")
    g.add_argument("--events-topic", default=d.events, help="input [FW_EVENTS_TOPIC; fw.events]")
    g.add_argument("--alerts-topic", default=d.alerts, help="[FW_ALERTS_TOPIC; fw.alerts]")
    g.add_argument("--dispatch-topic", default=d.dispatch, help="[FW_DISPATCH_TOPIC; fw.dispatch]")
    g.add_argument(
        "--dead-letter-topic", default=d.dead_letter, help="[FW_DEAD_LETTER_TOPIC; fw.dead-letter]"
    )
    g.add_argument(
        "--shadow-topic", default=d.shadow, help="the shadow log [FW_SHADOW_TOPIC; fw.shadow]"
    )


def topics_from_args(args: argparse.Namespace) -> Topics:
    return Topics(
        args.events_topic,
        args.alerts_topic,
        args.dispatch_topic,
        args.dead_letter_topic,
        args.shadow_topic,
    )


def bootstrap_servers(url: str) -> list[str]:
    """`host:port` list from a broker URL: `kafka://a:9092;b:9092`, `a:9092,b`, `fwkafka://a`.

    >>> bootstrap_servers("kafka://127.0.0.1:9092;127.0.0.2")
    ['127.0.0.1:9092', '127.0.0.2:9092']
    """
    servers: list[str] = []
    for part in url.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        scheme, sep, rest = part.partition("://")
        if sep and scheme not in SCHEMES:
            raise ValueError(f"not a Kafka URL: {part!r} (schemes: {', '.join(SCHEMES)})")
        hostport = (rest if sep else part).split("/", 1)[0].split("?", 1)[0]
        host, colon, port = hostport.rpartition(":")
        if not colon:
            host, port = hostport, str(DEFAULT_PORT)
        if not host or not port.isdigit():
            raise ValueError(f"not host:port: {part!r}")
        servers.append(f"{host}:{port}")
    if not servers:
        raise ValueError(f"no broker in {url!r}")
    return servers


#: The record header of a watermark record: "no event earlier than this time follows on
#: this partition" (seconds since the epoch, as a decimal string; the value is `[]`).
MARK_HEADER = "fw-mark"

# Which field holds each viewpoint's key, per event type (the wire contract's names).
VICTIM_FIELD: Mapping[str, str] = {"call": "callee", "sms": "receiver", "transfer": "payer"}
NUMBER_FIELD: Mapping[str, str] = {"call": "caller", "sms": "sender"}
PAYEE_FIELD: Mapping[str, str] = {"transfer": "payee_account"}
#: The input topic's key: the number side's, and a transfer's payer (passed on untouched).
INPUT_FIELD: Mapping[str, str] = {"call": "caller", "sms": "sender", "transfer": "payer"}

_TYPE_OF: Mapping[type, str] = {Call: "call", Sms: "sms", Transfer: "transfer"}


def _key(event: WireEvent | Mapping[str, object], fields: Mapping[str, str]) -> str | None:
    if isinstance(event, Mapping):
        kind = event.get("type")
        field = fields.get(kind) if isinstance(kind, str) else None
        value = event.get(field) if field else None
    else:
        field = fields.get(_TYPE_OF[type(event)])
        value = getattr(event, field) if field else None
    return value if isinstance(value, str) and value else None


def input_key(event: WireEvent | Mapping[str, object]) -> str | None:
    """The key events are published under: caller, SMS sender or payer (None if absent)."""
    return _key(event, INPUT_FIELD)


def victim_key(event: WireEvent | Mapping[str, object]) -> str | None:
    """The subscriber the event happens to: callee, receiver or payer (None if absent)."""
    return _key(event, VICTIM_FIELD)


def number_key(event: WireEvent | Mapping[str, object]) -> str | None:
    """The calling number: caller or SMS sender; None for transfers."""
    return _key(event, NUMBER_FIELD)


def payee_key(event: WireEvent | Mapping[str, object]) -> str | None:
    """The receiving account of a transfer; None for calls and SMS."""
    return _key(event, PAYEE_FIELD)


__all__ = [
    "DEFAULT_PARTITIONS",
    "INPUT_FIELD",
    "MARK_HEADER",
    "NUMBER_FIELD",
    "PAYEE_FIELD",
    "VICTIM_FIELD",
    "Partitioner",
    "Topics",
    "add_topic_flags",
    "bootstrap_servers",
    "input_key",
    "number_key",
    "partition_for",
    "partitions_from_env",
    "payee_key",
    "topics_from_args",
    "victim_key",
]
