"""The heap on huge pages (fraud_warning/hugepages.py, _hugepages.c): pymalloc's arenas
come from 2 MiB-aligned regions the kernel may back with huge pages, objects in them
stay intact through churn, memory goes back when freed, and alerts do not change.

The allocator is process-wide and cannot be taken out again, so each check that
installs it runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fraud_warning
from fraud_warning.feed.generate import generate_feed
from fraud_warning.hugepages import thp_mode
from tests.factories import score_argv

PACKAGE = Path(fraud_warning.__file__).parent
ROOT = PACKAGE.parent
COMPILED = bool(list(PACKAGE.glob("_hugepages*.so")))
USABLE = COMPILED and thp_mode() in ("always", "madvise")
needs_it = pytest.mark.skipif(
    not USABLE, reason="_hugepages not compiled here, or the kernel has no THP to give"
)


def _python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("always [madvise] never\n", "madvise"),
        ("[always] madvise never\n", "always"),
        ("always madvise [never]\n", "never"),
        ("", None),
        ("madvise\n", None),
    ],
)
def test_the_kernel_setting_is_read_from_its_brackets(
    tmp_path: Path, text: str, mode: str | None
) -> None:
    setting = tmp_path / "enabled"
    setting.write_text(text)
    assert thp_mode(setting) == mode
    assert thp_mode(tmp_path / "missing") is None


def test_it_stays_off_when_asked_and_says_so() -> None:
    out = _python(
        "from fraud_warning import hugepages; print(hugepages.enable()); "
        "print(hugepages.stats().get('installed', 0))",
        FW_HUGE_PAGES="0",
    )
    assert out.split("\n")[:2] == ["off (FW_HUGE_PAGES=0)", "0"]


# Churns the heap the ways that matter: many arenas filled, half of them emptied in an
# interleaved pattern (so huge pages are left half used), refilled, and deep recursion,
# whose frame stack takes chunks of other sizes through the same hook (an allocator
# that mixed those up with arenas corrupted the heap). Checks every object's contents.
CHURN = r"""
import json, sys
from fraud_warning import hugepages
status = hugepages.enable()
import _fw_probe  # noqa: E402  (below: helpers kept out of the measured objects)

def make(n, tag):
    return [(f"{tag}:{i}", i, {"k": i}) for i in range(n)]

def check(items, tag):
    for i, (s, j, d) in enumerate(items):
        assert s == f"{tag}:{i}" and j == i and d == {"k": i}, (tag, i)

def deep(n, acc):
    if n == 0:
        return acc
    return deep(n - 1, acc + [str(n)])

batches = [make(20_000, t) for t in range(60)]
peak = hugepages.stats()
for t in range(0, 60, 2):
    batches[t] = None
sys.setrecursionlimit(20_000)
assert len(deep(8_000, [])) == 8_000
halved = hugepages.stats()
for t in range(0, 60, 2):
    batches[t] = make(20_000, f"again{t}")
for t, items in enumerate(batches):
    check(items, f"again{t}" if t % 2 == 0 else t)
flags = _fw_probe.region_flags()
refilled = hugepages.stats()
batches = None
freed = hugepages.stats()
print(json.dumps({"status": status, "peak": peak, "halved": halved,
                  "refilled": refilled, "freed": freed, "flags": flags,
                  "rss_after_free": _fw_probe.region_rss_kib()}))
"""

PROBE = r"""
from fraud_warning import _hugepages

def _regions():
    bounds = _hugepages.region_bounds()
    with open("/proc/self/smaps") as fh:
        text = fh.read().split("\n")
    out, current = [], None
    for line in text:
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            current = {"lo": lo, "hi": hi, "rss": 0, "flags": []}
            if any(lo < b_hi and b_lo < hi for b_lo, b_hi in bounds):
                out.append(current)
            else:
                current = None
        elif current is not None and line.startswith("Rss:"):
            current["rss"] = int(head[1])
        elif current is not None and line.startswith("VmFlags:"):
            current["flags"] = head[1:]
    return out

def region_flags():
    return sorted({f for r in _regions() for f in r["flags"]})

def region_rss_kib():
    return sum(r["rss"] for r in _regions())
"""


@needs_it
def test_arenas_come_from_huge_page_regions_and_survive_churn(tmp_path: Path) -> None:
    (tmp_path / "_fw_probe.py").write_text(PROBE)
    out = _python(CHURN, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}")
    got = json.loads(out)
    assert got["status"] == "on"
    # 1.2 million small tuples, strings and dicts: hundreds of 1 MiB arenas
    assert got["peak"]["arenas"] > 200
    assert got["peak"]["regions"] >= 4
    # emptied arenas are handed back to the allocator, then reused for the refill
    assert got["halved"]["arenas"] < got["peak"]["arenas"]
    assert got["refilled"]["regions"] <= got["peak"]["regions"] + 1
    # the kernel sees the regions as huge-page regions ("hg": MADV_HUGEPAGE)
    assert "hg" in got["flags"]
    # freed: most arenas go back (pymalloc keeps one while any object in it lives), and
    # their memory with them, a huge page at a time: at most 2 MiB stays per arena held
    assert got["freed"]["arenas"] < got["peak"]["arenas"] / 4
    assert got["rss_after_free"] <= got["freed"]["arenas"] * 2048


@needs_it
def test_alerts_are_the_same_with_and_without_huge_pages(tmp_path: Path) -> None:
    city = tmp_path / "city"
    generate_feed(city, subscribers=1_500, hours=8, seed=5, fraud_rate=30)
    outputs = {}
    for setting in ("1", "0"):
        out = tmp_path / f"out{setting}"
        out.mkdir()
        code = (
            "import sys, logging; logging.basicConfig(level=logging.INFO); "
            "from fraud_warning.cli import main; sys.exit(main(sys.argv[1:]))"
        )
        argv = [*score_argv(code, ROOT, city, out), "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FW_HUGE_PAGES": setting}
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        status = "on" if setting == "1" else "off (FW_HUGE_PAGES=0)"
        assert f"heap on huge pages: {status}" in done.stderr
        outputs[setting] = [(out / f).read_bytes() for f in ("alerts.jsonl", "tasks.jsonl")]
    assert outputs["1"][0].count(b"\n") > 0  # the city did alert
    assert outputs["1"] == outputs["0"]
