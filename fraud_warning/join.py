"""Join stage: applies each event to the three viewpoints' state and snapshots features.

Snapshots are taken from state as it was *before* the event is applied (a transfer's
payee is "new" if the payer had not paid it before), then the event is applied.
Only trigger kinds that have models are snapshotted, so unused features cost nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from fraud_warning.features import (
    VICTIM_CONTEXT,
    FeatureConfig,
    caller_features,
    number_features,
    sender_features,
    transfer_features,
    victim_context,
)
from fraud_warning.refdata import RefData, is_elderly
from fraud_warning.state import CALL, HOUR_S, MAX_FANOUT_SET, SMS, StateStore
from fraud_warning.wire import RISKY_ORIGINS, Call, Sms, Transfer

LINK_SMS = VICTIM_CONTEXT.index("url_sms_unknown_24h")
SHORT_CALL_S = 30
LONG_CALL_S = 300


class Joiner:
    def __init__(
        self,
        store: StateStore,
        refdata: RefData,
        wanted: Mapping[str, float],
        config: FeatureConfig | None = None,
    ) -> None:
        """`wanted` maps each trigger kind that has models to the least value of its
        event-level gate feature (a call's duration, a transfer's amount) any model needs:
        below it the row is not built at all."""
        self.store = store
        self.config = config or FeatureConfig()
        self._service = self.config.service_prefixes
        self._elderly = {m for m, s in refdata.subscribers.items() if is_elderly(s.age_band)}
        self.kinds = frozenset(wanted)
        self._min_call_s = wanted.get("call", float("inf"))
        self._min_amount = wanted.get("transfer", float("inf"))

    def is_service(self, number: str) -> bool:
        return number.startswith(self._service)

    def call(self, ev: Call, ts: float) -> tuple[list[float] | None, list[float] | None]:
        """Apply a call; returns (callee-side row, caller-number row), each if wanted."""
        store = self.store
        risky = ev.origin in RISKY_ORIGINS
        caller = ev.caller
        callee_state = store.victims.touch(ev.callee, ts)
        if ev.callee_cell:
            callee_state.last_cell = ev.callee_cell
        caller_state = store.victims.touch(caller, ts)
        if ev.caller_cell:
            caller_state.last_cell = ev.caller_cell
        caller_state.add_contact(ev.callee)  # whom you call is someone you know

        number = store.numbers.touch(caller, ts)
        number.roll(int(ts // HOUR_S))
        number.calls += 1
        if len(number.callees) < MAX_FANOUT_SET:
            number.callees.add(ev.callee)
        if ev.duration_s < SHORT_CALL_S:
            number.short_calls += 1
        elif ev.duration_s >= LONG_CALL_S:
            number.long_calls += 1
        number.risky_origin = risky

        stranger = not self.is_service(caller) and not callee_state.knows(caller)
        victim_row = None
        if stranger:
            # appended first: a warning raised on this call should count this call
            callee_state.add_inbound((ts, caller, ev.duration_s, risky, CALL, False))
            if ev.duration_s >= self._min_call_s:
                victim_row = victim_context(
                    callee_state, ts, store.numbers, ev.callee in self._elderly
                ) + caller_features(number, ev.duration_s, risky, ts)
        number_row = None
        if "number" in self.kinds and not self.is_service(caller) and not number.flagged(ts):
            number_row = number_features(number, ts)
        return victim_row, number_row

    def sms(self, ev: Sms, ts: float) -> list[float] | None:
        store = self.store
        receiver = store.victims.touch(ev.receiver, ts)
        sender = store.victims.touch(ev.sender, ts)
        if ev.sender_cell:
            sender.last_cell = ev.sender_cell
        sender.add_contact(ev.receiver)
        number = store.numbers.touch(ev.sender, ts)
        number.roll(int(ts // HOUR_S))
        if len(number.callees) < MAX_FANOUT_SET:
            number.callees.add(ev.receiver)
        if self.is_service(ev.sender) or receiver.knows(ev.sender):
            return None
        has_url = bool(ev.has_url)
        receiver.add_inbound((ts, ev.sender, 0, False, SMS, has_url))
        if "sms" not in self.kinds:
            return None
        return victim_context(
            receiver, ts, store.numbers, ev.receiver in self._elderly
        ) + sender_features(number, has_url, ts)

    def transfer(self, ev: Transfer, ts: float) -> list[float] | None:
        store = self.store
        payer = store.victims.touch(ev.payer, ts)
        payee = store.payees.touch(ev.payee_account, ts)
        context = victim_context(payer, ts, store.numbers, ev.payer in self._elderly)
        row = None
        if ev.amount_cny >= self._min_amount:
            row = context + transfer_features(payer, payee, ev.payee_account, ev.amount_cny, ts)
        was_new = not payer.has_paid(ev.payee_account)
        payer.add_transfer((ts, ev.payee_account, ev.amount_cny, was_new))
        payer.add_payee(ev.payee_account)
        payee.add((ts, ev.payer, ev.amount_cny, context[-1] > 0, context[LINK_SMS] > 0))
        return row


__all__ = ["Joiner"]
