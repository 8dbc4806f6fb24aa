"""Desk actions on an alert: what each needs, what state it leads to, how it is recorded.

Every action is recorded with who (the API principal, e.g. `desk#1`, and the name the
operator typed) and when; dismiss reasons are exported with the outcomes for rule tuning.

>>> ACTIONS["dismiss"].to_state, ACTIONS["dismiss"].needs_reason
('dismissed', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fraud_warning.desk.errors import Invalid
from fraud_warning.desk.store import iso

DISMISS_REASONS = ("false_positive", "already_handled")
MAX_TEXT = 500  # a note or name longer than this is cut, not refused


@dataclass(frozen=True)
class Action:
    allowed: tuple[str, ...]  # alert states the action may follow
    to_state: str
    needs_reason: bool = False
    # ladder rungs the action answers (see ladder.py); "*" cancels every open rung
    answers: tuple[str, ...] = ()


ACTIONS = {
    "ack": Action(("open",), "acknowledged", answers=("sms",)),
    "dismiss": Action(("open", "acknowledged", "escalated"), "dismissed", True, answers=("*",)),
    "escalate": Action(("open", "acknowledged"), "escalated", answers=("sms", "phone")),
    "warned": Action(("open", "acknowledged", "escalated"), "warned", answers=("sms", "phone")),
}


def check(action: str, reason: str | None) -> Action:
    """The action's definition; Invalid for an unknown action or a missing/extra reason."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise Invalid(f"unknown action {action!r} (expected one of: {', '.join(ACTIONS)})")
    if spec.needs_reason and reason not in DISMISS_REASONS:
        raise Invalid(f"{action} needs a reason: one of {', '.join(DISMISS_REASONS)}")
    if not spec.needs_reason and reason is not None:
        raise Invalid(f"{action} takes no reason")
    return spec


def record(
    action: str,
    *,
    principal: str,
    by: str | None,
    reason: str | None,
    note: str | None,
    now: float,
) -> dict[str, Any]:
    """The action as kept in the alert's history."""
    return {
        "action": action,
        "principal": principal,
        "by": (by or principal)[:MAX_TEXT],
        "at": iso(now),
        "reason": reason,
        "note": note[:MAX_TEXT] if note else None,
    }


__all__ = ["ACTIONS", "DISMISS_REASONS", "Action", "check", "record"]
