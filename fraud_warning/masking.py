"""Masking of personal identifiers for logs and consoles."""

from __future__ import annotations


def mask_msisdn(number: str) -> str:
    """Keep the country code and the last two digits: `+8613812345678` → `+86*********78`.

    >>> mask_msisdn("+8613812345678")
    '+86*********78'
    """
    if len(number) <= 5:
        return "*" * len(number)
    head = 3 if number.startswith("+") else 0
    return number[:head] + "*" * (len(number) - head - 2) + number[-2:]


def mask_account(account: str) -> str:
    """Keep the last four characters of an account id (none of a short one)."""
    if len(account) <= 4:
        return "*" * len(account)
    return "*" * (len(account) - 4) + account[-4:]


def url_host(url: str, default_port: int = 6379) -> str:
    """host:port of a service URL, never its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or default_port}"


__all__ = ["mask_account", "mask_msisdn", "url_host"]
