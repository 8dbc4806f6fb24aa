"""Reference data: cell sites, police units and (optionally) subscriber profiles.

Each source is a CSV file with a header row or a JSON Lines file (`.jsonl`, or `.json`
holding one object per line), chosen by extension. Extra columns are ignored. Every
problem found is reported as `file:line: what is wrong`, up to :data:`MAX_PROBLEMS` of
them in one :class:`RefDataError`, so a bad file is fixed in one pass rather than one
error per run.

Subscribers' `home_lat`/`home_lon` may be empty (an empty CSV cell, JSON `null` or `""`,
or an absent JSON key): the home is then unknown. A CSV header must still name both
columns, so a misspelt column is an error instead of silently losing every home.

>>> is_elderly("65+"), is_elderly("70-74"), is_elderly("55-64")
(True, True, False)
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

MAX_PROBLEMS = 10
ELDERLY_FROM_AGE = 65

_CELL_COLUMNS = ("cell_id", "lat", "lon")
_UNIT_COLUMNS = ("unit_id", "station", "lat", "lon")
_SUBSCRIBER_COLUMNS = ("msisdn", "age_band", "home_lat", "home_lon")
# Present in every record of a JSONL file; a CSV header must name all of a kind's columns.
_JSONL_OPTIONAL = frozenset({"home_lat", "home_lon"})
_LEADING_AGE = re.compile(r"\s*(\d+)")

_T = TypeVar("_T")
Row = tuple[int, Mapping[str, Any]]  # (1-based line number, record)


class RefDataError(ValueError):
    """Reference data could not be loaded. `problems` holds one `file:line: …` per issue."""

    def __init__(self, problems: list[str], total: int) -> None:
        self.problems = tuple(problems)
        self.total = total
        lines = list(problems)
        if total > len(problems):
            lines.append(f"… and {total - len(problems)} more problem(s)")
        noun = "problem" if total == 1 else "problems"
        super().__init__(f"reference data: {total} {noun}:\n  " + "\n  ".join(lines))


@dataclass(frozen=True, slots=True)
class Unit:
    """A police unit, positioned at `lat`, `lon` (decimal degrees) when idle."""

    unit_id: str
    station: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscriber profile. `home_lat`/`home_lon` are both None when the home is unknown."""

    msisdn: str
    age_band: str
    home_lat: float | None
    home_lon: float | None


@dataclass(frozen=True)
class RefData:
    """Loaded reference data: cells by id as (lat, lon), units in file order, subscribers."""

    cells: dict[str, tuple[float, float]] = field(default_factory=dict)
    units: tuple[Unit, ...] = ()
    subscribers: dict[str, Subscriber] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> RefData:
        """No cells, no units, no subscribers: alerts carry no location, nothing dispatches."""
        return cls()


def is_elderly(age_band: str) -> bool:
    """True when the band's lower bound is 65 or more (`65+`, `70+`, `75-79`, …).

    Bands without a leading number (`unknown`, `<18`, empty) are not elderly.
    """
    match = _LEADING_AGE.match(age_band)
    return match is not None and int(match.group(1)) >= ELDERLY_FROM_AGE


class _Problems:
    """Collects problems across files; keeps the first MAX_PROBLEMS, counts the rest."""

    def __init__(self) -> None:
        self.shown: list[str] = []
        self.total = 0

    def add(self, where: str, message: str) -> None:
        self.total += 1
        if len(self.shown) < MAX_PROBLEMS:
            self.shown.append(f"{where}: {message}")


