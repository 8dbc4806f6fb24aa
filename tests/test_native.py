"""The modules compiled by build_native.py: the same output as the interpreted package,
and never a compiled module older than its source.

The whole suite runs against whatever `make setup` built (compiled where a C compiler
exists); this compares the two builds directly on one replay, byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

import fraud_warning
from fraud_warning import _refuse_stale_compiled
from fraud_warning.feed.generate import generate_feed
from tests.factories import score_argv

PACKAGE = Path(fraud_warning.__file__).parent
COMPILED = sorted(p.name for p in PACKAGE.glob("*.so"))


def _compiled_after_source(where: Path, source_name: str) -> tuple[Path, Path]:
    """A compiled module and its source, compiled after the source was last changed."""
    stem = source_name.split(".", 1)[0]
    compiled, source = where / f"{stem}.cpython-311-x86_64-linux-gnu.so", where / source_name
    source.write_text("x = 1\n")
    compiled.write_bytes(b"")
    os.utime(source, (1_000, 1_000))
    os.utime(compiled, (2_000, 2_000))
    return compiled, source


def test_a_compiled_module_older_than_its_source_is_refused(tmp_path: Path) -> None:
    compiled, source = _compiled_after_source(tmp_path, "state.py")
    _refuse_stale_compiled(tmp_path)  # compiled after the source: fine
    os.utime(source, (3_000, 3_000))
    with pytest.raises(ImportError, match=r"state\.py changed after it was compiled"):
        _refuse_stale_compiled(tmp_path)
    # and in a subpackage (stages/merge.py is compiled too)
    os.utime(source, (1_000, 1_000))
    (tmp_path / "stages").mkdir()
    nested, nested_source = tmp_path / "stages" / compiled.name, tmp_path / "stages" / "state.py"
    nested.write_bytes(b"")
    nested_source.write_text("x = 1\n")
    os.utime(nested, (2_000, 2_000))
    os.utime(nested_source, (3_000, 3_000))
    with pytest.raises(ImportError, match=r"stages/state\.py changed after it was compiled"):
        _refuse_stale_compiled(tmp_path)


def test_a_c_extension_older_than_its_c_source_is_refused(tmp_path: Path) -> None:
    _, source = _compiled_after_source(tmp_path, "_hugepages.c")
    _refuse_stale_compiled(tmp_path)
    os.utime(source, (3_000, 3_000))
    with pytest.raises(ImportError, match=r"_hugepages\.c changed after it was compiled"):
        _refuse_stale_compiled(tmp_path)


@pytest.mark.skipif(not COMPILED, reason="nothing compiled here (no C compiler, or interpreted)")
def test_compiled_and_interpreted_packages_write_the_same_alerts(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_feed(city, subscribers=1_500, hours=8, seed=11, fraud_rate=30)
    interpreted = tmp_path / "pure"
    shutil.copytree(PACKAGE, interpreted / "fraud_warning", ignore=shutil.ignore_patterns("*.so"))
    root = PACKAGE.parent
    outputs = {}
    for name, path in (("compiled", root), ("interpreted", interpreted)):
        out = tmp_path / name
        out.mkdir()
        code = (
            "import sys, fraud_warning.state as s; from fraud_warning.cli import main; "
            "print(s.__file__, file=sys.stderr); sys.exit(main(sys.argv[1:]))"
        )
        argv = [*score_argv(code, root, city, out), "--shadow-out", str(out / "shadow.jsonl")]
        env = {**os.environ, "PYTHONPATH": str(path)}
        # from tmp_path: `python -c` puts the working directory first on sys.path
        done = subprocess.run(
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        loaded_from = done.stderr.splitlines()[0]
        assert loaded_from.endswith(".so") == (name == "compiled"), loaded_from
        outputs[name] = [
            (out / f).read_bytes() for f in ("alerts.jsonl", "tasks.jsonl", "shadow.jsonl")
        ]
    assert outputs["compiled"][0].count(b"\n") > 0  # the city did alert
    assert outputs["compiled"] == outputs["interpreted"]


@pytest.mark.skipif(not COMPILED, reason="nothing compiled here (no C compiler, or interpreted)")
def test_compiled_state_holds_its_numbers_unboxed_and_packed() -> None:
    """The memory figures rest on the compiled layout: a record's numbers stored in the
    record, a number's counters in 4-byte fields. Plain `int` annotations or a reordered
    __init__ would quietly add 8-50 bytes per record or per subscriber."""
    from fraud_warning.state import Credit, Inbound, Payment, Subscriber

    assert "cpython" in sys.modules["fraud_warning.state"].__file__  # type: ignore[operator]
    assert sys.getsizeof(Inbound(1.0, "+8613800000001", 60, True, 0, False, 3.0)) <= 80
    assert sys.getsizeof(Payment(1.0, "6222000000000000001", 10.0, True)) <= 80
    assert sys.getsizeof(Credit(1.0, "+8613800000001", 10.0, True, False)) <= 80
    # both halves in one object: 24 bytes of headers (no GC header: acyclic), 8 counters
    # in 32, three one-byte fields in 8, eleven 8-byte fields (the key among them)
    assert sys.getsizeof(Subscriber()) <= 152


def test_per_key_state_skips_the_cyclic_gc_and_records_keep_their_header() -> None:
    """Subscribers, payees and the per-event objects are acyclic when compiled (no GC
    header, no tracking). Records must keep their GC header: mypyc's acyclic dealloc
    defers a deeply nested free to CPython's trashcan, which writes into the GC header an
    acyclic object lacks; freeing a payee's chain of 64 credits corrupted the heap. They
    are untracked instead (untrack.py; tests/test_untrack.py)."""
    import gc

    from fraud_warning.decode import Decoded
    from fraud_warning.join import Caller
    from fraud_warning.state import Credit, Inbound, PayeeState, Payment, Subscriber
    from fraud_warning.wire import Sms

    assert "cpython" in sys.modules["fraud_warning.state"].__file__  # type: ignore[operator]
    sms = Sms("e1", datetime(2026, 3, 2, tzinfo=UTC), "+8613800000001", "+8613800000002")
    for acyclic in (Subscriber(), PayeeState(), Decoded(0, sms), Caller(1.0, False)):
        assert not gc.is_tracked(acyclic), type(acyclic)
    for record in (
        Inbound(1.0, "+8613800000001", 60, True, 0, False, 3.0),
        Payment(1.0, "6222000000000000001", 10.0, True),
        Credit(1.0, "+8613800000001", 10.0, True, False),
    ):
        assert type(record).__flags__ & (1 << 14), type(record)  # Py_TPFLAGS_HAVE_GC
        assert not gc.is_tracked(record), type(record)
