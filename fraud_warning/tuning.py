"""The process tuned for a long-running engine: every runner calls :func:`tune_process`
once, after loading its registry and models and before its state grows."""

from __future__ import annotations

import logging

from fraud_warning import hugepages
from fraud_warning.gc_tuning import tune_gc

log = logging.getLogger("fraud_warning.tuning")


def tune_process() -> str:
    """The heap on huge pages where it can be (:mod:`fraud_warning.hugepages`), then the
    garbage collector (:mod:`fraud_warning.gc_tuning`). Returns the huge-page status."""
    status = hugepages.enable()
    log.info("heap on huge pages: %s", status)
    tune_gc()
    return status


__all__ = ["tune_process"]
