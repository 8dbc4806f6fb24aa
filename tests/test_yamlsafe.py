"""Safe YAML: plain data only, hostile files refused quickly, every value's line kept."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fraud_warning import yamlsafe
from fraud_warning.yamlsafe import MAX_BYTES, MAX_DEPTH, YamlError, load_documents


def load(text: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    (doc,) = load_documents(text, "r.yaml")
    return doc


def refused(text: str) -> str:
    with pytest.raises(YamlError) as info:
        load_documents(text, "r.yaml")
    return str(info.value)


def test_plain_data_and_scalar_types() -> None:
    data, _ = load("a: 1\nb: 2.5\nc: text\nd: true\ne: null\nf: [1, x]\ng: {h: -3}\n")
    assert data == {
        "a": 1,
        "b": 2.5,
        "c": "text",
        "d": True,
        "e": None,
        "f": [1, "x"],
        "g": {"h": -3},
    }


def test_keys_stay_strings() -> None:
    # `on:` is the trigger field of a rule; YAML 1.1 would make it True.
    data, _ = load("on: transfer\n1: one\nyes: y\n")
    assert data == {"on": "transfer", "1": "one", "yes": "y"}


def test_several_documents() -> None:
    docs = load_documents("a: 1\n---\nb: 2\n", "r.yaml")
    assert [d for d, _ in docs] == [{"a": 1}, {"b": 2}]
    assert docs[1][1][("b",)] == 3


def test_line_numbers_of_nested_keys_and_list_items() -> None:
    text = """\
id: x
when:
  amount_cny:
    gte: 1000

  payee_is_new: {eq: 1}
reasons:
  - first
  -
    second
any:
  - fanout_1h: {gt: 3}
"""
    _, lines = load(text)
    assert lines[("id",)] == 1
    assert lines[("when",)] == 2
    assert lines[("when", "amount_cny")] == 3
    assert lines[("when", "amount_cny", "gte")] == 4
    assert lines[("when", "payee_is_new")] == 6
    assert lines[("when", "payee_is_new", "eq")] == 6
    assert lines[("reasons", 0)] == 8
    assert lines[("reasons", 1)] == 10
    assert lines[("any", 0, "fanout_1h", "gt")] == 12


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "a"),
        ("x:\n  y:\n    z: 1\n    w: 2\n    z: 2\n", 5, "z"),
        ("- {a: 1, a: 2}\n", 1, "a"),
    ],
)
def test_duplicate_keys_refused_with_their_line(text: str, line: int, key: str) -> None:
    assert refused(text) == f"r.yaml:{line}: duplicate key '{key}'"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: !!python/object/apply:os.system ['touch /tmp/pwned']\n", 1),
        ("a: 1\nb: !!python/name:os.system ''\n", 2),
        ("!!python/object:builtins.dict {}\n", 1),
        ("a: !!python/object/new:subprocess.Popen [[ls]]\n", 1),
        ("a: !custom 1\n", 1),
        ("a:\n  b: !custom {x: 1}\n", 2),
        ("a: !custom [1]\n", 1),
        ("a: !!binary aGk=\n", 1),
        ("a: !!set {x}\n", 1),
    ],
)
def test_tags_refused(text: str, line: int) -> None:
    message = refused(text)
    assert message.startswith(f"r.yaml:{line}: tag ")
    assert "is not allowed" in message


def test_python_tags_are_never_constructed(tmp_path: Any) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(YamlError):
        load_documents(f"a: !!python/object/apply:os.system ['touch {marker}']\n", "r.yaml")
    assert not marker.exists()


def test_aliases_refused() -> None:
    assert refused("a: &x 1\nb: *x\n") == "r.yaml:1: YAML aliases are not allowed"
    assert "aliases are not allowed" in refused("a: &x [1, 2]\nb:\n  c: *x\n")


def test_anchor_without_alias_is_plain_data() -> None:
    data, _ = load("a: &x 1\nb: 2\n")
    assert data == {"a": 1, "b": 2}


def test_billion_laughs_refused_fast() -> None:
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        ref = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{ref}]")
    started = time.perf_counter()
    message = refused("\n".join(lines) + "\n")
    assert time.perf_counter() - started < 0.5
    assert "aliases are not allowed" in message


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "{a: " * 50_000 + "}" * 50_000,
        "- " * 10_000 + "x\n",
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["just too deep", "deep flow mappings", "deep block sequence", "100k brackets"],
)
def test_deep_nesting_refused_fast(text: str) -> None:
    started = time.perf_counter()
    message = refused(text)
    assert time.perf_counter() - started < 2.0  # was ~1.6 s via RecursionError
    assert f"nested deeper than {MAX_DEPTH} levels" in message


def test_deep_block_mapping_refused_with_its_line() -> None:
    text = (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5))
        + "  " * (MAX_DEPTH + 5)
        + "v\n"
    )
    assert refused(text) == f"r.yaml:{MAX_DEPTH + 1}: nested deeper than {MAX_DEPTH} levels"


def test_nesting_at_the_limit_is_fine() -> None:
    data, _ = load("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH)
    for _ in range(MAX_DEPTH):
        assert isinstance(data, list)
        data = data[0]
    assert data == 1


def test_file_over_the_size_cap_refused() -> None:
    line = "# " + "x" * 98 + "\n"
    text = "a: 1\n" + line * (MAX_BYTES // len(line) + 1)
    assert len(text.encode()) > MAX_BYTES
    assert refused(text) == f"r.yaml:1: file larger than {MAX_BYTES} bytes"
    # Multi-byte characters count as bytes, not characters.
    wide = "a: '" + "诈" * (MAX_BYTES // 3 + 1) + "'\n"
    assert len(wide) < MAX_BYTES
    assert "file larger than" in refused(wide)


def test_file_just_under_the_size_cap_loads() -> None:
    text = "a: '" + "x" * (MAX_BYTES - 10) + "'\n"
    assert len(text.encode()) <= MAX_BYTES
    data, _ = load(text)
    assert len(data["a"]) == MAX_BYTES - 10


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\n<<: {b: 2}\n", 2),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", 3),
        ("x:\n  - <<: {b: 2}\n", 2),
    ],
)
def test_merge_keys_refused(text: str, line: int) -> None:
    assert refused(text) == f"r.yaml:{line}: merge keys not allowed"


def test_complex_keys_refused() -> None:
    assert refused("? [a, b]\n: 1\n") == "r.yaml:1: keys must be plain"


def test_too_many_nodes_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsafe, "MAX_NODES", 50)
    assert "more than 50 YAML nodes" in refused("a: [" + ", ".join(["1"] * 60) + "]\n")


def test_invalid_yaml_names_its_line() -> None:
    message = refused("a: 1\nb: [1, 2\nc: 3\n")
    assert message.startswith("r.yaml:")
    assert "invalid YAML" in message
    assert refused("a: 1\n  b: 2\n").startswith("r.yaml:2: invalid YAML")


def test_no_state_kept_between_loads() -> None:
    for _ in range(3):
        load("a: [1, 2, 3]\nb: {c: x}\n")
    assert not yamlsafe._CONSTRUCTOR.constructed_objects
