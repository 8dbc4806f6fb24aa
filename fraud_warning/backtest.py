"""`fraud-warning rules test`: backtest rules on a recorded, labelled feed.

The rules given run alone (a registry of just those rules, no LightGBM scorers) through
the embedded runner over the feed's `events.jsonl`, with the feed's cells and
subscribers as reference data, exactly as `fraud-warning score` would run them; their
alerts are then scored by :func:`fraud_warning.evaluate.evaluate` against the feed's
`labels.jsonl` and `meta.json`. So a backtest of a stable rule gives the same figures
as `score --rules DIR_WITH_THAT_RULE` followed by `evaluate`.

Every rule runs as if `stable`: its status decides who is paged, not what it detects,
so a `shadow` or `experimental` rule can be judged before it is promoted.

With `against`, an older version of the rules runs the same way and the two are
compared: the change in every figure, and which victims and which falsely alerted
subscribers the new version gains or loses. Subscriber numbers are always masked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fraud_warning.embedded import DEFAULT_BATCH, run_file
from fraud_warning.engine import Engine
from fraud_warning.evaluate import (
    NUMBER_TYPOLOGY,
    Evaluation,
    evaluate,
    feed_meta,
    first_alerts,
    fold_alerts,
    load_jsonl,
    read_labels,
)
from fraud_warning.features import NUMBER_KINDS, FeatureConfig
from fraud_warning.masking import mask_msisdn
from fraud_warning.refdata import RefData, RefDataError, load_refdata
from fraud_warning.registry import Registry, RegistryError, duplicate_ids, rule_files
from fraud_warning.rules import Rule, RuleError, load_rule_file
from fraud_warning.sinks import JsonlSink

#: What `fraud-warning feed generate` writes and a backtest reads.
FEED_FILES = ("events.jsonl", "labels.jsonl", "meta.json", "cells.csv", "subscribers.csv")
EXAMPLES = 5  # example alerts shown per side
DIFF_EXAMPLES = 3  # masked subscribers shown per gained/lost set
_FLAG_FEATURES = frozenset(
    {"flagged_contact_24h", "flagged_call_s_24h", "caller_flagged", "sender_flagged"}
)


class BacktestError(ValueError):
    """Bad input: a missing feed file, a rule file that does not load. The first line of
    the message is the short reason (`file:line: ...` for a rule)."""


# -- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """A recorded, labelled feed directory."""

    directory: Path
    events: Path
    labels: list[dict[str, Any]]
    subscribers: int
    days: float
    refdata: RefData

    @classmethod
    def load(cls, directory: Path) -> Feed:
        if not directory.is_dir():
            raise BacktestError(f"feed directory not found: {directory}")
        missing = [name for name in FEED_FILES if not (directory / name).is_file()]
        if missing:
            raise BacktestError(
                f"feed {directory} is missing {', '.join(missing)} "
                "(expected what `fraud-warning feed generate` writes)"
            )
        labels_path = directory / "labels.jsonl"
        try:
            meta = feed_meta(labels_path)
            labels = list(load_jsonl(labels_path))
        except (ValueError, OSError) as exc:
            raise BacktestError(str(exc).splitlines()[0]) from None
        if meta is None:  # checked above; a race with a deletion lands here
            raise BacktestError(f"feed {directory} is missing meta.json")
        try:
            refdata = load_refdata(directory / "cells.csv", None, directory / "subscribers.csv")
        except RefDataError as exc:
            raise BacktestError(_first_line(str(exc))) from None
        return cls(directory, directory / "events.jsonl", labels, meta[0], meta[1], refdata)


def _first_line(message: str) -> str:
    lines = message.splitlines() or ["failed"]
    more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
    return lines[0] + more


def load_rules(paths: Sequence[Path]) -> list[Rule]:
    """The rules in these files and directories (`*.yaml`/`*.yml`, recursively).

    Raises BacktestError listing every problem, one per line, each naming `file:line`."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            found = rule_files(path)
            if not found:
                problems.append(f"{path}: no rule files (*.yaml, *.yml) in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: rule file not found")
    rules: list[Rule] = []
    for file in dict.fromkeys(files):  # a file named twice is read once
        try:
            rules.extend(load_rule_file(file))
        except RuleError as exc:
            problems.append(str(exc))
        except OSError as exc:
            problems.append(f"{file}: cannot read: {exc.strerror}")
    problems.extend(duplicate_ids(rules))
    if not rules and not problems:
        problems.append("no rules given")
    if problems:
        raise BacktestError("\n".join(problems))
    return rules


