"""Named lists: site data the features read, shared by every rule, overridable per site.

Lists are YAML data under `rules/lists/` (never code), one list per file:

    list: service-prefixes
    description: Numbers that are services (bank hotlines, SMS platforms), not strangers.
    kind: prefixes          # prefixes | numbers
    items: ["+86955", "+86106"]

A site keeps its own files in another directory (`--lists DIR`, `FW_LISTS`); a site file
with the same `list:` name replaces the shipped list, or adds to it with `mode: extend`.
Lists are read at start: a change takes a restart (rules reload; lists do not yet).

The lists the engine reads:
- `service-prefixes`: a caller or sender starting with one of these is a service, so
  its calls and SMS are not a stranger's contact;
- `trusted-numbers`: exact numbers treated the same way (a bank's or the police's own
  hotlines that do not share a prefix).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraud_warning.features import FeatureConfig
from fraud_warning.registry import LISTS_DIR
from fraud_warning.wire import E164_PATTERN
from fraud_warning.yamlsafe import YamlError, load_model

KNOWN = {"service-prefixes": "prefixes", "trusted-numbers": "numbers"}
MAX_ITEMS = 100_000

_E164 = re.compile(E164_PATTERN)
Item = Annotated[str, Field(min_length=2, max_length=32)]


class ListError(ValueError):
    """A list file is unreadable or invalid; the message names `file:line`."""


class NamedList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    list: Literal["service-prefixes", "trusted-numbers"]
    description: str = ""
    kind: Literal["prefixes", "numbers"]
    mode: Literal["replace", "extend"] = "replace"
    items: tuple[Item, ...] = Field(default=(), max_length=MAX_ITEMS)

    @field_validator("items")
    @classmethod
    def _phone_like(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        bad = [i for i in items if not i.startswith("+") or not i[1:].isdigit()]
        if bad:
            raise ValueError(f"not a number or number prefix in E.164 form: {bad[0]!r}")
        return items

    def check_kind(self, file: str) -> None:
        expected = KNOWN[self.list]
        if self.kind != expected:
            raise ListError(f"{file}:1: kind: list {self.list!r} holds {expected}, not {self.kind}")
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


def feature_config(lists: dict[str, NamedList]) -> FeatureConfig:
    """What the features read, from the lists (a missing list keeps the default)."""
    default = FeatureConfig()
    prefixes = lists.get("service-prefixes")
    trusted = lists.get("trusted-numbers")
    return FeatureConfig(
        service_prefixes=prefixes.items if prefixes is not None else default.service_prefixes,
        trusted_numbers=frozenset(trusted.items) if trusted is not None else frozenset(),
    )


__all__ = ["LISTS_DIR", "ListError", "NamedList", "feature_config", "load_list_file", "load_lists"]
