"""Compile the engine's per-event modules with mypyc, in place (`make setup` runs this):
the embedded engine's joins and state, the number rules run per row (number_rules), and
the stage pipeline's per-record pieces (the number stage's loop, the watermark merge,
grouping sends by partition, Kafka's key hash); and five modules in C: the arena
allocator that puts the heap on huge pages (`_hugepages.c`, see fraud_warning/hugepages.py),
the decoder's checks on text (`_textcheck.c`, textcheck.py), event times as epoch
seconds (`_epoch.c`, epoch.py), the GC's untrack for objects that cannot be in a cycle
(`_untrack.c`, untrack.py) and admission's memory of event ids as fingerprints
(`_admitted.c`, admitted.py).

The joins and their state are per event and in Python; compiled by mypyc (part of mypy,
a dev dependency) the engine runs 1.4-1.6x faster on the same alerts (docs/benchmarks.md).
The extensions land beside their sources in `fraud_warning/`, the shared library as
`fraud_warning/_native__mypyc*.so`, so an editable install imports them from anywhere.

Optional: without a C compiler, or with FW_INTERPRETED=1, nothing is compiled and the
same code runs interpreted. `fraud_warning/__init__.py` refuses to import a compiled
module older than its source (edit, then `make setup` again, or `make interpreted`).

Left interpreted on purpose: engine.py (the model replay subclasses Engine; its
per-event loop is routing.py, compiled), rank.py
(msgspec decodes Incident from its annotations), and scoring.py and alerting.py (mypyc
takes minutes over their numpy and pydantic types, for little gain).

Run as a file, never imported: `python build_native.py` (it must not import the package
whose modules it is about to replace).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "fraud_warning"
MODULES = (
    "state",
    "join",
    "features",
    "windows",
    "admission",
    "decode",
    "routing",
    "epoch",
    "murmur",
    "number_rules",
    "stages/merge",
    "stages/number_loop",
    "stages/victim_loop",
    "stages/fanout",
)
C_MODULES = ("_hugepages", "_textcheck", "_epoch", "_untrack", "_admitted")


def clean() -> None:
    """Remove every compiled module: the package runs interpreted."""
    for path in PACKAGE.rglob("*.so"):
        path.unlink()
    shutil.rmtree(ROOT / "build", ignore_errors=True)


def main() -> int:
    clean()
    if os.environ.get("FW_INTERPRETED") == "1":
        print("build_native: FW_INTERPRETED=1, nothing compiled (the engine runs interpreted)")
        return 0
    if shutil.which(os.environ.get("CC", "cc")) is None:
        print("build_native: warning: no C compiler, nothing compiled (runs interpreted)")
        return 0
    os.chdir(ROOT)
    try:
        from mypyc.build import mypycify
        from setuptools import Extension, setup

        paths = [f"fraud_warning/{name}.py" for name in MODULES]
        in_c = [
            Extension(f"fraud_warning.{name}", [f"fraud_warning/{name}.c"]) for name in C_MODULES
        ]
        setup(
            name="fraud-warning-native",
            ext_modules=[*mypycify(paths, group_name="fraud_warning._native"), *in_c],
            script_args=["--quiet", "build_ext", "--inplace"],
            packages=[],
        )
    except (Exception, SystemExit) as exc:  # a failed build leaves the pure-Python package
        clean()
        print(f"build_native: warning: compiling failed ({exc}); the engine runs interpreted")
        return 0
    print(
        f"build_native: compiled {len(MODULES)} modules: {', '.join(MODULES)}; "
        f"and in C: {', '.join(C_MODULES)}"
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--clean"]:
        clean()
        sys.exit(0)
    sys.exit(main())
