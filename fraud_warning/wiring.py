"""Builds an engine from reference-data paths, turning load errors into usage errors."""

from __future__ import annotations

from fraud_warning.clock import Clock
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine
from fraud_warning.metrics import Metrics
from fraud_warning.refdata import RefData, RefDataError, load_refdata
from fraud_warning.registry import Registry, RegistryError, load_registry
from fraud_warning.settings import RefPaths


class LoadError(ValueError):
    """Reference data or rules could not be loaded; `first_line` is the short reason."""

    @property
    def first_line(self) -> str:
        lines = str(self).splitlines()
        extra = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
        return (lines[0] if lines else "load failed") + extra


def load_parts(paths: RefPaths) -> tuple[Registry, RefData]:
    """The registry and reference data for these paths."""
    try:
        registry = load_registry(paths.rules, paths.models)
    except RegistryError as exc:
        raise LoadError(str(exc)) from None
    try:
        refdata = load_refdata(paths.cells, paths.units, paths.subscribers)
    except RefDataError as exc:
        raise LoadError(str(exc)) from None
    return registry, refdata


def build_engine(paths: RefPaths, *, clock: Clock | None = None, dispatch: bool = True) -> Engine:
    """The engine for these paths; `dispatch=False` when a desk service dispatches."""
    registry, refdata = load_parts(paths)
    dispatcher = Dispatcher(refdata.units) if refdata.units and dispatch else None
    return Engine(registry, refdata, dispatcher=dispatcher, metrics=Metrics(), clock=clock)


__all__ = ["LoadError", "build_engine", "load_parts"]
