"""Features stage: named, shared values snapshotted from joined state at a trigger event.

Each trigger kind (an event type seen from one viewpoint) has a fixed, ordered list of
feature names; every rule and scorer reads the same snapshot, so a feature used by a
hundred rules is computed once per trigger. Values are floats; flags are 0.0 / 1.0.
Windows look back from the trigger's event time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from fraud_warning.state import (
    CALL,
    HOUR_S,
    MAX_PAYEE_INBOUND,
    SMS,
    NumberState,
    PayeeState,
    VictimState,
    flag_live,
)

WINDOW_2H: Final = 2 * HOUR_S
WINDOW_24H: Final = 24 * HOUR_S
NO_CONTACT_S: Final = 86_400.0  # "seconds since" when there was no such contact
LONG_CALL_S: Final = 60  # a stranger's call this long is a conversation, not a ring
LARGE_TRANSFER_CNY: Final = 2_000.0
RISK_CONTEXT_CALL_S: Final = 300  # a stranger kept the subscriber this long in the last 2 h

#: Features every victim-side trigger carries: the subscriber's recent contact with strangers.
VICTIM_CONTEXT = (
    "noncontact_call_s_2h",  # talk time, inbound calls from non-contacts, last 2 h (s)
    "risky_call_s_2h",  # the same, calls from overseas / VoIP gateway / virtual operator (s)
    "max_noncontact_call_s_2h",  # the longest such call (s)
    "since_noncontact_call_s",  # since the last stranger's call >= 60 s ended (0 = on it now)
    "caller_fanout_max_2h",  # highest distinct-callees-per-hour of those callers, at the call
    "flagged_contact_24h",  # flagged fraud numbers that talked >= 60 s or sent a link, 24 h
    "flagged_call_s_24h",  # talk time with flagged fraud numbers, 24 h (s)
    "url_sms_unknown_24h",  # SMS with a link from non-contact, non-service senders, 24 h
    "sms_unknown_2h",  # SMS from non-contact, non-service senders, 2 h
    "elderly",  # 1 when the subscriber's age band is 65+
    "risk_context",  # 1 when a stranger talked >= 300 s in 2 h or a flagged number engaged
)

TRANSFER = (
    "amount_cny",
    "payee_is_new",  # 1 when the payer never paid this account before (in retained state)
    "new_payee_transfers_2h",  # transfers to new payees in 2 h, this one included
    "new_payee_amount_2h",  # their amount (CNY)
    "new_payee_transfers_24h",
    "new_payee_amount_24h",
    "payee_payers_24h",  # distinct payers of this payee in 24 h, before this transfer
    "payee_risky_payers_24h",  # ... of whom had a risk context when they paid
    "payee_risky_share_24h",  # risky payers / payers (0 when there were none)
    "payee_large_payers_24h",  # ... of whom paid >= 2,000 CNY
    "payee_linked_payers_24h",  # ... of whom had an SMS with a link from a stranger
    "payee_linked_share_24h",  # linked payers / payers (0 when there were none)
)

CALL_VICTIM = (
    "call_duration_s",
    "caller_origin_risky",
    "caller_fanout_1h",  # the caller's distinct callees in the last hour
    "caller_flagged",
)

SMS_VICTIM = ("sms_has_url", "sender_flagged", "sender_fanout_1h")

NUMBER = (
    "fanout_1h",  # distinct callees in the last hour
    "calls_1h",
    "short_call_ratio_1h",  # share of calls under 30 s (hang-ups and rings)
    "long_calls_1h",  # calls of 5 min or more
    "origin_risky",
    # seconds since the number's first call or SMS in retained state, to the minute,
    # capped at 24 h (a day or more reads 86,400). "First" means first seen by this
    # engine: a number idle longer than the retention (26 h) is evicted and reads as new
    # again, and right after a cold start (no checkpoint) every number reads as new, the
    # busiest call centre included, until the engine has watched it for a while.
    "active_s",
)

#: Trigger kind → ordered feature names. Kinds are "<event type>" on the victim side;
#: on the number side, "number" is a call the number made and "number_sms" an SMS it
#: sent, both read against the number's own profile.
CATALOGUE: dict[str, tuple[str, ...]] = {
    "transfer": VICTIM_CONTEXT + TRANSFER,
    "call": VICTIM_CONTEXT + CALL_VICTIM,
    "sms": VICTIM_CONTEXT + SMS_VICTIM,
    "number": NUMBER,
    "number_sms": NUMBER,
}
#: The trigger kinds whose rules read (and flag) the calling or sending number.
NUMBER_KINDS = frozenset({"number", "number_sms"})


@dataclass(frozen=True)
class FeatureConfig:
    """Site data the features need: numbers that are services, not strangers (from the
    named lists `service-prefixes` and `trusted-numbers`, see fraud_warning.lists)."""

    service_prefixes: tuple[str, ...] = ("+86955", "+86106", "+86100", "+86400", "+86120")
    trusted_numbers: frozenset[str] = frozenset()


def victim_context(
    victim: VictimState, ts: float, flags: Mapping[str, float], elderly: bool
) -> list[float]:
    """The VICTIM_CONTEXT values for a subscriber at event time `ts`.

    Reads only the subscriber's own state and the flag table (number → flagged at), so
    a runner partitioned by subscriber computes it without the number side's state.
    """
    call_s = risky_s = max_s = 0.0
    since = NO_CONTACT_S
    fanout = 0.0
    url_sms = sms_2h = 0
    flagged: set[str] = set()
    flagged_s = 0.0
    start_2h = ts - WINDOW_2H
    start_24h = ts - WINDOW_24H
    node = victim.inbound
    while node is not None:
        record, node = node, node.older()  # newest first
        start = record.ts
        if start < start_24h:
            break
        if start > ts:
            continue  # a late-arriving earlier trigger must not see later contacts
        number, duration, has_url = record.number, float(record.duration_s), record.has_url
        # a flagged number only counts once it engaged: a ring that was hung up on is no risk
        if (duration >= LONG_CALL_S or has_url) and flag_live(flags.get(number), ts):
            flagged.add(number)
            flagged_s += duration
        if record.kind == SMS:
            if has_url:
                url_sms += 1
            if start >= start_2h:
                sms_2h += 1
            continue
        if start < start_2h or duration <= 0:
            continue
        call_s += duration
        if record.risky:
            risky_s += duration
        if duration > max_s:
            max_s = duration
        if duration >= LONG_CALL_S:
            since = min(since, max(0.0, ts - (start + duration)))
        if record.fanout > fanout:
            fanout = record.fanout
    # link SMS are left out: one in seven ordinary payers got one from a stranger today
    context = call_s >= RISK_CONTEXT_CALL_S or len(flagged) > 0
    return [
        call_s,
        risky_s,
        max_s,
        since,
        fanout,
        float(len(flagged)),
        flagged_s,
        float(url_sms),
        float(sms_2h),
        1.0 if elderly else 0.0,
        1.0 if context else 0.0,
    ]


def payer_features(victim: VictimState, account: str, amount: float, ts: float) -> list[float]:
    """The payer's half of TRANSFER; state is read before this transfer is applied."""
    is_new = not victim.has_paid(account)
    n2 = n24 = 1 if is_new else 0
    a2 = a24 = amount if is_new else 0.0
    node = victim.transfers
    while node is not None:
        record, node = node, node.older()
        t, amt = record.ts, record.amount_cny
        if t < ts - WINDOW_24H:
            break
        if not record.was_new or t > ts:
            continue
        n24 += 1
        a24 += amt
        if t >= ts - WINDOW_2H:
            n2 += 1
            a2 += amt
    return [amount, 1.0 if is_new else 0.0, float(n2), a2, float(n24), a24]


