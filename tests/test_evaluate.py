"""Evaluation on small hand-made label and alert sets, numbers checked by hand."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from fraud_warning.contracts import Alert
from fraud_warning.evaluate import Evaluation, evaluate, feed_meta, load_jsonl

DAY = "2024-05-01T"
KEYS = {
    "victims",
    "victims_alerted",
    "victims_with_loss",
    "alerted_by_loss",
    "alerted_before_loss",
    "recall",
    "recall_by_loss",
    "recall_before_loss",
    "median_lead_time_s",
    "alerted_subscribers",
    "false_alerted_subscribers",
    "precision",
    "false_alerts_per_10k_per_day",
    "by_priority",
    "by_typology_recall",
    "fraud_numbers",
    "fraud_numbers_flagged",
    "number_precision",
    "number_recall",
}


def ts(hhmm: str) -> str:
    return f"{DAY}{hhmm}:00+08:00"


def alert(
    alert_id: str,
    subscriber: str,
    emitted: str,
    priority: str = "P2",
    typology: str = "impersonation_police",
    revision: int = 1,
) -> dict[str, Any]:
    # Built through the contract model, so the test data is what the engine really emits.
    return Alert(
        alert_id=alert_id,
        revision=revision,
        subscriber=subscriber,
        score=0.9,
        priority=priority,  # type: ignore[arg-type]
        typology=typology,
        models=[],
        evidence=["e1"],
        event_ts=datetime.fromisoformat(ts(emitted)),
        emitted_at=datetime.fromisoformat(ts(emitted)),
    ).model_dump(mode="json")


def victim(subscriber: str, typology: str, loss: str | None) -> dict[str, Any]:
    return {
        "subscriber": subscriber,
        "typology": typology,
        "first_contact_ts": ts("09:00"),
        "first_loss_ts": None if loss is None else ts(loss),
    }


LABELS = [
    victim("V1", "impersonation_police", "10:00"),
    victim("V2", "investment", "11:00"),
    victim("V3", "investment", None),  # contacted, never lost money
    victim("V4", "impersonation_police", "09:30"),  # never alerted
    {"number": "N1", "kind": "fraud_number", "first_call_ts": ts("08:00")},
    {"number": "N2", "kind": "fraud_number"},
    {"account": "M1", "kind": "mule_account"},
    {"kind": "something_new", "whatever": 1},
]

ALERTS = [
    # V1: revision 2 arrives first in the file; timing must still use revision 1's 09:10,
    # and priority/typology must come from revision 2.
    alert("A1", "V1", "09:20", priority="P1", typology="investment", revision=2),
    alert("A1", "V1", "09:10", priority="P3", revision=1),
    alert("A2", "V2", "11:30", priority="P3"),  # after the loss
    alert("A3", "V3", "09:05", priority="P2"),
    alert("A4", "S9", "12:00", priority="P3"),  # false
    alert("A5", "S8", "12:00", priority="P1"),  # false, twice
    alert("A6", "S8", "13:00", priority="P3"),
    alert("A7", "N1", "09:01", priority="P2", typology="fraud_number"),
    alert("A8", "N3", "09:02", priority="P2", typology="fraud_number"),  # not a fraud number
]


def run(alerts: list[dict[str, Any]] = ALERTS, labels: list[dict[str, Any]] = LABELS) -> Evaluation:
    return evaluate(alerts, labels, subscribers=1_000, days=2.0)


def test_victim_side() -> None:
    result = run()
    assert result.victims == 4
    assert result.victims_alerted == 3  # V1, V2, V3
    assert result.recall == 0.75
    assert result.victims_with_loss == 3  # V1, V2, V4
    assert result.alerted_before_loss == 1  # only V1: V2 too late, V4 never
    assert result.recall_before_loss == pytest.approx(1 / 3)
    # V1: loss 10:00, first alert 09:10 (revision 1, listed second).
    assert result.median_lead_time_s == 50 * 60


def test_false_alerts_and_precision() -> None:
    result = run()
    # V1, V2, V3, S8, S9; fraud-number alerts on N1/N3 are not subscribers.
    assert result.alerted_subscribers == 5
    assert result.false_alerted_subscribers == 2
    assert result.precision == pytest.approx(3 / 5)
    # 2 false / 1,000 subscribers x 10,000 / 2 days.
    assert result.false_alerts_per_10k_per_day == pytest.approx(10.0)


def test_by_priority_uses_the_highest_revision_and_the_most_urgent_alert() -> None:
    assert run().by_priority == {
        "P1": {"alerted": 2, "true": 1},  # V1 (revision 2 is P1), S8 (P1 beats its P3)
        "P2": {"alerted": 1, "true": 1},  # V3
        "P3": {"alerted": 2, "true": 1},  # V2, S9
    }


def test_by_typology_recall_is_per_labelled_typology() -> None:
    assert run().by_typology_recall == {
        "impersonation_police": {"victims": 2, "alerted": 1},
        "investment": {"victims": 2, "alerted": 2},
    }


def test_number_side() -> None:
    result = run()
    assert result.fraud_numbers == 2
    assert result.fraud_numbers_flagged == 1  # N1; N3 is a false flag, N2 missed
    assert result.number_precision == 0.5
    assert result.number_recall == 0.5


def test_to_dict_has_exactly_the_contract_keys_and_serialises() -> None:
    as_dict = run().to_dict()
    assert set(as_dict) == KEYS
    assert orjson.loads(orjson.dumps(as_dict)) == as_dict


def test_revision_order_does_not_matter() -> None:
    assert run(ALERTS[::-1]) == run()


def test_alert_at_the_loss_instant_counts_by_the_loss_not_before() -> None:
    # Same instant, written in another offset: raised by the loss transfer itself.
    same = alert("A1", "V1", "10:00")
    same["emitted_at"] = "2024-05-01T02:00:00Z"
    result = run([same], [victim("V1", "investment", "10:00")])
    assert (result.alerted_by_loss, result.recall_by_loss) == (1, 1.0)
    assert (result.alerted_before_loss, result.recall_before_loss) == (0, 0.0)
    assert result.median_lead_time_s is None


def test_median_over_several_lead_times() -> None:
    labels = [victim(f"V{i}", "investment", "12:00") for i in range(3)]
    alerts = [alert("A0", "V0", "11:00"), alert("A1", "V1", "11:50"), alert("A2", "V2", "11:59")]
    assert run(alerts, labels).median_lead_time_s == 10 * 60


def test_earliest_alert_of_a_subscriber_times_it() -> None:
    labels = [victim("V1", "investment", "10:00")]
    alerts = [alert("A2", "V1", "10:30"), alert("A1", "V1", "09:00")]
    result = run(alerts, labels)
    assert result.alerted_before_loss == 1
    assert result.median_lead_time_s == 3600


def test_a_victim_labelled_twice_counts_once_at_its_first_loss() -> None:
    labels = [victim("V1", "investment", "11:00"), victim("V1", "impersonation_police", "10:00")]
    result = run([alert("A1", "V1", "10:30")], labels)
    assert result.victims == 1
    assert result.victims_with_loss == 1
    assert result.alerted_before_loss == 0  # 10:30 is after the earlier loss
    assert result.by_typology_recall == {
        "impersonation_police": {"victims": 1, "alerted": 1},
        "investment": {"victims": 1, "alerted": 1},
    }


def test_nothing_at_all_gives_nulls_not_errors() -> None:
    result = run([], [])
    assert result.recall is None
    assert result.recall_before_loss is None
    assert result.median_lead_time_s is None
    assert result.precision is None
    assert result.number_precision is None
    assert result.number_recall is None
    assert result.false_alerts_per_10k_per_day == 0.0
    assert result.by_priority == {p: {"alerted": 0, "true": 0} for p in ("P1", "P2", "P3")}
    assert "Victim side" in result.render()


def test_render_shows_the_numbers() -> None:
    text = run().render()
    assert "recall 75.0%" in text
    assert "precision 60.0%" in text
    assert "3,000 s" in text
    assert "10.000" in text
    assert "impersonation_police" in text and "investment" in text
    assert "P1" in text and "50.0%" in text


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"alert_id": "A1", "subscriber": "V1", "priority": "P1", "typology": "x"}, "emitted_at"),
        (
            {
                "alert_id": "A1",
                "subscriber": "V1",
                "priority": "P1",
                "typology": "x",
                "emitted_at": "2024-05-01T09:00:00",
            },
            "no UTC offset",
        ),
        (
            {
                "alert_id": "A1",
                "subscriber": "V1",
                "priority": "P1",
                "typology": "x",
                "emitted_at": "yesterday",
            },
            "not an RFC 3339",
        ),
    ],
)
def test_malformed_alerts_name_the_record(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"alert record 2.*{message}"):
        run([ALERTS[0], record], LABELS)


def test_malformed_label_names_the_record() -> None:
    with pytest.raises(ValueError, match="label record 1: missing 'subscriber'"):
        run([], [{"typology": "investment"}])


def test_bad_denominators_are_refused() -> None:
    with pytest.raises(ValueError, match="subscribers"):
        evaluate([], [], subscribers=0, days=1.0)
    with pytest.raises(ValueError, match="days"):
        evaluate([], [], subscribers=10, days=0.0)


def test_load_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(b'{"a": 1}\n\n  \n{"b": 2}\n')
    assert list(load_jsonl(path)) == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b'{"a": 1}\n\n{"b": \n', ":3: not valid JSON"),
        (b'{"a": 1}\n[1]\n', ":2: expected a JSON object"),
    ],
)
def test_load_jsonl_names_the_bad_line(tmp_path: Path, text: bytes, message: str) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(text)
    with pytest.raises(ValueError) as exc:
        list(load_jsonl(path))
    assert str(exc.value) == f"{path}{message}"


def test_files_round_trip_through_evaluate(tmp_path: Path) -> None:
    alerts_path, labels_path = tmp_path / "alerts.jsonl", tmp_path / "labels.jsonl"
    alerts_path.write_bytes(b"\n".join(orjson.dumps(a) for a in ALERTS))
    labels_path.write_bytes(b"\n".join(orjson.dumps(label) for label in LABELS))
    (tmp_path / "meta.json").write_bytes(
        orjson.dumps({"subscribers": 1_000, "hours": 48, "seed": 1})
    )
    meta = feed_meta(labels_path)
    assert meta == (1_000, 2.0)
    subscribers, days = meta
    result = evaluate(
        load_jsonl(alerts_path), load_jsonl(labels_path), subscribers=subscribers, days=days
    )
    assert result == run()


def test_feed_meta_absent(tmp_path: Path) -> None:
    assert feed_meta(tmp_path / "labels.jsonl") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "expected a JSON object"),
        (b'{"hours": 24}', "'subscribers' must be a positive integer"),
        (b'{"subscribers": 10.5, "hours": 24}', "'subscribers' must be a positive integer"),
        (b'{"subscribers": 10}', "'hours' must be a positive number"),
        (b'{"subscribers": 10, "hours": 0}', "'hours' must be a positive number"),
    ],
)
def test_feed_meta_malformed(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "meta.json").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        feed_meta(tmp_path / "labels.jsonl")
