"""Join stage: applies each event to the three viewpoints' state and snapshots features.

Each viewpoint is a side that reads and writes only its own keys' state:

- the number side (key: calling number / SMS sender) keeps the call shape per number
  and hands the victim side the caller's fan-out and flag at the call;
- the victim side (key: subscriber) keeps contacts, strangers' contacts and transfers,
  and reads the number side only through the flag table;
- the payee side (key: payee account) keeps each account's recent payers.

The embedded runner calls the three in turn on one store (:class:`Joiner`); the
distributed runner runs each side in its own stage, keyed by its own key, and passes
the same values between them, so both compute the same rows.

Snapshots are taken from state as it was *before* the event is applied (a transfer's
payee is "new" if the payer had not paid it before), then the event is applied.
Only trigger kinds that have models are snapshotted, so unused features cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mypy_extensions import mypyc_attr

from fraud_warning.event_fields import (
    CALL_CALLEE,
    CALL_CALLEE_CELL,
    CALL_CALLER,
    CALL_CALLER_CELL,
    CALL_DURATION_S,
    CALL_ORIGIN,
    SMS_HAS_URL,
    SMS_RECEIVER,
    SMS_SENDER,
    SMS_SENDER_CELL,
    SMS_TEXT,
    TRANSFER_AMOUNT_CNY,
    TRANSFER_CHANNEL,
    TRANSFER_PAYEE_ACCOUNT,
    TRANSFER_PAYER,
    fields_of,
)
from fraud_warning.features import (
    VICTIM_CONTEXT,
    FeatureConfig,
    caller_features,
    number_features,
    payee_features,
    payer_features,
    sender_features,
    victim_context,
)
from fraud_warning.refdata import RefData, is_elderly
from fraud_warning.state import (
    CALL,
    SMS,
    Credit,
    Half,
    Inbound,
    Keyed,
    NumberState,
    Payment,
    StateStore,
)
from fraud_warning.windows import EMPTY, Windows
from fraud_warning.wire import RISKY_ORIGINS, Call, Sms, Transfer, derive_origin

LINK_SMS: Final = VICTIM_CONTEXT.index("url_sms_unknown_24h")
RISK_CONTEXT: Final = VICTIM_CONTEXT.index("risk_context")
SHORT_CALL_S: Final = 30
LONG_CALL_S: Final = 300
_FIELDS_OF: Final = fields_of  # in a C static when compiled


@mypyc_attr(acyclic=True)  # numbers only: no cycle (see state.Subscriber)
class Caller:
    """What the number side tells the victim side about a caller (or SMS sender) at one
    event: its distinct callees in the last hour and whether it was flagged, both taken
    after the event was counted and before the number's rules ran on it.

    A plain class, not a NamedTuple: compiled, it is built natively, where a NamedTuple
    is built through an interpreted `__new__` on every call and SMS."""

    __slots__ = ("fanout", "flagged")

    def __init__(self, fanout: float, flagged: bool) -> None:
        self.fanout: float = fanout
        self.flagged: bool = flagged


@mypyc_attr(acyclic=True)  # lists, a dict of numbers: no cycle
class PayerHalf:
    """What the victim side hands the payee side for one transfer."""

    __slots__ = ("context", "payer", "windows")

    def __init__(
        self, context: list[float], payer: list[float] | None, windows: dict[str, float]
    ) -> None:
        self.context: list[float] = context  # VICTIM_CONTEXT of the payer
        # the payer's half of TRANSFER; None below the amount gate
        self.payer: list[float] | None = payer
        self.windows: dict[str, float] = windows  # rule-defined window features, by id


class Sides:
    """Site data and wanted trigger kinds shared by the three sides."""

    def __init__(
        self,
        refdata: RefData,
        wanted: Mapping[str, float],
        config: FeatureConfig | None = None,
        windows: Windows | None = None,
    ) -> None:
        """`wanted` maps each trigger kind that has models to the least value of its
        event-level gate feature (a call's duration, a transfer's amount) any model needs:
        below it the row is not built at all. `windows` are the registry's rule-defined
        features, recorded per key and appended to the rows."""
        self.config = config or FeatureConfig()
        self._service = self.config.service_prefixes
        self._trusted = self.config.trusted_numbers
        self.elderly = frozenset(
            m for m, s in refdata.subscribers.items() if is_elderly(s.age_band)
        )
        self.windows = windows or EMPTY
        self.set_wanted(wanted)

    def set_wanted(self, wanted: Mapping[str, float], windows: Windows | None = None) -> None:
        """Change which trigger rows are built (a registry swap). State is recorded the
        same whatever is wanted, so rows built after the change see earlier events; a
        rule-defined window new to the swap starts recording at it."""
        self.kinds = frozenset(wanted)
        self.min_call_s = wanted.get("call", float("inf"))
        self.min_amount = wanted.get("transfer", float("inf"))
        if windows is not None:
            self.windows = windows

    def is_service(self, number: str) -> bool:
        return number.startswith(self._service) or number in self._trusted


class NumberSide:
    """Number-side state: keyed by the calling number (or the SMS sender).

    The sides take an event's fields as arguments, not the event: the embedded runner
    reads them off the decoded event's field tuple, the stages off their records, each
    field once (see :mod:`fraud_warning.event_fields`)."""

    def __init__(self, sides: Sides, numbers: Half) -> None:
        self.sides = sides
        self.numbers = numbers

    def call(
        self, caller: str, callee: str, duration_s: int, origin: str | None, ts: float
    ) -> tuple[Caller, list[float] | None]:
        """Count a call; returns the caller as the victim side sees it and the number's
        own row when number rules should run on it."""
        number = self.numbers.touch(caller, ts)
        number.roll(ts)
        number.calls += 1
        number.add_callee(callee)
        if duration_s < SHORT_CALL_S:
            number.short_calls += 1
        elif duration_s >= LONG_CALL_S:
            number.long_calls += 1
        number.risky_origin = origin in RISKY_ORIGINS
        windows = self.sides.windows
        if windows.records("number:call"):
            # in windowlang.FIELDS order, as every tuple handed to windows.record
            fields = (callee, duration_s, origin or derive_origin(caller))
            windows.record(number, "number:call", ts, fields)
        return self._seen(number, caller, "number", ts)

    def sms(
        self, sender: str, receiver: str, text: str | None, has_url: bool | None, ts: float
    ) -> tuple[Caller, list[float] | None]:
        """Count an SMS; returns the sender as the victim side sees it and the number's
        own row when its SMS rules (`on: number_sms`) should run on it."""
        number = self.numbers.touch(sender, ts)
        number.roll(ts)
        number.add_callee(receiver)
        windows = self.sides.windows
        if windows.records("number:sms"):
            windows.record(number, "number:sms", ts, (receiver, text or "", bool(has_url)))
        return self._seen(number, sender, "number_sms", ts)

    def _seen(
        self, number: NumberState, key: str, kind: str, ts: float
    ) -> tuple[Caller, list[float] | None]:
        """The number as the victim side sees it, and its own row for the rules of `kind`
        (none once flagged, for a service, or when no rule reads the kind)."""
        flagged = number.flagged(ts)
        sides = self.sides
        row = None
        if kind in sides.kinds and not flagged and not sides.is_service(key):
            row = number_features(number, ts)
            if sides.windows.columns(kind):
                row += sides.windows.values(number, kind, ts)
        return Caller(number.fanout(ts), flagged), row


class VictimSide:
    """Victim-side state: keyed by subscriber; reads the number side only via `flags`."""

    def __init__(self, sides: Sides, victims: Half, flags: Mapping[str, float]) -> None:
        self.sides = sides
        self.victims = victims
        self.flags = flags

    def call_made(self, caller: str, callee: str, caller_cell: str | None, ts: float) -> None:
        """The caller's half of a call: whom you call is someone you know."""
        state = self.victims.touch(caller, ts)
        if caller_cell:
            state.set_cell(caller_cell)
        state.add_contact(callee)

    def call_received(
        self,
        caller: str,
        callee: str,
        callee_cell: str | None,
        duration_s: int,
        origin: str | None,
        ts: float,
        seen: Caller,
    ) -> list[float] | None:
        """The callee's half: a stranger's call is recorded; returns the call row if wanted."""
        state = self.victims.touch(callee, ts)
        if callee_cell:
            state.set_cell(callee_cell)
        sides = self.sides
        service, known = sides.is_service(caller), state.knows(caller)
        windows = sides.windows
        if windows.records("victim:call"):
            how = origin or derive_origin(caller)
            fields = (caller, duration_s, how, known, service, seen.fanout, seen.flagged)
            windows.record(state, "victim:call", ts, fields)
        if service or known:
            return None
        risky = origin in RISKY_ORIGINS
        # appended first: a warning raised on this call should count this call
        state.add_inbound(Inbound(ts, caller, duration_s, risky, CALL, False, seen.fanout))
        if duration_s < sides.min_call_s:
            return None
        context = victim_context(state, ts, self.flags, callee in sides.elderly)
        row = context + caller_features(duration_s, risky, seen.fanout, seen.flagged)
        if windows.columns("call"):
            row += windows.values(state, "call", ts)
        return row

    def sms_sent(self, sender: str, receiver: str, sender_cell: str | None, ts: float) -> None:
        state = self.victims.touch(sender, ts)
        if sender_cell:
            state.set_cell(sender_cell)
        state.add_contact(receiver)

    def sms_received(
        self,
        sender: str,
        receiver: str,
        text: str | None,
        has_url: bool | None,
        ts: float,
        seen: Caller,
    ) -> list[float] | None:
        state = self.victims.touch(receiver, ts)
        sides = self.sides
        service, known = sides.is_service(sender), state.knows(sender)
        url = bool(has_url)
        windows = sides.windows
        if windows.records("victim:sms"):
            fields = (sender, text or "", url, known, service, seen.fanout, seen.flagged)
            windows.record(state, "victim:sms", ts, fields)
        if service or known:
            return None
        state.add_inbound(Inbound(ts, sender, 0, False, SMS, url, seen.fanout))
        if "sms" not in sides.kinds:
            return None
        context = victim_context(state, ts, self.flags, receiver in sides.elderly)
        row = context + sender_features(url, seen.fanout, seen.flagged)
        if windows.columns("sms"):
            row += windows.values(state, "sms", ts)
        return row

    def transfer(
        self, payer: str, payee_account: str, amount_cny: float, channel: str, ts: float
    ) -> PayerHalf:
        """The payer's half of a transfer, then the transfer is recorded."""
        state = self.victims.touch(payer, ts)
        context = victim_context(state, ts, self.flags, payer in self.sides.elderly)
        half = None
        if amount_cny >= self.sides.min_amount:
            half = payer_features(state, payee_account, amount_cny, ts)
        was_new = not state.has_paid(payee_account)
        state.add_transfer(Payment(ts, payee_account, amount_cny, was_new))
        state.add_payee(payee_account)
        windows = self.sides.windows
        if windows.records("victim:transfer"):
            fields = (payee_account, amount_cny, was_new, channel)
            windows.record(state, "victim:transfer", ts, fields)
        extra = windows.by_id(state, "transfer", ts) if half is not None else {}
        return PayerHalf(context, half, extra)


