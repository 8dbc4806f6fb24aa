"""fraud_warning: a telecom-fraud early-warning engine.

Importing the package reads no settings and opens no sockets. It only refuses a module
compiled by `build_native.py` that is older than its source, which would otherwise run
the old code in its place. The command line lives in :mod:`fraud_warning.cli`.
"""

from pathlib import Path

__version__ = "0.1.0"
__all__ = ["__version__"]


def _refuse_stale_compiled(here: Path) -> None:
    for compiled in here.rglob("*.so"):
        name = compiled.name.split(".", 1)[0]
        for source in (compiled.parent / f"{name}.py", compiled.parent / f"{name}.c"):
            if source.is_file() and source.stat().st_mtime > compiled.stat().st_mtime:
                _stale(source, here)


def _stale(source: Path, here: Path) -> None:
    raise ImportError(
        f"{source.relative_to(here.parent)} changed after it was compiled: run "
        "`make setup` (or `python build_native.py`) to compile it again, or "
        "`make interpreted` to run the package without its compiled modules"
    )


_refuse_stale_compiled(Path(__file__).parent)
