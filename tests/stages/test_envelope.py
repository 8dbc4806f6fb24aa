"""Numbered envelopes: what a restored sender sends again is taken once."""

from __future__ import annotations

from fraud_warning.stages.envelope import open_new, seal
from fraud_warning.stages.records import Flag, Mark, Record
from fraud_warning.stages.tasks import Positions


def flags(*ids: int) -> list[Record]:
    return [Flag(f"e{i}", float(i), f"+8613800000{i:03d}") for i in ids]


def test_a_resent_stretch_is_dropped_and_marks_always_pass() -> None:
    sender, receiver = Positions(), Positions()
    first = seal(sender, "N0", "V1", [*flags(1, 2), Mark("N0", 2.0), *flags(3)])
    assert (first.first, sender.sent) == (1, {"V1": 3})
    assert open_new(receiver, first) == first.records
    saved = Positions(sent=dict(sender.sent))  # a snapshot after three records
    second = seal(sender, "N0", "V1", flags(4, 5))
    assert open_new(receiver, second) == second.records and receiver.seen == {"N0": 5}
    # the sender crashes and is restored from the snapshot: it sends 4 and 5 again, then 6
    again = seal(saved, "N0", "V1", [*flags(4), Mark("N0", 4.0), *flags(5, 6)])
    assert again.first == 4
    assert open_new(receiver, again) == [Mark("N0", 4.0), *flags(6)]
    assert receiver.seen == {"N0": 6}
    # other senders and destinations are counted apart
    assert seal(saved, "N0", "V2", flags(7)).first == 1
    assert open_new(receiver, seal(Positions(), "N1", "V1", flags(8))) == flags(8)