def payee_features(payee: PayeeState | None, ts: float) -> list[float]:
    """The payee account's half of TRANSFER: its payers in the 24 h before `ts`."""
    payers: set[str] = set()
    risky: set[str] = set()
    large: set[str] = set()
    linked: set[str] = set()
    if payee is not None:
        node = payee.inbound
        left = MAX_PAYEE_INBOUND  # it holds up to twice as many until cut (state._link)
        while node is not None and left > 0:
            record, node = node, node.older()
            left -= 1
            t = record.ts
            if t < ts - WINDOW_24H:
                break
            if t > ts:
                continue
            payer = record.payer
            payers.add(payer)
            if record.had_risk:
                risky.add(payer)
            if record.had_link:
                linked.add(payer)
            if record.amount_cny >= LARGE_TRANSFER_CNY:
                large.add(payer)
    return [
        float(len(payers)),
        float(len(risky)),
        len(risky) / len(payers) if payers else 0.0,
        float(len(large)),
        float(len(linked)),
        len(linked) / len(payers) if payers else 0.0,
    ]


def caller_features(duration_s: int, risky: bool, fanout: float, flagged: bool) -> list[float]:
    """CALL_VICTIM: the call, and the caller's fan-out and flag as the number side saw them."""
    return [float(duration_s), 1.0 if risky else 0.0, fanout, 1.0 if flagged else 0.0]


def sender_features(has_url: bool, fanout: float, flagged: bool) -> list[float]:
    return [1.0 if has_url else 0.0, 1.0 if flagged else 0.0, fanout]


def number_features(number: NumberState, ts: float) -> list[float]:
    distinct, calls, short, long_calls = number.hourly(ts)
    ratio = short / calls if calls > 0 else 0.0
    risky = 1.0 if number.risky_origin else 0.0
    return [distinct, calls, ratio, long_calls, risky, number.active_s(ts)]


def clears(gate: tuple[tuple[int, float], ...], row: list[float]) -> bool:
    """Whether `row` reaches every lower bound of a kind's gate (`Registry.gate`): below
    any, no rule of the kind can fire."""
    return not any(row[index] < bound for index, bound in gate)


__all__ = [
    "CALL",
    "CATALOGUE",
    "NUMBER_KINDS",
    "FeatureConfig",
    "caller_features",
    "clears",
    "number_features",
    "payee_features",
    "payer_features",
    "sender_features",
    "victim_context",
]
