"""What `serve` refuses to start with: unsafe defaults outside development.

Development mode is `--dev`, or `FW_ENV=development` (the flag's variable). Outside it,
the default, the API needs tokens that are secrets:

- no tokens at all (`FW_API_TOKENS` empty or unset);
- a token shorter than 16 characters (refused in every mode, by :class:`Tokens`);
- a token that is long but no secret: a repeated character or short pattern, or a
  template word such as "changeme" (:func:`fraud_warning.desk.auth.weakness`).

In development, tokens may be left out (every caller may do everything) but only on a
loopback address: an open API on `0.0.0.0` or a LAN address is refused in every mode.
`FW_ENV=production` refuses `--dev` itself, so a flag left in a unit file cannot open a
production desk. Each refusal is one line naming the setting, never a token.

>>> check_exposure(Tokens.parse(""), bind="127.0.0.1", dev=True, environment=None)
True
>>> is_loopback("0.0.0.0"), is_loopback("::1"), is_loopback("localhost")
(False, True, True)
"""

from __future__ import annotations

import ipaddress

from fraud_warning.desk.auth import Tokens

ENVIRONMENTS = ("development", "production")


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal; any other name or address (and "") is not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def development(dev_flag: bool, environment: str | None) -> bool:
    """Whether to run in development mode; ValueError when the settings disagree."""
    env = (environment or "").strip().lower()
    if env and env not in ENVIRONMENTS:
        raise ValueError(f"FW_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    if env == "production" and dev_flag:
        raise ValueError("--dev is refused when FW_ENV=production")
    return dev_flag or env == "development"


def check_exposure(tokens: Tokens, *, bind: str, dev: bool, environment: str | None) -> bool:
    """Raises ValueError (one line) for an unsafe configuration; returns development mode."""
    dev = development(dev, environment)
    if not len(tokens):
        if not dev:
            raise ValueError(
                "no API tokens: set FW_API_TOKENS=role:token,… (roles desk, unit, admin), "
                "or pass --dev to run without them"
            )
        if not is_loopback(bind):
            raise ValueError(
                f"refusing to serve without API tokens on {bind or 'all interfaces'}, which is "
                "not a loopback address: set FW_API_TOKENS, or bind 127.0.0.1 (--bind, FW_BIND)"
            )
    if tokens.weak and not dev:
        extra = f" (and {len(tokens.weak) - 1} more)" if len(tokens.weak) > 1 else ""
        raise ValueError(
            f"{tokens.weak[0]}{extra}: use random tokens, e.g. `openssl rand -hex 16`, "
            "or pass --dev"
        )
    return dev


__all__ = ["ENVIRONMENTS", "check_exposure", "development", "is_loopback"]
