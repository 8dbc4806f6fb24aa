"""Larger registries for benchmarks: the shipped rules plus shadow variants of them.

Variants move every threshold by a deterministic factor, so they evaluate like real
rules (different clauses, same features) without paging anyone.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import yaml

from fraud_warning.registry import rule_files
from fraud_warning.yamlsafe import load_documents

SHIPPED = Path(__file__).resolve().parent.parent / "rules"


def build(size: int, out: Path, seed: int = 215) -> Path:
    """A rules directory of `size` rules: the shipped ones and shadow variants."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(SHIPPED, out)
    # the project's loader: PyYAML's own would read the key `on` as the boolean true;
    # rule files only (not the named lists under lists/)
    docs = [load_documents(p.read_text(), str(p))[0][0] for p in rule_files(SHIPPED)]
    rng = random.Random(seed)
    variants = out / "variants"
    variants.mkdir()
    for n in range(size - len(docs)):
        doc = dict(docs[n % len(docs)])
        doc["id"] = f"{doc['id']}-v{n}"
        doc["status"] = "shadow"
        doc.pop("tests", None)  # written for the original thresholds
        if "when" in doc:  # a `condition:` rule is copied as it is
            doc["when"] = {
                feature: {op: round(v * rng.uniform(0.6, 1.6), 3) for op, v in ops.items()}
                for feature, ops in doc["when"].items()
            }
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        (variants / f"{doc['id']}.yaml").write_text(text.replace("\n'on':", "\non:"))
    return out
