"""A task's sends grouped by destination partition: every record where its key puts it,
in the order sent."""

from __future__ import annotations

from fraud_warning.murmur import Partitioner, partition_for
from fraud_warning.stages.fanout import by_partition
from fraud_warning.stages.records import Flag, Mark, Send


def test_records_go_where_their_keys_put_them_in_send_order() -> None:
    parts = {"V": 4, "P": 3}
    partition_of = {stage: Partitioner(n) for stage, n in parts.items()}
    keys = [f"+86138{i:08d}" for i in range(40)]
    sends: list[Send] = [("V", k, Flag(f"e{i}", float(i), k)) for i, k in enumerate(keys)]
    sends.insert(7, ("P", None, Mark("V1", 5.0)))  # no key: every partition of its stage
    per = by_partition(sends, partition_of, parts)
    for p in range(3):
        assert per[("P", p)] == [Mark("V1", 5.0)]
    got = [r for (stage, _), records in per.items() if stage == "V" for r in records]
    assert sorted(got, key=lambda r: r.t) == [s[2] for s in sends if s[0] == "V"]
    for (stage, p), records in per.items():
        if stage == "V":
            assert all(partition_for(r.number.encode(), 4) == p for r in records)  # type: ignore[union-attr]
            assert [r.t for r in records] == sorted(r.t for r in records)  # type: ignore[union-attr]


def test_the_partitioner_remembers_within_its_bound() -> None:
    part = Partitioner(6, bound=3)
    keys = [f"k{i}" for i in range(10)]
    assert [part(k) for k in keys] == [partition_for(k.encode(), 6) for k in keys]
    assert len(part._of) <= 3