class PayeeSide:
    """Payee-side state: keyed by the receiving account."""

    def __init__(self, sides: Sides, payees: Keyed) -> None:
        self.sides = sides
        self.payees = payees

    def transfer(
        self, payer: str, payee_account: str, amount_cny: float, ts: float, half: PayerHalf
    ) -> list[float] | None:
        """Complete the transfer row (when the payer's half was wanted), then record it."""
        payee = self.payees.touch(payee_account, ts)
        row = None
        if half.payer is not None:
            row = half.context + half.payer + payee_features(payee, ts)
            if self.sides.windows.columns("transfer"):
                row += self.sides.windows.from_ids(half.windows, "transfer")
        context = half.context
        payee.add(Credit(ts, payer, amount_cny, context[RISK_CONTEXT] > 0, context[LINK_SMS] > 0))
        return row


class Joiner:
    """The three sides on one store, in the order the distributed stages run them."""

    def __init__(
        self,
        store: StateStore,
        refdata: RefData,
        wanted: Mapping[str, float],
        config: FeatureConfig | None = None,
        windows: Windows | None = None,
    ) -> None:
        self.store = store
        self.sides = Sides(refdata, wanted, config, windows)
        self.kinds = self.sides.kinds
        self.number = NumberSide(self.sides, store.numbers)
        self.victim = VictimSide(self.sides, store.victims, store.flags)
        self.payee = PayeeSide(self.sides, store.payees)

    def set_wanted(self, wanted: Mapping[str, float], windows: Windows | None = None) -> None:
        """See :meth:`Sides.set_wanted`; the three sides share one `Sides`."""
        self.sides.set_wanted(wanted, windows)
        self.kinds = self.sides.kinds

    def call(self, ev: Call, ts: float) -> tuple[list[float] | None, list[float] | None]:
        """Apply a call; returns (callee-side row, caller-number row), each if wanted."""
        return self.call_fields(_FIELDS_OF(ev), ts)

    def call_fields(
        self, f: tuple[Any, ...], ts: float
    ) -> tuple[list[float] | None, list[float] | None]:
        """:meth:`call` on the call's field tuple (:attr:`Decoded.fields`)."""
        # the embedded runner holds both ends of an event: its numbers are taken as the
        # store holds them, once (the distributed stages each hold one end, and intern)
        victims = self.store.victims
        caller = victims.canonical(f[CALL_CALLER])
        callee = victims.canonical(f[CALL_CALLEE])
        duration_s: int = f[CALL_DURATION_S]
        origin: str | None = f[CALL_ORIGIN]
        seen, number_row = self.number.call(caller, callee, duration_s, origin, ts)
        victim = self.victim
        victim.call_made(caller, callee, f[CALL_CALLER_CELL], ts)
        row = victim.call_received(
            caller, callee, f[CALL_CALLEE_CELL], duration_s, origin, ts, seen
        )
        return row, number_row

    def sms(self, ev: Sms, ts: float) -> tuple[list[float] | None, list[float] | None]:
        """Apply an SMS; returns (receiver-side row, sender-number row), each if wanted."""
        return self.sms_fields(_FIELDS_OF(ev), ts)

    def sms_fields(
        self, f: tuple[Any, ...], ts: float
    ) -> tuple[list[float] | None, list[float] | None]:
        """:meth:`sms` on the SMS's field tuple."""
        victims = self.store.victims  # see call_fields
        sender = victims.canonical(f[SMS_SENDER])
        receiver = victims.canonical(f[SMS_RECEIVER])
        text: str | None = f[SMS_TEXT]
        has_url: bool | None = f[SMS_HAS_URL]
        seen, number_row = self.number.sms(sender, receiver, text, has_url, ts)
        victim = self.victim
        victim.sms_sent(sender, receiver, f[SMS_SENDER_CELL], ts)
        return victim.sms_received(sender, receiver, text, has_url, ts, seen), number_row

    def transfer(self, ev: Transfer, ts: float) -> list[float] | None:
        return self.transfer_fields(_FIELDS_OF(ev), ts)

    def transfer_fields(self, f: tuple[Any, ...], ts: float) -> list[float] | None:
        """:meth:`transfer` on the transfer's field tuple."""
        payer = self.store.victims.canonical(f[TRANSFER_PAYER])  # see call_fields
        account: str = f[TRANSFER_PAYEE_ACCOUNT]
        amount: float = f[TRANSFER_AMOUNT_CNY]
        half = self.victim.transfer(payer, account, amount, f[TRANSFER_CHANNEL], ts)
        return self.payee.transfer(payer, account, amount, ts, half)


__all__ = ["Caller", "Joiner", "NumberSide", "PayeeSide", "PayerHalf", "Sides", "VictimSide"]
