"""LightGBM's text format, checked field by field before LightGBM parses it.

LightGBM's C++ loader trusts its input: a garbled number in any field, or a wrong
`tree_sizes` entry, can abort the whole process instead of raising, which would take the
engine down with one bad model. The card's checksum catches accidental damage; this is
the second line. Every header key and every tree field is checked against a whitelist
(types, counts, ranges, and that every node but the root has exactly one parent, so a
prediction always ends at a leaf), and LightGBM is then given only what was checked:
the header and the trees, without the trailing importances and parameters sections,
which prediction does not use. Categorical splits and linear trees are refused: our
training never makes them.
"""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_RANGE = re.compile(r"^(none|\[[^\s:\]]+:[^\s:\]]+\])$")
_OBJECTIVE = re.compile(r"^binary( sigmoid:[0-9.eE+\-]+)?$")
_HEADER = frozenset(
    {
        "version",
        "num_class",
        "num_tree_per_iteration",
        "label_index",
        "max_feature_idx",
        "objective",
        "feature_names",
        "feature_infos",
        "tree_sizes",
    }
)
# tree field -> (kind, length: "inner" = num_leaves - 1, "leaves", or 1)
_TREE: dict[str, tuple[str, str]] = {
    "Tree": ("int", "1"),
    "num_leaves": ("int", "1"),
    "num_cat": ("int", "1"),
    "split_feature": ("int", "inner"),
    "split_gain": ("float", "inner"),
    "threshold": ("float", "inner"),
    "decision_type": ("int", "inner"),
    "left_child": ("int", "inner"),
    "right_child": ("int", "inner"),
    "leaf_value": ("float", "leaves"),
    "leaf_weight": ("float", "leaves"),
    "leaf_count": ("int", "leaves"),
    "internal_value": ("float", "inner"),
    "internal_weight": ("float", "inner"),
    "internal_count": ("int", "inner"),
    "is_linear": ("int", "1"),
    "shrinkage": ("float", "1"),
}
_REQUIRED = ("Tree", "num_leaves", "leaf_value")
_SPLITS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
MAX_LEAVES = 131_072


class ModelTextError(ValueError):
    """Not a model this project can load safely; the message says where."""


