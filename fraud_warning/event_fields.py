"""Where each field of a wire event sits in its tuple of fields (`msgspec.structs.astuple`).

Compiled code reads an attribute of a msgspec struct through Python's generic attribute
lookup, about 230 instructions a read, and the joins read an event's numbers several
times each. So a decoded event's fields are taken once, as a tuple
(:attr:`fraud_warning.decode.Decoded.fields`, one C call), and the compiled stages index
it with these constants: literal `Final`s, which mypyc inlines where they are used.
Importing this module checks them against the wire structs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from msgspec.structs import astuple

from fraud_warning.wire import Call, Sms, Transfer

# every wire event
EVENT_ID: Final = 0
TS: Final = 1

CALL_CALLER: Final = 2
CALL_CALLEE: Final = 3
CALL_DURATION_S: Final = 4
CALL_CALLER_CELL: Final = 5
CALL_CALLEE_CELL: Final = 6
CALL_ORIGIN: Final = 7

SMS_SENDER: Final = 2
SMS_RECEIVER: Final = 3
SMS_TEXT: Final = 4
SMS_HAS_URL: Final = 5
SMS_SENDER_CELL: Final = 6

TRANSFER_PAYER: Final = 2
TRANSFER_PAYER_ACCOUNT: Final = 3
TRANSFER_PAYEE_ACCOUNT: Final = 4
TRANSFER_AMOUNT_CNY: Final = 5
TRANSFER_CHANNEL: Final = 6

#: An event's fields as a tuple, in the struct's field order.
fields_of: Final = astuple

_LAYOUT: Final[dict[type[msgspec.Struct], dict[str, int]]] = {
    Call: {
        "event_id": EVENT_ID,
        "ts": TS,
        "caller": CALL_CALLER,
        "callee": CALL_CALLEE,
        "duration_s": CALL_DURATION_S,
        "caller_cell": CALL_CALLER_CELL,
        "callee_cell": CALL_CALLEE_CELL,
        "origin": CALL_ORIGIN,
    },
    Sms: {
        "event_id": EVENT_ID,
        "ts": TS,
        "sender": SMS_SENDER,
        "receiver": SMS_RECEIVER,
        "text": SMS_TEXT,
        "has_url": SMS_HAS_URL,
        "sender_cell": SMS_SENDER_CELL,
    },
    Transfer: {
        "event_id": EVENT_ID,
        "ts": TS,
        "payer": TRANSFER_PAYER,
        "payer_account": TRANSFER_PAYER_ACCOUNT,
        "payee_account": TRANSFER_PAYEE_ACCOUNT,
        "amount_cny": TRANSFER_AMOUNT_CNY,
        "channel": TRANSFER_CHANNEL,
    },
}


def layout_errors(
    layout: Mapping[type[msgspec.Struct], Mapping[str, int]] | None = None,
) -> list[str]:
    """Where field-position constants disagree with their structs' field order (none,
    or a struct's fields were reordered without updating its constants); by default
    this module's, for the wire structs."""
    errors = []
    for struct, at in (_LAYOUT if layout is None else layout).items():
        names = tuple(field.name for field in msgspec.structs.fields(struct))
        if sorted(at.values()) != list(range(len(names))):
            errors.append(f"{struct.__name__}: {len(names)} fields, {len(at)} positions")
        errors.extend(
            f"{struct.__name__}.{name} is field {names.index(name) if name in names else '-'},"
            f" not {i}"
            for name, i in at.items()
            if i >= len(names) or names[i] != name
        )
    return errors


def require_layout(layout: Mapping[type[msgspec.Struct], Mapping[str, int]], owner: str) -> None:
    """Refuse to import `owner` when its field positions disagree with its structs: an
    index into the wrong field would read another value without any error."""
    errors = layout_errors(layout)
    if errors:
        raise ImportError(f"{owner}: field positions out of step: " + "; ".join(errors))


require_layout(_LAYOUT, "fraud_warning.event_fields")

__all__ = [
    "CALL_CALLEE",
    "CALL_CALLEE_CELL",
    "CALL_CALLER",
    "CALL_CALLER_CELL",
    "CALL_DURATION_S",
    "CALL_ORIGIN",
    "EVENT_ID",
    "SMS_HAS_URL",
    "SMS_RECEIVER",
    "SMS_SENDER",
    "SMS_SENDER_CELL",
    "SMS_TEXT",
    "TRANSFER_AMOUNT_CNY",
    "TRANSFER_CHANNEL",
    "TRANSFER_PAYEE_ACCOUNT",
    "TRANSFER_PAYER",
    "TRANSFER_PAYER_ACCOUNT",
    "TS",
    "fields_of",
    "layout_errors",
    "require_layout",
]