def _records(path: Path, columns: tuple[str, ...], problems: _Problems) -> Iterator[Row]:
    """Yields each record of `path` with its 1-based line number; reports format problems."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".json"):
        problems.add(str(path), f"unknown format {suffix!r} (expected .csv, .jsonl or .json)")
        return
    if not path.is_file():
        problems.add(str(path), "file not found")
        return
    try:
        if suffix == ".csv":
            yield from _csv_records(path, columns, problems)
        else:
            yield from _jsonl_records(path, problems)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.add(str(path), f"cannot read: {exc}")


def _csv_records(path: Path, columns: tuple[str, ...], problems: _Problems) -> Iterator[Row]:
    # utf-8-sig: spreadsheets save CSV with a byte-order mark that would hide the first column.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        if not header:
            problems.add(f"{path}:1", f"empty file, expected a header: {','.join(columns)}")
            return
        reader.fieldnames = header
        missing = [name for name in columns if name not in header]
        if missing:
            problems.add(f"{path}:1", f"missing column(s): {', '.join(missing)}")
            return
        for row in reader:
            # line_num is the row's last physical line, right even for quoted newlines at the end.
            yield reader.line_num, row


def _jsonl_records(path: Path, problems: _Problems) -> Iterator[Row]:
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                problems.add(f"{path}:{lineno}", "not valid JSON")
                continue
            if not isinstance(record, dict):
                problems.add(f"{path}:{lineno}", "expected a JSON object")
                continue
            yield lineno, record


class _Fields:
    """Reads typed fields from one record, reporting each problem against `where`."""

    def __init__(self, where: str, record: Mapping[str, Any], problems: _Problems) -> None:
        self.where = where
        self.record = record
        self.problems = problems
        self.ok = True

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.add(self.where, message)

    def _raw(self, name: str) -> Any:
        if name not in self.record:
            if name not in _JSONL_OPTIONAL:
                self.fail(f"missing field {name!r}")
            return None
        return self.record[name]

    def text(self, name: str, *, required: bool = True) -> str:
        value = self._raw(name)
        # Ids may come as JSON numbers; they are matched as strings everywhere else.
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(f"{name} must be a string, got {type(value).__name__}")
            return ""
        text = value.strip()
        if required and not text:
            self.fail(f"{name} is empty")
        return text

    def number(self, name: str, limit: float, *, optional: bool = False) -> float | None:
        value = self._raw(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if not optional and name in self.record:
                self.fail(f"{name} is empty")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.fail(f"{name} must be a number, got {type(value).__name__}")
            return None
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{name} {value!r} is not a number")
            return None
        if not math.isfinite(number):
            self.fail(f"{name} {value!r} is not a finite number")
            return None
        if not -limit <= number <= limit:
            self.fail(f"{name} {number} is out of range [-{limit:g}, {limit:g}]")
            return None
        return number

    def lat_lon(self, lat_name: str, lon_name: str) -> tuple[float, float] | None:
        lat = self.number(lat_name, 90.0)
        lon = self.number(lon_name, 180.0)
        return None if lat is None or lon is None else (lat, lon)


def _load(
    path: Path,
    columns: tuple[str, ...],
    id_column: str,
    build: Callable[[_Fields], tuple[str, _T] | None],
    problems: _Problems,
) -> dict[str, _T]:
    """Loads one file into a dict by id, reporting bad records and duplicate ids."""
    loaded: dict[str, _T] = {}
    first_seen: dict[str, int] = {}
    for lineno, record in _records(path, columns, problems):
        fields = _Fields(f"{path}:{lineno}", record, problems)
        built = build(fields)
        if built is None or not fields.ok:
            continue
        key, value = built
        if key in first_seen:
            problems.add(
                f"{path}:{lineno}",
                f"duplicate {id_column} {key!r} (first at line {first_seen[key]})",
            )
            continue
        first_seen[key] = lineno
        loaded[key] = value
    return loaded


def _cell(fields: _Fields) -> tuple[str, tuple[float, float]] | None:
    cell_id = fields.text("cell_id")
    position = fields.lat_lon("lat", "lon")
    return None if position is None else (cell_id, position)


def _unit(fields: _Fields) -> tuple[str, Unit] | None:
    unit_id = fields.text("unit_id")
    station = fields.text("station", required=False)
    position = fields.lat_lon("lat", "lon")
    if position is None:
        return None
    return unit_id, Unit(unit_id, station, position[0], position[1])


def _subscriber(fields: _Fields) -> tuple[str, Subscriber] | None:
    msisdn = fields.text("msisdn")
    age_band = fields.text("age_band", required=False)
    home_lat = fields.number("home_lat", 90.0, optional=True)
    home_lon = fields.number("home_lon", 180.0, optional=True)
    if fields.ok and (home_lat is None) != (home_lon is None):
        # Half a home is a data error, not an unknown home: say so rather than drop it.
        fields.fail("home_lat and home_lon must both be given or both be empty")
    return msisdn, Subscriber(msisdn, age_band, home_lat, home_lon)


def load_refdata(
    cells: Path | str | None = None,
    units: Path | str | None = None,
    subscribers: Path | str | None = None,
) -> RefData:
    """Loads whichever sources are given; raises :class:`RefDataError` listing every problem.

    Problems from all files are gathered before raising, so one run shows them all.
    """
    problems = _Problems()
    cell_map: dict[str, tuple[float, float]] = {}
    unit_map: dict[str, Unit] = {}
    subscriber_map: dict[str, Subscriber] = {}
    if cells is not None:
        cell_map = _load(Path(cells), _CELL_COLUMNS, "cell_id", _cell, problems)
    if units is not None:
        unit_map = _load(Path(units), _UNIT_COLUMNS, "unit_id", _unit, problems)
    if subscribers is not None:
        subscriber_map = _load(
            Path(subscribers), _SUBSCRIBER_COLUMNS, "msisdn", _subscriber, problems
        )
    if problems.total:
        raise RefDataError(problems.shown, problems.total)
    return RefData(cells=cell_map, units=tuple(unit_map.values()), subscribers=subscriber_map)


__all__ = [
    "MAX_PROBLEMS",
    "RefData",
    "RefDataError",
    "Subscriber",
    "Unit",
    "is_elderly",
    "load_refdata",
]
