"""The package's modules written in C (compiled by build_native.py beside the mypyc ones),
or None where the package runs without them: each has a Python twin or an off switch."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def c_module(name: str) -> Any:
    """`fraud_warning.<name>`, compiled from `fraud_warning/<name>.c`, or None.

    Only from this copy of the package: an editable install's finder would otherwise
    hand a copy without its compiled files (tests/test_native.py runs one) the checkout's
    own, built from other sources."""
    spec = importlib.util.find_spec(f"fraud_warning.{name}")
    if spec is None or spec.origin is None or Path(spec.origin).resolve().parent != HERE:
        return None
    return importlib.import_module(f"fraud_warning.{name}")


__all__ = ["c_module"]