def as_stable(rules: Iterable[Rule]) -> list[Rule]:
    """The rules with `status: stable`, so that they page and their alerts are scored."""
    return [
        r
        if r.spec.status == "stable"
        else dataclasses.replace(r, spec=r.spec.model_copy(update={"status": "stable"}))
        for r in rules
    ]


# -- one run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One rule set's backtest: its alerts, their scores, and who they named."""

    rules: tuple[Rule, ...]
    events: int
    dead_letters: int
    seconds: float
    alerts: list[dict[str, Any]]
    evaluation: Evaluation
    first_alert: dict[str, datetime]  # victim-side subscriber -> earliest alert
    victims: frozenset[str]  # alerted subscribers who are labelled victims
    before_loss: frozenset[str]  # ... alerted strictly before their first loss
    false: frozenset[str]  # alerted subscribers who are not victims
    examples: list[dict[str, Any]]
    per_rule: dict[str, dict[str, int]]

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.rules]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": [
                {"rule": r.key, "status": r.spec.status, "on": r.spec.on, "source": r.source}
                for r in self.rules
            ],
            "events": self.events,
            "dead_letters": self.dead_letters,
            "hits": len(self.alerts),
            "incidents": len({a["alert_id"] for a in self.alerts}),
            "evaluation": self.evaluation.to_dict(),
            "per_rule": self.per_rule,
            "examples": self.examples,
        }


def run_rules(
    rules: Sequence[Rule],
    feed: Feed,
    *,
    batch_size: int = DEFAULT_BATCH,
    features: FeatureConfig | None = None,
    lists: Mapping[str, tuple[str, ...]] | None = None,
) -> Side:
    """Run `rules` alone (as stable, no scorers) over the feed and score their alerts;
    `features`: the named lists' settings, as `score` would read them; `lists`: every
    named list's items, for rules' window features."""
    try:
        registry = Registry.of(as_stable(rules), lists=lists)
    except RegistryError as exc:
        raise BacktestError(str(exc)) from None
    engine = Engine(registry, feed.refdata, features=features)
    alerts: list[dict[str, Any]] = []
    with JsonlSink(None) as nowhere:
        stats = run_file(
            feed.events,
            engine,
            alerts=nowhere,
            tasks=nowhere,
            dead_letters=nowhere,
            batch_size=batch_size,
            on_output=lambda out: alerts.extend(out.alerts),
        )
    evaluation = evaluate(alerts, feed.labels, subscribers=feed.subscribers, days=feed.days)
    victims, numbers = read_labels(feed.labels)
    first = first_alerts(fold_alerts(alerts))
    losses = {s: v.first_loss_ts for s, v in victims.items()}
    caught = frozenset(s for s in first if s in victims)
    before = frozenset(s for s in caught if (loss := losses[s]) is not None and first[s] < loss)
    return Side(
        rules=tuple(rules),
        events=stats.events,
        dead_letters=stats.dead_letters,
        seconds=stats.seconds,
        alerts=alerts,
        evaluation=evaluation,
        first_alert=first,
        victims=caught,
        before_loss=before,
        false=frozenset(first) - caught,
        examples=_examples(alerts, losses),
        per_rule=_per_rule(rules, alerts, frozenset(victims), frozenset(numbers)),
    )