def _fields(block: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or key in out:
            raise ModelTextError(f"{where}: malformed or repeated line {line[:40]!r}")
        out[key] = value
    return out


def _numbers(text: str, kind: str, where: str) -> list[float]:
    parts = text.split(" ") if text else []
    try:
        values = [float(int(v)) if kind == "int" else float(v) for v in parts]
    except ValueError:
        raise ModelTextError(f"{where}: not {'whole ' if kind == 'int' else ''}numbers") from None
    if any(not math.isfinite(v) for v in values):
        raise ModelTextError(f"{where}: not finite")
    return values


def _tree(block: str, index: int, features: int) -> None:
    where = f"Tree={index}"
    f = _fields(block, where)
    unknown = sorted(set(f) - set(_TREE))
    if unknown or any(k not in f for k in _REQUIRED):
        raise ModelTextError(f"{where}: unexpected or missing fields {unknown or _REQUIRED}")
    if f["Tree"] != str(index):
        raise ModelTextError(f"{where}: block starts with Tree={f['Tree'][:20]!r}")
    scalars = {
        k: _numbers(f[k], "int", f"{where} {k}")
        for k in ("num_leaves", "num_cat", "is_linear")
        if k in f
    }
    if any(len(v) != 1 for v in scalars.values()):
        raise ModelTextError(f"{where}: num_leaves / num_cat / is_linear: one value each")
    leaves = int(scalars["num_leaves"][0])
    if not 1 <= leaves <= MAX_LEAVES:
        raise ModelTextError(f"{where}: num_leaves {leaves} out of range")
    if scalars.get("num_cat", [0])[0] != 0 or scalars.get("is_linear", [0])[0] != 0:
        raise ModelTextError(f"{where}: categorical or linear trees are not supported")
    inner = leaves - 1
    if inner and any(k not in f for k in _SPLITS):
        raise ModelTextError(f"{where}: a tree with splits needs {', '.join(_SPLITS)}")
    arrays: dict[str, list[float]] = {}
    for key, (kind, length) in _TREE.items():
        if key not in f or key in scalars or key == "Tree":
            continue
        values = _numbers(f[key], kind, f"{where} {key}")
        want = {"inner": inner, "leaves": leaves, "1": 1}[length]
        if len(values) != want:
            raise ModelTextError(f"{where} {key}: {len(values)} values, expected {want}")
        arrays[key] = values
    if not inner:
        return
    if any(not 0 <= v < features for v in arrays["split_feature"]):
        raise ModelTextError(f"{where} split_feature: outside 0..{features - 1}")
    if any(not 0 <= v <= 255 for v in arrays["decision_type"]):
        raise ModelTextError(f"{where} decision_type: outside 0..255")
    children = sorted(int(v) for v in arrays["left_child"] + arrays["right_child"])
    # every leaf (-1..-leaves) and every inner node but the root (1..inner-1) exactly once
    if children != list(range(-leaves, 0)) + list(range(1, inner)):
        raise ModelTextError(f"{where}: children do not form a tree")


def _header(head: str) -> tuple[dict[str, str], int, list[int]]:
    if not head.startswith("tree\n"):
        raise ModelTextError("not a LightGBM text model (no 'tree' header)")
    h = _fields(head.removeprefix("tree\n"), "header")
    unknown = sorted(set(h) - _HEADER)
    if unknown or set(h) != _HEADER:
        raise ModelTextError(
            f"header: unexpected or missing keys {unknown or sorted(_HEADER - set(h))}"
        )
    if h["version"] != "v4":
        raise ModelTextError(f"header: model format {h['version'][:20]!r}, expected v4")
    if not _OBJECTIVE.match(h["objective"]):
        raise ModelTextError("header: not a binary objective")
    counts = {
        k: _numbers(h[k], "int", f"header {k}")
        for k in ("num_class", "num_tree_per_iteration", "label_index", "max_feature_idx")
    }
    if counts["num_class"] != [1] or counts["num_tree_per_iteration"] != [1]:
        raise ModelTextError("header: not a single-output model")
    if counts["label_index"] != [0] or len(counts["max_feature_idx"]) != 1:
        raise ModelTextError("header: label_index / max_feature_idx malformed")
    features = int(counts["max_feature_idx"][0]) + 1
    names = h["feature_names"].split(" ")
    infos = h["feature_infos"].split(" ")
    if not 1 <= features <= 10_000 or len(names) != features or len(infos) != features:
        raise ModelTextError("header: feature_names / feature_infos do not match max_feature_idx")
    if not all(_NAME.match(n) for n in names) or not all(_RANGE.match(i) for i in infos):
        raise ModelTextError("header: malformed feature_names or feature_infos")
    sizes = [int(v) for v in _numbers(h["tree_sizes"], "int", "header tree_sizes")]
    if not sizes or any(s <= 0 for s in sizes):
        raise ModelTextError("header: no trees")
    return h, features, sizes


def safe_model_text(text: str) -> str:
    """The checked header and trees of `text`, ready for LightGBM; ModelTextError if any
    part is malformed."""
    head, sep, rest = text.partition("\n\n")
    if not sep:
        raise ModelTextError("not a LightGBM text model (no blank line after the header)")
    _h, features, sizes = _header(head)
    body = rest.encode("utf-8")  # LightGBM cuts tree blocks by byte counts
    start = 0
    for i, size in enumerate(sizes):
        block = body[start : start + size]
        # a block is exactly "Tree=i\n...\n\n\n": a shifted boundary must not parse
        if len(block) != size or not block.startswith(b"Tree=") or not block.endswith(b"\n\n\n"):
            raise ModelTextError(f"Tree={i}: tree_sizes do not match the tree blocks")
        if b"\n\n" in block[:-3]:
            raise ModelTextError(f"Tree={i}: blank line inside the tree")
        try:
            _tree(block.decode("utf-8"), i, features)
        except UnicodeDecodeError:
            raise ModelTextError(f"Tree={i}: not text") from None
        start += size
    if not body[start:].startswith(b"end of trees\n"):
        raise ModelTextError("tree_sizes do not match the trees ('end of trees' not found)")
    return head + "\n\n" + body[:start].decode("utf-8") + "end of trees\n"


__all__ = ["ModelTextError", "safe_model_text"]
