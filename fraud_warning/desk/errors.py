"""Errors the desk raises for a caller to act on; the API maps each to one status code."""

from __future__ import annotations


class DeskError(Exception):
    """Base: `status` is the HTTP status the API answers with, the message says why."""

    status = 400


class Invalid(DeskError):
    """The request is malformed: a bad field, value or body."""

    status = 400


class NotFound(DeskError):
    status = 404


class Conflict(DeskError):
    """The request is well-formed but the alert or task is not in a state that allows it."""

    status = 409


class Unavailable(DeskError):
    """Redis is unreachable; the caller should retry shortly."""

    status = 503


__all__ = ["Conflict", "DeskError", "Invalid", "NotFound", "Unavailable"]
