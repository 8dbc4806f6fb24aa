"""Builds an engine from reference-data paths, turning load errors into usage errors."""

from __future__ import annotations

from typing import NamedTuple

from fraud_warning.clock import Clock
from fraud_warning.dispatch import Dispatcher
from fraud_warning.engine import Engine
from fraud_warning.features import FeatureConfig
from fraud_warning.lists import LISTS_DIR, ListError, feature_config, load_lists
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


class Parts(NamedTuple):
    registry: Registry
    refdata: RefData
    features: FeatureConfig


def load_parts(paths: RefPaths) -> Parts:
    """The registry, reference data and named lists for these paths."""
    try:
        registry = load_registry(paths.rules, paths.models, lists_dir=paths.lists)
    except RegistryError as exc:
        raise LoadError(str(exc)) from None
    try:
        refdata = load_refdata(paths.cells, paths.units, paths.subscribers)
    except RefDataError as exc:
        raise LoadError(str(exc)) from None
    try:
        lists = load_lists(paths.rules / LISTS_DIR, paths.lists)
    except ListError as exc:
        raise LoadError(str(exc)) from None
    return Parts(registry, refdata, feature_config(lists))


def build_engine(paths: RefPaths, *, clock: Clock | None = None, dispatch: bool = True) -> Engine:
    """The engine for these paths; `dispatch=False` when a desk service dispatches."""
    registry, refdata, features = load_parts(paths)
    dispatcher = Dispatcher(refdata.units) if refdata.units and dispatch else None
    return Engine(
        registry,
        refdata,
        dispatcher=dispatcher,
        metrics=Metrics(),
        clock=clock,
        features=features,
    )


__all__ = ["LoadError", "Parts", "build_engine", "load_parts"]
