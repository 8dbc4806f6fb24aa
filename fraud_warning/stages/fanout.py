"""What a task sends, grouped by destination partition, in the order it was sent.

Compiled (build_native.py): the worker and the in-process pipeline group every stage
record they pass on, a few per event, and the interpreted loop with its partitioner
calls was about 8 % of a worker's time in a profiled drain.
"""

from __future__ import annotations

from collections.abc import Iterable

from fraud_warning.murmur import Partitioner
from fraud_warning.stages.records import Record, Send


def by_partition(
    sends: Iterable[Send], partition_of: dict[str, Partitioner], partitions: dict[str, int]
) -> dict[tuple[str, int], list[Record]]:
    """(stage, partition) → the records for it, in send order; a record with no key goes
    to every partition of its stage."""
    per: dict[tuple[str, int], list[Record]] = {}
    for stage, key, record in sends:
        if key is None:
            for p in range(partitions[stage]):
                _to(per, (stage, p), record)
        else:
            _to(per, (stage, partition_of[stage](key)), record)
    return per


def _to(per: dict[tuple[str, int], list[Record]], dest: tuple[str, int], record: Record) -> None:
    records = per.get(dest)
    if records is None:
        per[dest] = [record]
    else:
        records.append(record)


__all__ = ["by_partition"]
