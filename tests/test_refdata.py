"""Reference data loading: both formats, and every error names file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraud_warning.refdata import (
    MAX_PROBLEMS,
    RefData,
    RefDataError,
    Subscriber,
    Unit,
    is_elderly,
    load_refdata,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(exc: pytest.ExceptionInfo[RefDataError]) -> list[str]:
    return list(exc.value.problems)


# --- loading good data -------------------------------------------------------------------


def test_csv_sources_load(tmp_path: Path) -> None:
    cells = write(
        tmp_path / "cells.csv", "cell_id,lat,lon\nC1,30.657,104.0657\nC2,30.6296,104.1412\n"
    )
    units = write(
        tmp_path / "units.csv",
        "unit_id,station,lat,lon\nU2,Jinjiang,30.65,104.08\nU1,Wuhou,30.64,104.04\n",
    )
    subs = write(
        tmp_path / "subscribers.csv",
        "msisdn,age_band,home_lat,home_lon\n+8613800000001,65+,30.66,104.07\n+8613800000002,25-34,,\n",
    )
    ref = load_refdata(cells, units, subs)
    assert ref.cells == {"C1": (30.657, 104.0657), "C2": (30.6296, 104.1412)}
    # File order is kept.
    assert ref.units == (Unit("U2", "Jinjiang", 30.65, 104.08), Unit("U1", "Wuhou", 30.64, 104.04))
    assert ref.subscribers["+8613800000001"] == Subscriber("+8613800000001", "65+", 30.66, 104.07)
    assert ref.subscribers["+8613800000002"] == Subscriber("+8613800000002", "25-34", None, None)


def test_extra_columns_reordered_columns_and_bom_are_fine(tmp_path: Path) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_bytes("\ufefflon,note,cell_id,lat\n104.0,rooftop,C1,30.0\n".encode())
    ref = load_refdata(cells=cells)
    assert ref.cells == {"C1": (30.0, 104.0)}


def test_jsonl_sources_load(tmp_path: Path) -> None:
    cells = write(
        tmp_path / "cells.jsonl",
        '{"cell_id": "C1", "lat": 30.657, "lon": 104.0657, "band": 3}\n\n'
        '{"cell_id": 42, "lat": "30.1", "lon": "104.1"}\n',
    )
    units = write(
        tmp_path / "units.json",
        '{"unit_id": "U1", "station": "Wuhou", "lat": 30.64, "lon": 104.04}\n',
    )
    subs = write(
        tmp_path / "subscribers.jsonl",
        '{"msisdn": "+8613800000001", "age_band": "70+", "home_lat": null, "home_lon": null}\n'
        '{"msisdn": "+8613800000002", "age_band": "18-24"}\n'
        '{"msisdn": "+8613800000003", "age_band": "65+", "home_lat": 30.6, "home_lon": 104.0}\n',
    )
    ref = load_refdata(cells, units, subs)
    # A numeric id is read as text: events carry cell ids as strings.
    assert ref.cells == {"C1": (30.657, 104.0657), "42": (30.1, 104.1)}
    assert ref.units == (Unit("U1", "Wuhou", 30.64, 104.04),)
    assert ref.subscribers["+8613800000001"].home_lat is None
    assert ref.subscribers["+8613800000002"].home_lon is None
    assert ref.subscribers["+8613800000003"].home_lat == 30.6


def test_nothing_given_is_empty() -> None:
    assert load_refdata(None, None, None) == RefData.empty()
    empty = RefData.empty()
    assert empty.cells == {} and empty.units == () and empty.subscribers == {}


def test_header_only_file_is_empty_not_an_error(tmp_path: Path) -> None:
    ref = load_refdata(cells=write(tmp_path / "cells.csv", "cell_id,lat,lon\n"))
    assert ref.cells == {}


# --- every problem names file:line -------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [f"{path}: file not found"]
    assert str(path) in str(exc.value)


def test_unknown_extension(tmp_path: Path) -> None:
    path = write(tmp_path / "cells.xlsx", "")
    with pytest.raises(RefDataError, match=r"cells\.xlsx: unknown format '\.xlsx'"):
        load_refdata(cells=path)


def test_missing_column_names_line_1(tmp_path: Path) -> None:
    path = write(tmp_path / "units.csv", "unit_id,lat,long\nU1,30.0,104.0\n")
    with pytest.raises(RefDataError) as exc:
        load_refdata(units=path)
    assert problems_of(exc) == [f"{path}:1: missing column(s): station, lon"]


def test_subscriber_home_columns_must_be_in_the_header(tmp_path: Path) -> None:
    # A misspelt home column would otherwise silently drop every home location.
    path = write(tmp_path / "subs.csv", "msisdn,age_band,home_lat,home_lng\n+8613800000001,65+,,\n")
    with pytest.raises(RefDataError, match=r"subs\.csv:1: missing column\(s\): home_lon"):
        load_refdata(subscribers=path)


def test_missing_field_in_jsonl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cells.jsonl",
        '{"cell_id": "C1", "lat": 30.0, "lon": 104.0}\n{"cell_id": "C2", "lat": 30.0}\n',
    )
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [f"{path}:2: missing field 'lon'"]


def test_empty_csv_file(tmp_path: Path) -> None:
    path = write(tmp_path / "cells.csv", "")
    with pytest.raises(RefDataError, match=r"cells\.csv:1: empty file"):
        load_refdata(cells=path)


def test_unparseable_number(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cells.csv", "cell_id,lat,lon\nC1,30.0,104.0\nC2,thirty,104.0\nC3,30.0,nan\n"
    )
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [
        f"{path}:3: lat 'thirty' is not a number",
        f"{path}:4: lon 'nan' is not a finite number",
    ]


def test_json_number_of_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path / "cells.jsonl", '{"cell_id": "C1", "lat": true, "lon": [104]}\n')
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [
        f"{path}:1: lat must be a number, got bool",
        f"{path}:1: lon must be a number, got list",
    ]


def test_empty_value(tmp_path: Path) -> None:
    path = write(
        tmp_path / "units.csv", "unit_id,station,lat,lon\n,Wuhou,30.0,104.0\nU2,Wuhou,,104.0\n"
    )
    with pytest.raises(RefDataError) as exc:
        load_refdata(units=path)
    assert problems_of(exc) == [f"{path}:2: unit_id is empty", f"{path}:3: lat is empty"]


def test_short_csv_row(tmp_path: Path) -> None:
    path = write(tmp_path / "cells.csv", "cell_id,lat,lon\nC1,30.0\n")
    with pytest.raises(RefDataError, match=r"cells\.csv:2: lon is empty"):
        load_refdata(cells=path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("C1,90.5,104.0", "lat 90.5 is out of range [-90, 90]"),
        ("C1,-91,104.0", "lat -91.0 is out of range [-90, 90]"),
        ("C1,30.0,180.01", "lon 180.01 is out of range [-180, 180]"),
        ("C1,30.0,-200", "lon -200.0 is out of range [-180, 180]"),
    ],
)
def test_coordinates_out_of_range(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "cells.csv", f"cell_id,lat,lon\n{row}\n")
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [f"{path}:2: {message}"]


def test_coordinate_bounds_are_inclusive(tmp_path: Path) -> None:
    path = write(tmp_path / "cells.csv", "cell_id,lat,lon\nN,90,180\nS,-90,-180\n")
    assert load_refdata(cells=path).cells == {"N": (90.0, 180.0), "S": (-90.0, -180.0)}


def test_subscriber_home_out_of_range(tmp_path: Path) -> None:
    path = write(
        tmp_path / "subs.csv", "msisdn,age_band,home_lat,home_lon\n+8613800000001,65+,130,104\n"
    )
    with pytest.raises(RefDataError, match=r"subs\.csv:2: home_lat 130\.0 is out of range"):
        load_refdata(subscribers=path)


def test_half_a_home_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "subs.csv", "msisdn,age_band,home_lat,home_lon\n+8613800000001,65+,30.1,\n"
    )
    with pytest.raises(RefDataError) as exc:
        load_refdata(subscribers=path)
    assert problems_of(exc) == [
        f"{path}:2: home_lat and home_lon must both be given or both be empty"
    ]


@pytest.mark.parametrize(
    ("name", "text", "line", "first", "id_name", "key"),
    [
        ("cells.csv", "cell_id,lat,lon\nC1,30,104\nC2,30,104\nC1,31,104\n", 4, 2, "cell_id", "C1"),
        (
            "units.jsonl",
            '{"unit_id":"U1","station":"a","lat":30,"lon":104}\n\n'
            '{"unit_id":"U1","station":"b","lat":30,"lon":104}\n',
            3,
            1,
            "unit_id",
            "U1",
        ),
        (
            "subs.csv",
            "msisdn,age_band,home_lat,home_lon\n+8613800000001,65+,,\n+8613800000001,70+,,\n",
            3,
            2,
            "msisdn",
            "+8613800000001",
        ),
    ],
)
def test_duplicate_ids(
    tmp_path: Path, name: str, text: str, line: int, first: int, id_name: str, key: str
) -> None:
    path = write(tmp_path / name, text)
    kind = {"cell_id": "cells", "unit_id": "units", "msisdn": "subscribers"}[id_name]
    with pytest.raises(RefDataError) as exc:
        load_refdata(**{kind: path})
    assert problems_of(exc) == [
        f"{path}:{line}: duplicate {id_name} {key!r} (first at line {first})"
    ]


def test_bad_json_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cells.jsonl",
        '{"cell_id": "C1", "lat": 30, "lon": 104}\n{"cell_id": "C2", \n[1, 2]\n',
    )
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert problems_of(exc) == [f"{path}:2: not valid JSON", f"{path}:3: expected a JSON object"]


def test_problems_from_every_file_are_gathered(tmp_path: Path) -> None:
    cells = write(tmp_path / "cells.csv", "cell_id,lat,lon\nC1,x,104\n")
    units = tmp_path / "missing_units.csv"
    subs = write(tmp_path / "subs.jsonl", "not json\n")
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells, units, subs)
    assert problems_of(exc) == [
        f"{cells}:2: lat 'x' is not a number",
        f"{units}: file not found",
        f"{subs}:1: not valid JSON",
    ]
    assert exc.value.total == 3
    assert "3 problems" in str(exc.value)


def test_problems_are_capped_but_counted(tmp_path: Path) -> None:
    rows = "".join(f"C{i},bad,104\n" for i in range(25))
    path = write(tmp_path / "cells.csv", "cell_id,lat,lon\n" + rows)
    with pytest.raises(RefDataError) as exc:
        load_refdata(cells=path)
    assert len(exc.value.problems) == MAX_PROBLEMS
    assert exc.value.total == 25
    assert exc.value.problems[0] == f"{path}:2: lat 'bad' is not a number"
    assert "and 15 more" in str(exc.value)


def test_is_a_value_error(tmp_path: Path) -> None:
    # Callers that map ValueError to "bad input" (exit 2) catch it without knowing the type.
    with pytest.raises(ValueError):
        load_refdata(cells=tmp_path / "missing.csv")


# --- age bands ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("band", "elderly"),
    [
        ("65+", True),
        ("70+", True),
        ("75+", True),
        ("65-69", True),
        (" 80+", True),
        ("64", False),
        ("55-64", False),
        ("18-24", False),
        ("<18", False),
        ("unknown", False),
        ("", False),
    ],
)
def test_is_elderly(band: str, elderly: bool) -> None:
    assert is_elderly(band) is elderly
