"""`make bench` / `python -m bench`: run every benchmark, print figures, write JSON results."""

from __future__ import annotations

import sys

from bench import throughput


def main() -> int:
    return throughput.main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