def _per_rule(
    rules: Sequence[Rule],
    alerts: list[dict[str, Any]],
    victims: frozenset[str],
    numbers: frozenset[str],
) -> dict[str, dict[str, int]]:
    """Per rule `id@version`: incidents it took part in, and how many distinct subscribers
    those incidents named were right (`true`: a labelled victim, or for a number-side
    rule a labelled fraud number) or not (`false`). An incident can name several rules."""
    named: dict[str, set[tuple[str, str]]] = {r.key: set() for r in rules}
    for alert in alerts:
        for model in alert["models"]:
            key = f"{model['id']}@{model['version']}"
            if key in named:
                named[key].add((alert["alert_id"], alert["subscriber"]))
    out = {}
    for rule in rules:
        incidents = named[rule.key]
        subscribers = {s for _, s in incidents}
        right = numbers if rule.spec.on in NUMBER_KINDS else victims
        out[rule.key] = {
            "incidents": len(incidents),
            "true": len(subscribers & right),
            "false": len(subscribers - right),
        }
    return out


def _examples(
    alerts: list[dict[str, Any]], losses: Mapping[str, datetime | None]
) -> list[dict[str, Any]]:
    """A few incidents as first emitted, masked: the earliest victims, then false alerts,
    then number-side alerts if there is room."""
    first: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        first.setdefault(alert["alert_id"], alert)
    true: list[dict[str, Any]] = []
    false: list[dict[str, Any]] = []
    number: list[dict[str, Any]] = []
    for alert in first.values():
        subscriber = alert["subscriber"]
        number_side = alert["typology"] == NUMBER_TYPOLOGY
        example = {
            "emitted_at": alert["emitted_at"],
            "subscriber": mask_msisdn(subscriber),
            "priority": alert["priority"],
            "typology": alert["typology"],
            "rules": [f"{m['id']}@{m['version']}" for m in alert["models"]],
            "reasons": [r for m in alert["models"] for r in m["reasons"]][:2],
            "outcome": "number" if number_side else _outcome(alert, losses),
        }
        if number_side:
            number.append(example)
        else:
            (false if example["outcome"] == "false alert" else true).append(example)
    picked = true[: EXAMPLES - min(EXAMPLES // 2, len(false))]
    picked += false[: EXAMPLES - len(picked)]
    return picked + number[: max(0, EXAMPLES - len(picked))]


def _outcome(alert: Mapping[str, Any], losses: Mapping[str, datetime | None]) -> str:
    subscriber = alert["subscriber"]
    if subscriber not in losses:
        return "false alert"
    loss = losses[subscriber]
    if loss is None:
        return "victim, no loss"
    lead = (loss - datetime.fromisoformat(alert["emitted_at"])).total_seconds()
    if lead > 0:
        return f"victim, {_duration(lead)} before the first loss"
    if lead == 0:
        return "victim, at the first loss"
    return f"victim, {_duration(-lead)} after the first loss"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def flag_note(rules: Sequence[Rule]) -> str | None:
    """A note when rules read number-side flags but no number-side rule runs beside them:
    alone, nothing flags a number, so those features stay 0."""
    if any(r.spec.on in NUMBER_KINDS for r in rules):
        return None
    readers = sorted(r.key for r in rules if _FLAG_FEATURES & _features(r))
    if not readers:
        return None
    return (
        f"note: {', '.join(readers)} read(s) number flags, but no number-side rule runs "
        "in this backtest (add one, e.g. rules/number/, to flag numbers)"
    )


def _features(rule: Rule) -> set[str]:
    names = rule.names
    used = {names[i] for i, _, _ in rule.all_of}
    used |= {names[i] for group in rule.any_of for i, _, _ in group}
    if rule.condition is not None:
        used |= {leaf.feature for leaf in rule.condition.leaves()}
    return used


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    feed: Feed
    new: Side
    old: Side | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "feed": {
                "directory": str(self.feed.directory),
                "subscribers": self.feed.subscribers,
                "days": self.feed.days,
            },
            "rules": self.new.to_dict(),
        }
        if self.old is not None:
            out["against"] = self.old.to_dict()
            out["diff"] = self.diff()
        return out

    def diff(self) -> dict[str, Any]:
        """new − old for every figure, and who was gained and lost (masked)."""
        assert self.old is not None
        new, old = self.new, self.old
        figures = {
            name: _delta(value(new), value(old)) for name, value in FIGURES if name != "rules"
        }
        return {
            **figures,
            "victims_gained": _who(new.victims - old.victims),
            "victims_lost": _who(old.victims - new.victims),
            "before_loss_gained": _who(new.before_loss - old.before_loss),
            "before_loss_lost": _who(old.before_loss - new.before_loss),
            "false_alerts_gained": _who(new.false - old.false),
            "false_alerts_lost": _who(old.false - new.false),
        }

    def render(self) -> str:
        feed, new, old = self.feed, self.new, self.old
        victims = new.evaluation.victims
        lines = [
            f"Backtest on {feed.directory}: {new.events:,} events, {feed.subscribers:,} "
            f"subscribers, {feed.days * 24:g} h, {victims} victims "
            f"({new.evaluation.victims_with_loss} with a loss)",
            "",
        ]
        header = f"{'':<34}{'rules':>12}"
        if old is not None:
            header += f"{'against':>12}{'change':>12}"
        lines.append(header)
        for name, value in FIGURES:
            if name == "rules":
                continue
            if name.startswith("fraud_numbers") and not _has_number_rules(self):
                continue
            a = value(new)
            row = f"  {LABELS[name]:<32}{_fmt(name, a):>12}"
            if old is not None:
                b = value(old)
                row += f"{_fmt(name, b):>12}{_fmt_delta(name, a, b):>12}"
            lines.append(row)
        if old is not None:
            lines += ["", *self._changes()]
        lines += ["", *_rule_table("Rules", new)]
        if old is not None:
            lines += ["", *_rule_table("Against", old)]
        lines += ["", *_example_lines("Example alerts", new)]
        if old is not None:
            lines += ["", *_example_lines("Example alerts (against)", old)]
        notes = [n for n in (flag_note(new.rules), old and flag_note(old.rules)) if n]
        if notes:
            lines += ["", *dict.fromkeys(notes)]
        return "\n".join(lines)

    def _changes(self) -> list[str]:
        diff = self.diff()
        out = []
        for key, label in (
            ("victims_gained", "victims gained"),
            ("victims_lost", "victims lost"),
            ("before_loss_gained", "caught before loss, gained"),
            ("before_loss_lost", "caught before loss, lost"),
            ("false_alerts_gained", "false alerts gained"),
            ("false_alerts_lost", "false alerts lost"),
        ):
            who = diff[key]
            shown = ", ".join(who["examples"])
            more = " …" if who["count"] > len(who["examples"]) else ""
            out.append(f"  {label:<32}{who['count']:>6}  {shown}{more}".rstrip())
        return out


def _has_number_rules(backtest: Backtest) -> bool:
    sides = [backtest.new] + ([backtest.old] if backtest.old is not None else [])
    return any(r.spec.on in NUMBER_KINDS for side in sides for r in side.rules)


def _who(subscribers: frozenset[str]) -> dict[str, Any]:
    shown = sorted(subscribers)[:DIFF_EXAMPLES]
    return {"count": len(subscribers), "examples": [mask_msisdn(s) for s in shown]}


def _delta(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return a - b


FIGURES: tuple[tuple[str, Any], ...] = (
    ("rules", lambda s: len(s.rules)),
    ("hits", lambda s: len(s.alerts)),
    ("incidents", lambda s: len({a["alert_id"] for a in s.alerts})),
    ("alerted_subscribers", lambda s: s.evaluation.alerted_subscribers),
    ("victims_alerted", lambda s: s.evaluation.victims_alerted),
    ("recall", lambda s: s.evaluation.recall),
    ("alerted_by_loss", lambda s: s.evaluation.alerted_by_loss),
    ("alerted_before_loss", lambda s: s.evaluation.alerted_before_loss),
    ("recall_before_loss", lambda s: s.evaluation.recall_before_loss),
    ("median_lead_time_s", lambda s: s.evaluation.median_lead_time_s),
    ("false_alerted_subscribers", lambda s: s.evaluation.false_alerted_subscribers),
    ("precision", lambda s: s.evaluation.precision),
    ("false_alerts_per_10k_per_day", lambda s: s.evaluation.false_alerts_per_10k_per_day),
    ("fraud_numbers_flagged", lambda s: s.evaluation.fraud_numbers_flagged),
    ("fraud_numbers_precision", lambda s: s.evaluation.number_precision),
)
LABELS = {
    "hits": "hits (alert emissions)",
    "incidents": "incidents",
    "alerted_subscribers": "alerted subscribers",
    "victims_alerted": "victims caught",
    "recall": "recall",
    "alerted_by_loss": "caught by first loss",
    "alerted_before_loss": "caught before first loss",
    "recall_before_loss": "recall before loss",
    "median_lead_time_s": "median lead time",
    "false_alerted_subscribers": "false alerted subscribers",
    "precision": "precision",
    "false_alerts_per_10k_per_day": "false alerts / 10k subs / day",
    "fraud_numbers_flagged": "fraud numbers flagged",
    "fraud_numbers_precision": "number precision",
}
_RATIOS = frozenset({"recall", "recall_before_loss", "precision", "fraud_numbers_precision"})


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if name in _RATIOS:
        return f"{value:.1%}"
    if name == "median_lead_time_s":
        return f"{value:,.0f} s"
    if name == "false_alerts_per_10k_per_day":
        return f"{value:.3f}"
    return f"{value:,.0f}"


def _fmt_delta(name: str, a: float | None, b: float | None) -> str:
    d = _delta(a, b)
    if d is None:
        return "-"
    if name in _RATIOS:
        return f"{d * 100:+.1f} pt"
    if name == "median_lead_time_s":
        return f"{d:+,.0f} s"
    if name == "false_alerts_per_10k_per_day":
        return f"{d:+.3f}"
    return f"{d:+,.0f}"


def _rule_table(title: str, side: Side) -> list[str]:
    lines = [f"{title:<50}{'status':<14}{'incidents':>10}{'true':>7}{'false':>7}"]
    for rule in side.rules:
        counts = side.per_rule[rule.key]
        lines.append(
            f"  {rule.key:<48}{rule.spec.status:<14}"
            f"{counts['incidents']:>10}{counts['true']:>7}{counts['false']:>7}"
        )
    if any(rule.spec.status != "stable" for rule in side.rules):
        lines.append("  (every rule runs as stable here, whatever its status)")
    return lines


def _example_lines(title: str, side: Side) -> list[str]:
    if not side.examples:
        return [f"{title}: none"]
    lines = [f"{title}:"]
    for ex in side.examples:
        lines.append(
            f"  {ex['emitted_at']}  {ex['subscriber']}  {ex['priority']}  "
            f"{', '.join(ex['rules'])}  [{ex['outcome']}]"
        )
        lines.extend(f"      {reason}" for reason in ex["reasons"])
    return lines


def backtest(
    rule_paths: Sequence[Path],
    feed_dir: Path,
    *,
    against: Sequence[Path] = (),
    batch_size: int = DEFAULT_BATCH,
    features: FeatureConfig | None = None,
    lists: Mapping[str, tuple[str, ...]] | None = None,
) -> Backtest:
    """Load the feed and the rules (and the old rules), run each set alone, score both."""
    feed = Feed.load(feed_dir)
    rules = load_rules(rule_paths)
    old_rules = load_rules(against) if against else None
    new = run_rules(rules, feed, batch_size=batch_size, features=features, lists=lists)
    old = (
        run_rules(old_rules, feed, batch_size=batch_size, features=features, lists=lists)
        if old_rules is not None
        else None
    )
    return Backtest(feed, new, old)


__all__ = [
    "FEED_FILES",
    "Backtest",
    "BacktestError",
    "Feed",
    "Side",
    "as_stable",
    "backtest",
    "flag_note",
    "load_rules",
    "run_rules",
]
