"""Settings: one frozen object built in `main()` from flags, then `FW_*` variables.

A flag wins over its environment variable; the variable wins over the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """`FW_<NAME>` from the environment (flags use this as their default)."""
    return os.environ.get(f"FW_{name.upper()}", default)


def default_dir(name: str) -> Path:
    """`./name` when it exists, else the one beside the package (a source checkout)."""
    here = Path(name)
    return here if here.is_dir() else PACKAGE_ROOT / name


@dataclass(frozen=True)
class RefPaths:
    """The reference-data flags every runner shares."""

    rules: Path
    models: Path | None
    cells: Path | None
    units: Path | None
    subscribers: Path | None
    lists: Path | None = None  # the site's named lists, over those beside the rules


__all__ = ["PACKAGE_ROOT", "RefPaths", "default_dir", "env"]
