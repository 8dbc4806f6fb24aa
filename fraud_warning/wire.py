"""Hot-path event structs (msgspec): the same contract as :mod:`fraud_warning.contracts`.

msgspec validates in C while it parses, about 880k events/s on one core here against
88k/s for pydantic, so the engine decodes with these and the pydantic models stay the
documented schema. `tests/test_wire.py` holds both to the same records.

Two checks are the decoder's, not the structs' (`fraud_warning.decode`): phone numbers
against :data:`E164_PATTERN` and the event time's year. Decode events with `Decoder`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from fraud_warning.textcheck import year_within

# \Z, not $: Python's re (lists.py's check) matches $ also before a final "\n".
E164_PATTERN = r"^\+[1-9][0-9]{5,15}\Z"
# Not a msgspec pattern: msgspec runs one through Python's re, about 0.7 µs a field and a
# third of decoding an event. `textcheck.is_e164` checks these fields (in C) instead.
E164 = str
AwareTs = Annotated[datetime, msgspec.Meta(tz=True)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
Origin = Literal["mobile", "fixed", "virtual_operator", "overseas", "voip_gateway"]
Channel = Literal["mobile_banking", "third_party_payment", "atm", "counter"]

RISKY_ORIGINS = frozenset({"overseas", "voip_gateway", "virtual_operator"})
VIRTUAL_PREFIXES = ("+86170", "+86171")
MAX_AMOUNT_CNY = 1e12  # larger is a corrupt record, not a transfer
MAX_DURATION_S = 7 * 86_400  # a week of talk time: longer is a corrupt record, not a call
# Event times outside these years are corrupt clocks (a zeroed or maxed-out field), not
# events: one such time would otherwise drag the event-time watermark decades away.
# msgspec has no range constraint for datetimes, so the decoder checks this after parsing.
MIN_YEAR = 2000
MAX_YEAR = 2099


class Call(msgspec.Struct, tag_field="type", tag="call", gc=False):
    event_id: NonEmpty
    ts: AwareTs
    caller: E164
    callee: E164
    duration_s: Annotated[int, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
    caller_cell: str | None = None
    callee_cell: str | None = None
    origin: Origin | None = None


class Sms(msgspec.Struct, tag_field="type", tag="sms", gc=False):
    event_id: NonEmpty
    ts: AwareTs
    sender: E164
    receiver: E164
    text: str | None = None
    has_url: bool | None = None
    sender_cell: str | None = None


class Transfer(msgspec.Struct, tag_field="type", tag="transfer", gc=False):
    event_id: NonEmpty
    ts: AwareTs
    payer: E164
    payer_account: NonEmpty
    payee_account: NonEmpty
    amount_cny: Annotated[float, msgspec.Meta(gt=0, le=MAX_AMOUNT_CNY)]
    channel: Channel


WireEvent = Call | Sms | Transfer


def ts_in_range(ts: datetime) -> bool:
    """Whether an event time's (local) year is one a real event can carry (the decoder's
    own check, `textcheck.year_within`, with the contract's bounds)."""
    return year_within(ts, MIN_YEAR, MAX_YEAR)


def derive_origin(number: str) -> str:
    """The contract's rule for a call without `origin`: non-+86 is overseas,
    +86 170/171 is a virtual operator, anything else a mobile line."""
    if not number.startswith("+86"):
        return "overseas"
    if number.startswith(VIRTUAL_PREFIXES):
        return "virtual_operator"
    return "mobile"


__all__ = [
    "MAX_AMOUNT_CNY",
    "MAX_DURATION_S",
    "MAX_YEAR",
    "MIN_YEAR",
    "RISKY_ORIGINS",
    "Call",
    "Sms",
    "Transfer",
    "WireEvent",
    "derive_origin",
    "ts_in_range",
]
