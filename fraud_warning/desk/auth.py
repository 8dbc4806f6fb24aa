"""Bearer tokens and roles for the API, from `FW_API_TOKENS` (`role:token,role:token`).

Roles: `desk` (works alerts, may unmask numbers), `unit` (reports on its tasks), `admin`
(everything but unmasking). Tokens are compared in constant time, as SHA-256 digests so
that their lengths do not leak either, and every token is checked whichever matches, so
timing does not tell which entry was close. Tokens are never logged or echoed: a principal
is named by its role and position (`desk#2`).

A token that is long enough but plainly not a secret (a repeated character, a short
repeated pattern, a template word such as "changeme") is noted in `weak`, by position and
reason only: `serve` refuses it outside development (:mod:`fraud_warning.desk.exposure`).

>>> tokens = Tokens.parse("desk:" + "d" * 20 + ",unit:" + "u" * 20)
>>> tokens.check("u" * 20)
Principal(role='unit', name='unit#1')
>>> tokens.check("nope") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

ROLES = ("desk", "unit", "admin")
MIN_TOKEN_CHARS = 16
MIN_DISTINCT_CHARS = 8  # "aaaaaaaaaaaaaaaa" and "abcabcabcabcabca" are long, not secret
#: words left in templates and examples; matched in the token's lower-case letters
PLACEHOLDERS = ("changeme", "password", "secret", "example", "placeholder", "default", "dummy")


def weakness(token: str) -> str | None:
    """Why a token of the right length is still not a secret, or None.

    >>> weakness("d" * 20), weakness("please-changeme-now"), weakness("3f9a1c07d2b84e6a")
    ('only 1 distinct character(s)', 'contains "changeme"', None)
    """
    distinct = len(set(token))
    if distinct < MIN_DISTINCT_CHARS:
        return f"only {distinct} distinct character(s)"
    letters = "".join(c for c in token.lower() if c.isalpha())
    for word in PLACEHOLDERS:
        if word in letters:
            return f'contains "{word}"'
    return None


@dataclass(frozen=True)
class Principal:
    role: str  # one of ROLES, or "dev" (every role) when the server runs with --dev
    name: str

    def has(self, roles: tuple[str, ...]) -> bool:
        return self.role == "dev" or self.role in roles

    @property
    def may_unmask(self) -> bool:
        return self.role in ("desk", "dev")


DEV = Principal("dev", "dev")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Tokens:
    """The configured tokens; empty means the server must not start unless in dev mode."""

    def __init__(self, entries: list[tuple[bytes, Principal]], weak: tuple[str, ...] = ()) -> None:
        self._entries = entries
        #: one line per weak entry, naming it by position and role, never by its token
        self.weak = weak

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def parse(cls, text: str | None) -> Tokens:
        """Parses `role:token,…`; ValueError names the bad entry by position, not its token."""
        entries: list[tuple[bytes, Principal]] = []
        counts: dict[str, int] = {}
        seen: set[bytes] = set()
        weak: list[str] = []
        for n, raw in enumerate((text or "").split(","), start=1):
            item = raw.strip()
            if not item:
                continue
            role, sep, token = item.partition(":")
            role, token = role.strip(), token.strip()
            if not sep or role not in ROLES:
                raise ValueError(
                    f"FW_API_TOKENS entry {n}: expected role:token with role one of "
                    f"{', '.join(ROLES)}"
                )
            if len(token) < MIN_TOKEN_CHARS:
                raise ValueError(
                    f"FW_API_TOKENS entry {n} ({role}): token shorter than "
                    f"{MIN_TOKEN_CHARS} characters"
                )
            digest = _digest(token)
            if digest in seen:
                raise ValueError(f"FW_API_TOKENS entry {n} ({role}): token used twice")
            seen.add(digest)
            why = weakness(token)
            if why is not None:
                weak.append(f"FW_API_TOKENS entry {n} ({role}): token is not a secret ({why})")
            counts[role] = counts.get(role, 0) + 1
            entries.append((digest, Principal(role, f"{role}#{counts[role]}")))
        return cls(entries, tuple(weak))

    def check(self, presented: str) -> Principal | None:
        """The principal whose token this is, or None; constant time over all entries."""
        digest = _digest(presented)
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found


__all__ = ["DEV", "MIN_TOKEN_CHARS", "ROLES", "Principal", "Tokens", "weakness"]
