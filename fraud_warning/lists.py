"""Named lists: site data the features read, shared by every rule, overridable per site.

Lists are YAML data under `rules/lists/` (never code), one list per file:

    list: service-prefixes
    description: Numbers that are services (bank hotlines, SMS platforms), not strangers.
    kind: prefixes          # prefixes | numbers | values | keywords
    items: ["+86955", "+86106"]

A site keeps its own files in another directory (`--lists DIR`, `FW_LISTS`); a site file
with the same `list:` name replaces the shipped list, or adds to it with `mode: extend`.
Lists load with the rules (`load_registry`): what rules read as `$name` reloads with
them; `service-prefixes` and `trusted-numbers` are read at start.

The lists the engine itself reads:
- `service-prefixes`: a caller or sender starting with one of these is a service, so
  its calls and SMS are not a stranger's contact;
- `trusted-numbers`: exact numbers treated the same way (a bank's or the police's own
  hotlines that do not share a prefix).

Any other list is for rules: a rule's window feature names it as `$name`, e.g.
`where=sms.text contains $impersonation-keywords` (see fraud_warning.windowlang).
`prefixes` and `numbers` hold E.164 numbers or prefixes; `values` hold exact values
(origins, channels, accounts); `keywords` hold phrases matched inside texts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraud_warning.features import FeatureConfig
from fraud_warning.wire import E164_PATTERN
from fraud_warning.yamlsafe import YamlError, load_model

KNOWN = {"service-prefixes": "prefixes", "trusted-numbers": "numbers"}
MAX_ITEMS = 100_000
LISTS_DIR = "lists"  # named lists live beside the rules, and are not rules

_E164 = re.compile(E164_PATTERN)
Item = Annotated[str, Field(min_length=1, max_length=200)]
_PHONE_KINDS = ("prefixes", "numbers")


class ListError(ValueError):
    """A list file is unreadable or invalid; the message names `file:line`."""


class NamedList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    list: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
    description: str = ""
    kind: Literal["prefixes", "numbers", "values", "keywords"]
    mode: Literal["replace", "extend"] = "replace"
    items: tuple[Item, ...] = Field(default=(), max_length=MAX_ITEMS)

    @field_validator("items")
    @classmethod
    def _no_blank(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        blank = [i for i in items if not i.strip()]
        if blank:
            raise ValueError(f"a blank item: {blank[0]!r} (it would match every text)")
        return items

    def check_kind(self, file: str) -> None:
        expected = KNOWN.get(self.list)
        if expected is not None and self.kind != expected:
            raise ListError(f"{file}:1: kind: list {self.list!r} holds {expected}, not {self.kind}")
        if self.kind in _PHONE_KINDS:
            bad = [i for i in self.items if not i.startswith("+") or not i[1:].isdigit()]
            if bad:
                raise ListError(
                    f"{file}:1: items: not a number or number prefix in E.164 form: {bad[0]!r}"
                )
        if self.kind == "numbers":
            for item in self.items:
                if not _E164.match(item):
                    raise ListError(f"{file}:1: items: not a full E.164 number: {item!r}")


def load_list_file(path: Path) -> NamedList:
    try:
        named = load_model(path, NamedList, "list")
    except YamlError as exc:
        raise ListError(str(exc)) from None
    named.check_kind(str(path))
    return named


def load_lists(shipped: Path | None, site: Path | None = None) -> dict[str, NamedList]:
    """The shipped lists with the site's on top; ListError lists every problem."""
    lists: dict[str, NamedList] = {}
    problems: list[str] = []
    for directory, overriding in ((shipped, False), (site, True)):
        if directory is None:
            continue
        if not directory.is_dir():
            if overriding:
                problems.append(f"lists directory not found: {directory}")
            continue
        for path in sorted(directory.glob("*.y*ml")):
            try:
                named = load_list_file(path)
            except ListError as exc:
                problems.append(str(exc))
                continue
            base = lists.get(named.list)
            if overriding and base is not None and named.mode == "extend":
                named = named.model_copy(update={"items": base.items + named.items})
            elif not overriding and base is not None:
                problems.append(f"{path}:1: list {named.list!r} defined twice")
            lists[named.list] = named
    if problems:
        raise ListError("\n".join(problems))
    return lists


def items_of(lists: dict[str, NamedList]) -> dict[str, tuple[str, ...]]:
    """Each list's items by name: what rules' window features read."""
    return {name: named.items for name, named in lists.items()}


def feature_config(lists: dict[str, NamedList]) -> FeatureConfig:
    """What the features read, from the lists (a missing list keeps the default)."""
    default = FeatureConfig()
    prefixes = lists.get("service-prefixes")
    trusted = lists.get("trusted-numbers")
    return FeatureConfig(
        service_prefixes=prefixes.items if prefixes is not None else default.service_prefixes,
        trusted_numbers=frozenset(trusted.items) if trusted is not None else frozenset(),
    )


__all__ = [
    "LISTS_DIR",
    "ListError",
    "NamedList",
    "feature_config",
    "items_of",
    "load_list_file",
    "load_lists",
]
