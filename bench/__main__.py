"""`make bench` / `python -m bench`: run the engine benchmarks, print figures, write JSON.

`python -m bench faust [...]` runs the Faust-on-tansu benchmark instead (needs the dev
extra: it starts a broker). `python -m bench latency [...]`: embedded event-to-alert
latency at half the maximum rate; `python -m bench memory [...]`: state bytes per
subscriber and peak RSS with a million subscribers in window; `python -m bench
distributed [...]`: one Faust worker through tansu against the naive agent, and
event-to-alert latency through the broker; `python -m bench processes [...]`: the
worker command with one process per core against one process; `python -m bench soak
[--minutes 10] [--rate 5000]`: the embedded engine at a steady rate for a bounded time,
memory growth and latency drift minute by minute; `python -m bench model-cost [...]`:
LightGBM scoring per candidate, batched through `Scorer.fire` against one row at a time,
and the cost of the reasons (pred_contrib) for the rows that fire.
"""

from __future__ import annotations

import sys

from bench import throughput


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["faust"]:
        from bench import faust_throughput  # imports Faust: only when asked for

        return faust_throughput.main(argv[1:])
    if argv[:1] == ["latency"]:
        from bench import latency

        return latency.main(argv[1:])
    if argv[:1] == ["distributed"]:
        from bench import distributed  # starts a broker and Faust workers

        return distributed.main(argv[1:])
    if argv[:1] == ["processes"]:
        from bench import processes  # starts a broker and worker processes

        return processes.main(argv[1:])
    if argv[:1] == ["soak"]:
        from bench import soak

        return soak.main(argv[1:])
    if argv[:1] == ["memory"]:
        from bench import memory

        return memory.main(argv[1:])
    if argv[:1] == ["model-cost"]:
        from bench import model_cost  # imports LightGBM: only when asked for

        return model_cost.main(argv[1:])
    return throughput.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
