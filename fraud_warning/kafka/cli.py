"""The `worker` command's parser; the handler is :func:`fraud_warning.kafka.commands.worker`."""

from __future__ import annotations

from typing import Any

from fraud_warning.kafka.topics import add_topic_flags
from fraud_warning.settings import env


def register(sub: Any) -> None:
    from fraud_warning.cli import add_ref_flags, non_negative_float, positive_float, positive_int

    p = sub.add_parser("worker", help="run the engine as a Faust worker on Kafka (distributed)")
    p.add_argument("--broker", default=env("broker"), help="kafka://HOST:PORT [FW_BROKER]")
    p.add_argument(
        "--partitions",
        type=positive_int,
        default=env("partitions", "8"),
        help="partitions of the topics it creates [FW_PARTITIONS; 8]",
    )
    p.add_argument(
        "--processes",
        type=positive_int,
        default=env("processes", "1"),
        help="worker processes in the group, one per core; needs --state-redis [FW_PROCESSES; 1]",
    )
    p.add_argument(
        "--group", default=env("group", "fraud-warning"), help="consumer group [FW_GROUP]"
    )
    p.add_argument(
        "--stage-prefix",
        default=env("stage_prefix", "fw.stage."),
        help="prefix of the internal stage topics [FW_STAGE_PREFIX; fw.stage.]",
    )
    p.add_argument(
        "--idle",
        type=non_negative_float,
        default=env("idle_s", "0.5"),
        help="seconds after which a silent upstream partition stops holding others back; "
        "0 = wait for every partition's watermark [FW_IDLE_S; 0.5]",
    )
    p.add_argument(
        "--fetch-wait-ms",
        type=positive_int,
        default=env("fetch_wait_ms", "100"),
        help="longest fetch wait (Faust's own is 1,500 ms) [FW_FETCH_WAIT_MS; 100]",
    )
    p.add_argument(
        "--linger-ms",
        type=positive_float,
        default=env("linger_ms", "50"),
        help="longest wait for a micro-batch to fill: shorter lowers latency at a trickle, "
        "longer keeps per-batch costs down under load [FW_LINGER_MS; 50]",
    )
    p.add_argument(
        "--session-timeout",
        type=non_negative_float,
        default=env("session_timeout_s", "10"),
        help="consumer group session timeout: how soon a dead worker's partitions move "
        "[FW_SESSION_TIMEOUT_S; 10]",
    )
    p.add_argument(
        "--state-redis",
        default=env("state_redis"),
        help="checkpoint task state to this Redis URL, so a restarted worker (or another "
        "in the group) resumes where it was [FW_STATE_REDIS; none: state in memory only]",
    )
    p.add_argument(
        "--checkpoint-every",
        type=non_negative_float,
        default=env("checkpoint_s", "5"),
        help="seconds between checkpoints [FW_CHECKPOINT_S; 5]",
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="forget the group's checkpoints first (with a new group or emptied topics)",
    )
    p.add_argument(
        "--reload-every",
        type=non_negative_float,
        default=env("reload_s", "2"),
        help="seconds between checks of the rule and model files; a valid change is "
        "activated between micro-batches, an invalid one refused and logged; 0: never "
        "[FW_RELOAD_S; 2]",
    )
    p.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default=env("log_level", "warning"),
        help="[FW_LOG_LEVEL; warning]",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=env("metrics_port"),
        help="serve /metrics on 127.0.0.1:PORT [FW_METRICS_PORT]",
    )
    p.add_argument(
        "--desk",
        default=env("desk_redis"),
        help="also hand alerts to the desk on this Redis URL [FW_DESK_REDIS]",
    )
    p.add_argument("--desk-prefix", default=env("redis_prefix", "fw"), help="[FW_REDIS_PREFIX; fw]")
    add_ref_flags(p)
    add_topic_flags(p)
    p.set_defaults(handler="fraud_warning.kafka.commands:worker")


__all__ = ["register"]
