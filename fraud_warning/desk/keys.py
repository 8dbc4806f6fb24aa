"""Redis key names, all under one prefix so several deployments (and tests) share a server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Every key the desk writes. `prefix` separates deployments and test runs.

    >>> Keys("fw").alert("A-1")
    'fw:alert:A-1'
    """

    prefix: str = "fw"

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in " *?[]"):
            raise ValueError(f"bad key prefix {self.prefix!r}: no spaces or glob characters")

    def alert(self, alert_id: str) -> str:
        """Hash: the alert's highest revision and its desk state."""
        return f"{self.prefix}:alert:{alert_id}"

    def actions(self, alert_id: str) -> str:
        """List: desk actions on one alert, oldest first."""
        return f"{self.prefix}:actions:{alert_id}"

    def ladder(self, alert_id: str) -> str:
        """Hash: escalation-ladder steps of one alert, step name → JSON."""
        return f"{self.prefix}:ladder:{alert_id}"

    def task(self, task_id: str) -> str:
        """String: one dispatch task's record as JSON."""
        return f"{self.prefix}:task:{task_id}"

    def claim(self, unit_id: str) -> str:
        """String: the task a unit is busy with; absent when the unit is free."""
        return f"{self.prefix}:claim:{unit_id}"

    @property
    def open(self) -> str:
        """Sorted set: alerts still on the desk, scored by first-seen time."""
        return f"{self.prefix}:alerts:open"

    @property
    def ranked(self) -> str:
        """Sorted set, all scores 0: open alerts as rank tokens, read in lex order."""
        return f"{self.prefix}:alerts:ranked"

    @property
    def alerts(self) -> str:
        """Sorted set: every alert, scored by last update."""
        return f"{self.prefix}:alerts:all"

    @property
    def tasks(self) -> str:
        """Sorted set: every task id, scored by creation time."""
        return f"{self.prefix}:tasks"

    @property
    def units(self) -> str:
        """Hash: unit id → JSON position, station and district."""
        return f"{self.prefix}:units"

    @property
    def timers(self) -> str:
        """Sorted set: `kind|id|step` members scored by their deadline."""
        return f"{self.prefix}:timers"

    @property
    def stream(self) -> str:
        """Stream: the live feed (alert, task and ladder changes) the console follows."""
        return f"{self.prefix}:stream"

    @property
    def outbox(self) -> str:
        """Stream: warning SMS and phone calls for the gateways and the desk to carry out."""
        return f"{self.prefix}:outbox"

    @property
    def outcomes(self) -> str:
        """Hash: alert id → outcome label JSON (dismissals and resolved tasks)."""
        return f"{self.prefix}:outcomes"


__all__ = ["Keys"]
