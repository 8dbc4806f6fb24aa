"""Safe YAML for rule files: plain data only, duplicate keys refused, lines remembered.

Rule files come from analysts and are data: only the safe YAML subset is read (no
Python tags), aliases are refused (so no billion-laughs expansion), size and depth are
bounded, and every value's line is kept so errors can name `file:line`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

MAX_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 32

Path_ = tuple[str | int, ...]


class YamlError(ValueError):
    """A file that is not acceptable rule YAML; the message names file:line."""


def load_documents(text: str, filename: str) -> list[tuple[Any, dict[Path_, int]]]:
    """Every document in `text` as (data, {path: line}) pairs."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlError(f"{filename}:1: file larger than {MAX_BYTES} bytes")
    try:
        _check_depth(text, filename)
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise YamlError(f"{filename}:{line}: invalid YAML: {exc.problem}") from None
    except RecursionError:
        raise YamlError(f"{filename}:1: YAML nested too deeply") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{filename}:1: invalid YAML: {exc}") from None
    out = []
    for node in nodes:
        lines: dict[Path_, int] = {}
        data = _build(node, (), lines, set(), filename, 0)
        out.append((data, lines))
    return out


def _check_depth(text: str, filename: str) -> None:
    """Refuse deep nesting from the event stream, before the recursive composer sees it
    (which would take seconds to hit RecursionError, or crash under a raised limit)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark else 1
                raise YamlError(f"{filename}:{line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _build(
    node: yaml.Node,
    path: Path_,
    lines: dict[Path_, int],
    seen: set[int],
    filename: str,
    depth: int,
) -> Any:
    line = node.start_mark.line + 1
    if len(seen) >= MAX_NODES:
        raise YamlError(f"{filename}:{line}: more than {MAX_NODES} YAML nodes")
    if depth > MAX_DEPTH:
        raise YamlError(f"{filename}:{line}: nested deeper than {MAX_DEPTH} levels")
    if id(node) in seen:
        raise YamlError(f"{filename}:{line}: YAML aliases are not allowed")
    seen.add(id(node))
    lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise YamlError(f"{filename}:{line}: tag {node.tag} is not allowed")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError(f"{filename}:{key_node.start_mark.line + 1}: keys must be plain")
            key = key_node.value
            if key == "<<":
                raise YamlError(
                    f"{filename}:{key_node.start_mark.line + 1}: merge keys not allowed"
                )
            if key in result:
                raise YamlError(f"{filename}:{key_node.start_mark.line + 1}: duplicate key '{key}'")
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), lines, seen, filename, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise YamlError(f"{filename}:{line}: tag {node.tag} is not allowed")
        return [
            _build(item, (*path, i), lines, seen, filename, depth + 1)
            for i, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag not in _SCALAR_TAGS:
        raise YamlError(f"{filename}:{line}: tag {node.tag} is not allowed")
    return _scalar(node)


_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null")
)
_CONSTRUCTOR = yaml.SafeLoader("")


def _scalar(node: yaml.ScalarNode) -> Any:
    # SafeConstructor resolves the scalar to str/int/float/bool/None/date only.
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    finally:
        _CONSTRUCTOR.constructed_objects.clear()  # it caches every node it ever saw


def load_file(path: Path) -> list[tuple[Any, dict[Path_, int]]]:
    """Every document in the UTF-8 file at `path`; YamlError names `file:line`."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlError(f"{file}:1: cannot read: {exc}") from None
    return load_documents(text, file)


def line_of(lines: Mapping[Path_, int], loc: Path_) -> int:
    """The line of `loc`, or of its nearest ancestor that has one."""
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def schema_error(
    exc: ValidationError, lines: Mapping[Path_, int], file: str, fields: Iterable[str], root: str
) -> str:
    """`file:line: field: message` for the first error of a schema validation."""
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or root
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field (expected one of: {', '.join(fields)})"
    return f"{file}:{line_of(lines, loc)}: {field}: {msg}"


M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], what: str) -> M:
    """The one YAML mapping in `path`, validated by `model` (a card, a named list);
    YamlError names `file:line` and the field."""
    file = str(path)
    documents = load_file(path)
    if len(documents) != 1 or not isinstance(documents[0][0], dict):
        raise YamlError(f"{file}:1: a {what} is one YAML mapping")
    data, lines = documents[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise YamlError(schema_error(exc, lines, file, model.model_fields, what)) from None


__all__ = ["YamlError", "line_of", "load_documents", "load_file", "load_model", "schema_error"]
