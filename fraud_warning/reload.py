"""Rule hot reload: notice changed rule and model files, load and validate them (staging),
and hand a valid registry to the caller, who activates it between batches.

    watcher = RegistryWatcher(rules_dir, models_dir, metrics=engine.metrics)
    registry = watcher.load()          # at start-up: raises RegistryError when invalid
    engine = Engine(registry, ...)
    ...
    staged = watcher.poll()            # between batches, every few seconds
    if staged is not None:
        engine.swap_registry(staged)   # activation: state, incidents, watermark kept

`poll()` is cheap when nothing changed: it compares a fingerprint of the files (sorted
path, modification time in ns and size of every `*.yaml`/`*.yml` under the rules
directory and every file under the models directory) with the last one it acted on.
When the fingerprint moved it loads the whole registry:

- valid: returned, `fraud_warning_rule_reloads_total{result="ok"}` counted. Models that
  were refused (a corrupt `model.txt`, a card naming unknown features) are logged as
  warnings, one line each, and left out, as at start-up; with `strict_models=True` they
  refuse the whole reload instead.
- invalid: nothing returned, so the registry running keeps running; every problem is
  logged on its own line (`file:line: ...`), `result="failure"` counted, and the
  fingerprint remembered, so the same broken files are not loaded again on every poll,
  only once they change again.

The watcher never touches an engine: loading (here) and activating (`swap_registry` in
the runner's own loop) are separate steps, so a runner can also stage a registry, run it
in shadow, and switch later. It is not thread-safe; poll from one thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from fraud_warning.metrics import Metrics
from fraud_warning.registry import Registry, RegistryError, load_registry

log = logging.getLogger("fraud_warning.reload")

Fingerprint = tuple[tuple[str, int, int], ...]
Loader = Callable[..., Registry]
RULE_SUFFIXES = frozenset({".yaml", ".yml"})


def _files(directory: Path | None, suffixes: frozenset[str] | None) -> list[Path]:
    if directory is None or not directory.is_dir():
        return []
    try:
        return [
            p
            for p in directory.rglob("*")
            if (suffixes is None or p.suffix in suffixes) and not p.is_dir()
        ]
    except OSError:  # a directory removed while it was walked: the next poll sees the rest
        return []


def fingerprint(rules_dir: Path | None, models_dir: Path | None) -> Fingerprint:
    """Sorted (path, mtime_ns, size) of the rule files and the model files; a file that
    vanishes between listing and stat is left out."""
    entries = []
    for path in [*_files(rules_dir, RULE_SUFFIXES), *_files(models_dir, None)]:
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(sorted(entries))


class RegistryWatcher:
    """Stages a new registry when the rule or model files change; see the module doc."""

    def __init__(
        self,
        rules_dir: Path | None,
        models_dir: Path | None = None,
        *,
        lists_dir: Path | None = None,
        load: Loader = load_registry,
        metrics: Metrics | None = None,
        strict_models: bool = False,
    ) -> None:
        """`load(rules_dir, models_dir, warn=...)` builds the registry (`load_registry`
        by default) and raises RegistryError when it is invalid. The files as they are
        now count as seen: call `load()` for the first registry, or `poll()` only picks
        up later changes. A site's `lists_dir` is watched and loaded with the rules."""
        self.rules_dir = rules_dir
        self.models_dir = models_dir
        self.lists_dir = lists_dir
        self._load = load
        self.metrics = metrics
        self.strict_models = strict_models
        self.current: Fingerprint = self._fingerprint()  # last accepted
        self.refused: Fingerprint | None = None  # last refused, not retried until it moves
        self.last_error: str | None = None  # the last refusal's problems, one per line

    def load(self) -> Registry:
        """Load now, whatever changed (start-up). Raises RegistryError when invalid, so
        a runner refuses to start on a broken rule set; counts nothing."""
        seen = self._fingerprint()
        registry = self._registry()
        self._check_models(registry)
        self.current, self.refused, self.last_error = seen, None, None
        return registry

    def _fingerprint(self) -> Fingerprint:
        lists = fingerprint(self.lists_dir, None) if self.lists_dir is not None else ()
        return fingerprint(self.rules_dir, self.models_dir) + lists

    def _registry(self) -> Registry:
        if self.lists_dir is None:  # a custom loader need not know about lists
            return self._load(self.rules_dir, self.models_dir, warn=self._warn)
        return self._load(
            self.rules_dir, self.models_dir, lists_dir=self.lists_dir, warn=self._warn
        )

    def changed(self) -> bool:
        """Whether the files differ from both the accepted and the refused ones."""
        seen = self._fingerprint()
        return seen != self.current and seen != self.refused

    def poll(self) -> Registry | None:
        """A new, valid registry when the files changed since the last poll; else None
        (nothing changed, or the change was refused and logged)."""
        seen = self._fingerprint()
        if seen == self.current or seen == self.refused:
            return None
        try:
            registry = self._registry()
            self._check_models(registry)
        except RegistryError as exc:
            self._refuse(seen, str(exc))
            return None
        except OSError as exc:  # a file unreadable or removed mid-load
            self._refuse(seen, f"{exc.filename or self.rules_dir}: cannot read: {exc.strerror}")
            return None
        self.current, self.refused, self.last_error = seen, None, None
        self._count("ok")
        log.info(
            "rule reload staged: %d rule(s), %d model(s) from %s",
            len(registry),
            len(registry.models),
            self.rules_dir,
        )
        return registry

    def _check_models(self, registry: Registry) -> None:
        if self.strict_models and registry.model_problems:
            raise RegistryError("\n".join(registry.model_problems))

    def _refuse(self, seen: Fingerprint, message: str) -> None:
        problems = [line for line in message.splitlines() if line.strip()] or ["load failed"]
        self.refused = seen
        self.last_error = "\n".join(problems)
        self._count("failure")
        for problem in problems:
            log.error("rule reload refused, the previous registry keeps running: %s", problem)

    def _warn(self, problem: str) -> None:
        log.warning("%s", problem)  # a refused model, or a deprecated rule

    def _count(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.rule_reloads.labels(result).inc()


__all__ = ["Fingerprint", "RegistryWatcher", "fingerprint"]
