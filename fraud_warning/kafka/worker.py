"""The distributed runner: the stage tasks as Faust agents, stages joined by topics.

    fw.events ──► number agent ──► fw.stage.victim ──► victim agent ──► fw.stage.payee
                      │                                     │                 │
                      │                                     ▼          payee agent
                      │                               fw.stage.alert ◄────────┘
                      ▼                                     │
                  fw.alerts ◄────────────── alert agent ◄───┘

Every agent takes records in micro-batches (`take_events`), hands each partition's
records to that partition's task (:mod:`fraud_warning.stages.tasks`) and sends what
the task returns as one record per destination partition: a JSON array of stage
records, watermarks included. Input records may hold one event or a JSON array of
events; an empty record with an `fw-mark` header is a watermark from the producer.

Recovery (with checkpoints): every `checkpoint_s` each stage pauses between micro-batches
and its tasks' snapshots go to Redis in one transaction, then the input offsets they
cover are committed (Faust's own acking is off: only a checkpointed offset is
committed). A task that starts, after a crash or on another worker, loads its snapshot
and skips input it already covers; what it sends again carries the same envelope
numbers and is dropped downstream (:mod:`fraud_warning.stages.envelope`). Alerts may be
sent again: they carry the same id and revision, and sinks keep one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from fraud_warning.alerting import Output
from fraud_warning.breaker import Breaker, BreakerConfig
from fraud_warning.decode import DeadLetter, Decoded, Decoder
from fraud_warning.kafka.replay import MAX_RECORD_BYTES, restore_topics
from fraud_warning.kafka.topics import MARK_HEADER, Partitioner, Topics, bootstrap_servers
from fraud_warning.reload import RegistryWatcher
from fraud_warning.stages.checkpoints import Checkpoints
from fraud_warning.stages.envelope import bundles, envelopes, open_new, pieces, sealed
from fraud_warning.stages.fanout import by_partition
from fraud_warning.stages.records import Mark
from fraud_warning.stages.tasks import (
    ALERT,
    NUMBER,
    PAYEE,
    STAGES,
    TASKS,
    VICTIM,
    Context,
    NumberTask,
    Send,
    Task,
)

log = logging.getLogger("fraud_warning.worker")

STAGE_TOPIC = {VICTIM: "victim", PAYEE: "payee", ALERT: "alert"}
FAILURE_LOG_EVERY_S = 30.0  # a streak of checkpoint failures is logged this often
COMMIT_TIMEOUT_S = 10.0  # an offset commit waited for this long at most
STOP_GRACE_S = 5.0  # after the broker lost its topics, an orderly stop gets this long
EXIT_BROKER_LOST = 3  # exit status then (a supervisor restarts the worker)
RETRY_AFTER_FAILURE_S = 1.0  # while checkpoints fail, rounds are tried at most this often


@dataclass(frozen=True)
class WorkerConfig:
    max_batch: int = 2_000  # events (records) per micro-batch and agent
    # how long a micro-batch waits to fill. Paced traffic at 5 ms cut into many small
    # batches whose per-batch and per-record costs made the worker fall behind at 4,000
    # events/s (p99 12.9 s); at 50 ms every event's p99 was 605 ms (bench, 2026-12-06)
    linger_s: float = 0.05
    tick_s: float = 0.1  # idle partitions are checked this often
    stage_prefix: str = "fw.stage."
    checkpoint_s: float = 5.0  # snapshots to Redis this often (with `checkpoints`)
    lag_every_s: float = 5.0  # consumer lag and state-key gauges refreshed this often
    # the state-bytes estimate (sampled deep sizes, slow on a fraud number's thousand
    # callees) this often, and whenever the keys held have doubled since the last one
    state_bytes_every_s: float = 3600.0
    reload_every_s: float = 2.0  # rule and model files checked this often (with a watcher)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    def stage_topic(self, stage: str) -> str:
        return self.stage_prefix + STAGE_TOPIC[stage]


class Worker:
    """The agents of one worker process on a Faust app (created by the caller)."""

    def __init__(
        self,
        app: Any,
        ctx: Context,
        topics: Topics,
        config: WorkerConfig | None = None,
        *,
        on_alerts: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None] | None = None,
        checkpoints: Checkpoints | None = None,
        watcher: RegistryWatcher | None = None,
    ) -> None:
        self.app = app
        self.ctx = ctx
        self.checkpoints = checkpoints
        self.watcher = watcher
        self.reloads = 0
        # a stage's tasks change only while its lock is held: a checkpoint sees a task
        # between micro-batches, with everything it sent acknowledged
        self.locks = {stage: asyncio.Lock() for stage in STAGES}
        self.checkpointed = 0
        # one round at a time (the timer and a rebalance both start rounds): an older
        # snapshot must never land after a newer one whose offsets were committed
        self._checkpointing = asyncio.Lock()
        self._failing_since: float | None = None  # a streak of failed checkpoint writes
        self._failures = 0
        self._failure_logged = self._failed_at = 0.0
        if checkpoints is not None:
            cm = ctx.metrics.checkpoints
            for operation in ("write", "restore"):
                cm.failures.labels(operation)  # exposed at 0 before the first failure
        self.topics = topics
        self.config = config or WorkerConfig()
        self.breaker = Breaker(self.config.breaker)
        self._resumed = asyncio.Event()
        self.on_alerts = on_alerts
        self.tasks: dict[tuple[str, int], Task] = {}
        self._bytes_due = 0.0  # monotonic time of the next state-bytes estimate
        self._bytes_keys = 0  # keys held at the last one
        # (stage, partition) -> the last input offset a task let go of here had read
        self._read_to: dict[tuple[str, int], int] = {}
        self.decoders: dict[int, Decoder] = {}
        # acks off: Faust commits nothing; offsets are committed with checkpoints only
        raw = {"value_serializer": "raw", "key_serializer": "raw", "acks": False}
        self.events_topic = app.topic(topics.events, **raw)
        self.stage_topics = {
            stage: app.topic(self.config.stage_topic(stage), **raw) for stage in STAGE_TOPIC
        }
        self.alerts_topic = app.topic(topics.alerts, value_serializer="raw", key_serializer="raw")
        self.dead_topic = app.topic(topics.dead_letter, value_serializer="raw")
        self.shadow_topic = app.topic(topics.shadow, value_serializer="raw", key_serializer="raw")
        self.dispatch_topic = app.topic(
            topics.dispatch, value_serializer="raw", key_serializer="raw"
        )
        self.topic_stage = {self.input_topic(stage): stage for stage in STAGES}
        self.alerts_sent = 0
        self.dead_sent = 0
        self.shadow_sent = 0
        self.stage_records_sent = 0  # envelopes to the stage topics ...
        self.mark_records_sent = 0  # ... of which carried only watermarks
        parts = self.ctx.partitions
        self._partition_of = {stage: Partitioner(parts[stage]) for stage in STAGE_TOPIC}
        self._register()

    def input_topic(self, stage: str) -> str:
        """The topic a stage's tasks read."""
        topic = self.events_topic if stage == NUMBER else self.stage_topics[stage]
        return str(topic.get_topic_name())

    def output_topics(self) -> list[str]:
        """Every topic this worker sends to."""
        t = self.topics
        stages = [self.config.stage_topic(stage) for stage in STAGE_TOPIC]
        return [*stages, t.alerts, t.dispatch, t.dead_letter, t.shadow]

    def track_output_topics(self) -> None:
        """Have the producer's metadata always ask for every topic this worker sends to.

        aiokafka's client tracks a topic only when a send finds it missing from its
        metadata. While it tracks none, a refresh fetches every topic, so topics that
        existed then are sent to untracked; once any topic is tracked, refreshes ask for
        the tracked ones only and the others drop out of the metadata. A batch already
        waiting for such a topic then has no leader, and the refreshes it asks for never
        bring it back: the send hangs until the batch expires (Faust: 20 minutes), then
        fails with NotLeaderForPartitionError. Seen as the bench's drain hang (the
        number stage waiting on a victim-stage send, the producer holding that batch and
        an alert batch, both for topics gone from its metadata) and as a CI failure."""
        producer = getattr(self.app.producer, "_producer", None)
        if producer is None:
            log.warning("the producer has not started: its topics are not tracked")
            return
        for name in self.output_topics():
            producer.client.add_topic(name)

    def topic_partitions(self) -> dict[str, int]:
        """Topic → partition count this worker's stages need."""
        parts = self.ctx.partitions
        out = {self.topics.events: parts[NUMBER]}
        for stage in STAGE_TOPIC:
            out[self.config.stage_topic(stage)] = parts[stage]
        return out

    # -- agents ------------------------------------------------------------------------

    def _register(self) -> None:
        app, cfg = self.app, self.config

        async def number(stream: Any) -> None:
            async for batch in stream.take_events(cfg.max_batch, within=cfg.linger_s):
                if self.breaker.open:
                    # held, not processed: input waits in the topic until an operator
                    # resumes (a crash meanwhile re-reads it: nothing was committed)
                    await self._resumed.wait()
                async with self.locks[NUMBER]:
                    await self._on_events(batch)

        async def on_start() -> None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.resume_input)
            self.track_output_topics()

        async def idle_tick() -> None:
            # idle upstream partitions (live traffic) release what waits behind them
            for stage in STAGE_TOPIC:
                async with self.locks[stage]:
                    now = time.monotonic()
                    out = Output()
                    sends = [
                        (task, task.step(out, now))  # type: ignore[union-attr]
                        for (s, _p), task in list(self.tasks.items())
                        if s == stage
                    ]
                    await self._send(sends, out)

        async def checkpoint() -> None:
            failing = self._failing_since is not None
            if failing and time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE_S:
                return  # Redis is failing: a round every tick would only flood the log
            await self.checkpoint()

        async def lag() -> None:
            self.observe_lag()
            self.observe_state()

        async def reload() -> None:
            await self.reload()

        app.agent(self.events_topic, name="fw-number")(number)
        app.task(on_start)
        for stage, topic in self.stage_topics.items():
            app.agent(topic, name=f"fw-{STAGE_TOPIC[stage]}")(self._stage_agent(stage))
        app.timer(cfg.tick_s)(idle_tick)
        app.timer(cfg.lag_every_s)(lag)
        if self.watcher is not None:
            app.timer(cfg.reload_every_s)(reload)
        if self.checkpoints is not None:
            app.timer(cfg.checkpoint_s)(checkpoint)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_partitions_assigned.connect(self._on_assigned)

    def _stage_agent(self, stage: str) -> Callable[[Any], Any]:
        cfg = self.config

        async def agent(stream: Any) -> None:
            async for batch in stream.take_events(cfg.max_batch, within=cfg.linger_s):
                async with self.locks[stage]:
                    await self._on_records(stage, batch)

        return agent

    async def _on_records(self, stage: str, batch: Sequence[Any]) -> None:
        now = time.monotonic()
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for event in self._current(batch):
            by_partition[event.message.partition].append(event)
        out = Output()
        sends: list[tuple[Task, list[Send]]] = []
        for partition, events in by_partition.items():
            task: Any = await self.task(stage, partition)
            positions = task.positions
            for event in events:
                # no skip by offset: what the snapshot already covers comes again with
                # numbers it has taken and open_new drops it, and that holds as well
                # when the broker's log is new (its offsets start over)
                positions.offset = event.message.offset
                for envelope in envelopes(event.value):
                    task.feed(open_new(positions, envelope), now, envelope.source)
            sends.append((task, task.step(out, now)))
        await self._send(sends, out)

    async def _on_events(self, batch: Sequence[Any]) -> None:
        by_partition: dict[int, list[Any]] = defaultdict(list)
        for event in self._current(batch):
            by_partition[event.message.partition].append(event)
        out = Output()
        sends: list[tuple[Task, list[Send]]] = []
        first_dead = 0
        for partition, events in by_partition.items():
            task = await self.task(NUMBER, partition)
            assert isinstance(task, NumberTask)
            decoder = self.decoders.setdefault(
                partition, Decoder(f"{self.topics.events}:{partition}")
            )
            good: list[Decoded] = []
            mark = float("-inf")
            for event in events:
                offset = event.message.offset
                if offset <= task.positions.offset:
                    continue  # covered by the snapshot this task started from
                task.positions.offset = offset
                header = _header(event, MARK_HEADER)
                if header is not None:
                    mark = max(mark, _mark_value(header))
                    continue
                decoded, bad = decoder.decode_record(event.value, offset)
                good.extend(decoded)
                out.dead.extend(bad)
            refused = len(out.dead)
            task_sends = task.events(good, out, decoder.source)
            judged_good = len(good) - (len(out.dead) - refused)
            if self.breaker.record(judged_good, [d.reason for d in out.dead[first_dead:]]):
                self._trip()
            first_dead = len(out.dead)
            if mark > float("-inf"):
                # after the batch: a mark never runs ahead of events sent before it
                task_sends.extend(task.advance(mark))
            sends.append((task, task_sends))
        await self._send(sends, out)

    def _current(self, batch: Sequence[Any]) -> Sequence[Any]:
        """The batch without records fetched before the latest rebalance, or during one.

        A micro-batch holds records that left Faust's stream before a rebalance (Faust
        clears only its queues, and it waits only for records of topics it acks). Taken
        after the revoke, such a record would bring its task back on a partition now
        held by another worker: a stale task that later checkpoints over the new
        owner's state, and resumes from its old state if the partition comes back. They
        are dropped: after a rebalance every assigned partition is read again from its
        committed offset (which the revoke's checkpoint set), so none is lost."""
        app = self.app
        generation = app.consumer_generation_id
        kept = (
            [e for e in batch if e.message.generation_id == generation]
            if app.flow_control.is_active()
            else []
        )
        if len(kept) == len(batch):
            return batch  # the usual case
        log.info("dropped %d records taken before a rebalance", len(batch) - len(kept))
        return kept

    def observe_lag(self) -> None:
        """`fraud_warning_consumer_lag` per partition this worker holds a task for."""
        from faust.types import TP

        gauge = self.ctx.metrics.consumer_lag
        for (stage, partition), task in list(self.tasks.items()):
            name = self.input_topic(stage)
            try:
                end = self.app.consumer.highwater(TP(name, partition))
            except Exception as exc:  # not assigned here any more, or no fetch yet
                log.debug("no end offset for %s:%d yet: %s", name, partition, exc)
                end = None
            if end is not None:
                lag = max(0, end - (task.positions.offset + 1))
                gauge.labels(name, str(partition)).set(lag)

    def observe_state(self) -> None:
        """`fraud_warning_state_keys` per side and `fraud_warning_admitted_ids`, summed
        over the tasks this worker holds (a task's keys are its partition's alone), and
        now and then `fraud_warning_state_bytes` (see WorkerConfig.state_bytes_every_s)."""
        metrics = self.ctx.metrics
        keys = {"victims": 0, "numbers": 0, "payees": 0}
        admitted = 0
        for task in list(self.tasks.values()):
            for side, n in task.store.sizes().items():
                keys[side] += n
            if isinstance(task, NumberTask):
                admitted += len(task.admission.ids)
        for side, n in keys.items():
            metrics.state_keys.labels(side).set(n)
        metrics.admitted_ids.set(admitted)
        held, now = sum(keys.values()), time.monotonic()
        if now >= self._bytes_due or held > 2 * self._bytes_keys:
            self._bytes_due, self._bytes_keys = now + self.config.state_bytes_every_s, held
            estimate = {side: 0 for side in keys}
            for task in list(self.tasks.values()):
                for side, n in task.store.estimate_bytes().items():
                    estimate[side] += n
            for side, n in estimate.items():
                metrics.state_bytes.labels(side).set(n)

    # -- rule reload -------------------------------------------------------------------

    async def reload(self) -> bool:
        """Activate changed rule/model files if they load; a refused change leaves the
        running registry in place (the watcher logs why and counts it)."""
        if self.watcher is None:
            return False
        staged = await asyncio.to_thread(self.watcher.poll)
        if staged is None:
            return False
        # between micro-batches of every stage, so no batch sees two registries
        for stage in STAGES:
            await self.locks[stage].acquire()
        try:
            self.ctx.swap(staged)
            for task in self.tasks.values():
                task.activate()
        finally:
            for stage in reversed(STAGES):
                self.locks[stage].release()
        self.reloads += 1
        log.warning(
            "rules reloaded: %d rules, %d models active", len(staged.rules), len(staged.models)
        )
        return True

    # -- the bad-input breaker ---------------------------------------------------------

    def _trip(self) -> None:
        self._resumed.clear()
        self.ctx.metrics.input_paused.set(1)
        log.error(
            "input paused: %s; fix the upstream, then resume with SIGUSR1 to this worker",
            self.breaker.reason,
        )

    def resume_input(self) -> None:
        """An operator's go-ahead after the breaker tripped (SIGUSR1)."""
        if not self.breaker.open:
            return
        self.breaker.reset()
        self.ctx.metrics.input_paused.set(0)
        self._resumed.set()
        log.warning("input resumed by the operator")

    # -- checkpoints -------------------------------------------------------------------

    async def checkpoint(
        self, only: set[tuple[str, int]] | None = None, *, commit: bool = True
    ) -> None:
        """Snapshot the tasks (all, or `only` these) and commit the offsets they cover.

        A stage is held only while its tasks are copied; the write to Redis runs while it
        goes on processing, so an unreachable or slow Redis delays checkpoints, never
        alerts. A failed write is logged (once per streak, then every half minute),
        counted in `fraud_warning_checkpoint_failures_total` and retried next round;
        nothing is committed past the last good checkpoint meanwhile."""
        if self.checkpoints is None:
            return
        checkpoints = self.checkpoints
        written: list[tuple[str, dict[int, int]]] = []
        async with self._checkpointing:
            for stage in STAGES:
                async with self.locks[stage]:
                    tasks = [
                        t
                        for key, t in self.tasks.items()
                        if key[0] == stage and (only is None or key in only)
                    ]
                    if not tasks:
                        continue
                    # the offsets are the snapshot's: the tasks move on during the write
                    covered = {t.partition: t.positions.offset for t in tasks}
                    snapshots = await asyncio.to_thread(checkpoints.dump, tasks)
                try:
                    await asyncio.to_thread(checkpoints.write, snapshots)
                except Exception as exc:  # Redis away, or the process stopping
                    # nothing is committed past the last good checkpoint: after a restart
                    # the input since then is read again, and what is re-sent dropped
                    self._checkpoint_failed(stage, exc)
                    continue
                self._checkpoint_written()
                written.append((stage, covered))
        # outside the round: a commit can hang (broker away) and must not hold up the next
        # round's writes; one landing after a newer one only means more re-reading
        for stage, covered in written if commit else ():
            await self._commit(stage, covered)

    def _checkpoint_failed(self, stage: str, exc: Exception) -> None:
        self.ctx.metrics.checkpoints.failures.labels("write").inc()
        now = self._failed_at = time.monotonic()
        self._failures += 1
        if self._failing_since is None:
            self._failing_since = self._failure_logged = now
            log.warning(
                "checkpoint of stage %s failed (%s): still processing and alerting; "
                "nothing is committed until a checkpoint lands, so a crash now re-reads "
                "the input since the last one",
                stage,
                _reason(exc),
            )
        elif now - self._failure_logged >= FAILURE_LOG_EVERY_S:
            self._failure_logged = now
            log.warning(
                "checkpoints failing for %.0f s (%d failed writes; last: %s); still "
                "processing and alerting",
                now - self._failing_since,
                self._failures,
                _reason(exc),
            )

    def _checkpoint_written(self) -> None:
        self.checkpointed += 1
        self.ctx.metrics.checkpoints.last_success.set(time.time())
        if self._failing_since is not None:
            log.warning(
                "checkpoints written again after %.0f s and %d failed writes",
                time.monotonic() - self._failing_since,
                self._failures,
            )
            self._failing_since = None
            self._failures = 0

    async def _commit(self, stage: str, covered: dict[int, int]) -> None:
        """Commit, per partition of the stage's input, the offset after the last one the
        written snapshot covers."""
        from faust.types import TP

        name = self.input_topic(stage)
        offsets = {TP(name, p): offset + 1 for p, offset in covered.items() if offset >= 0}
        if not offsets:
            return
        try:
            # Faust's acking is off for these topics; its consumer thread commits for us.
            # Bounded: the client retries a commit for ever while the broker is away or
            # lacks the topic, and a round waiting on it would hold every later one
            commit = self.app.consumer._thread.commit(offsets)
            await asyncio.wait_for(commit, COMMIT_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "offset commit to %s not done in %.0f s (broker away?): restart re-reads "
                "more input",
                name,
                COMMIT_TIMEOUT_S,
            )
        except Exception as exc:  # a failed commit costs re-reading, never correctness
            log.warning("offset commit failed (%s): restart re-reads more input", exc)

    async def _on_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        await unless_stopped(self._hand_over(revoked), "partition revoke")

    async def _hand_over(self, revoked: Any) -> None:
        """Partitions moving to another worker: checkpoint their tasks, then let go (a
        task kept for a partition held elsewhere would go stale)."""
        gone = self._task_keys(revoked) & set(self.tasks)
        if not gone:
            return
        lost = await self._lost_logs({key: self.tasks[key].positions.offset for key in gone})
        if lost:
            await self._broker_lost_its_log(lost)
            return
        await self.checkpoint(gone)
        for key in gone:
            async with self.locks[key[0]]:
                task = self.tasks.pop(key, None)
                if task is not None:
                    self._read_to[key] = task.positions.offset

    async def _on_assigned(self, sender: Any, assigned: Any, **_: Any) -> None:
        await unless_stopped(self._check_assigned(assigned), "partition assignment")

    async def _check_assigned(self, assigned: Any) -> None:
        """Ask again on assignment: when the broker restarted empty, the revoke may have
        run while it was away (no answer, so nothing was found lost), and the new
        assignment then holds none of the missing topics, leaving the worker idle."""
        keys = self._task_keys(assigned)
        read = {key: self._read_to[key] for key in keys if key in self._read_to}
        read.update((key, self.tasks[key].positions.offset) for key in keys & set(self.tasks))
        lost = await self._lost_logs(read)
        if lost:
            await self._broker_lost_its_log(lost)

    def _task_keys(self, tps: Iterable[Any]) -> set[tuple[str, int]]:
        """(stage, partition) of the tasks that read these topic partitions."""
        return {
            (self.topic_stage[tp.topic], tp.partition) for tp in tps if tp.topic in self.topic_stage
        }

    async def _lost_logs(self, read: dict[tuple[str, int], int]) -> list[str]:
        """Input topics whose log the broker lost: missing, or emptied under `read`."""
        return await self._lost_topics() or await self._emptied(read)

    async def _emptied(self, read: dict[tuple[str, int], int]) -> list[str]:
        """Input topics with a partition this process has read records from that is now
        empty: the broker lost its log. A broker that auto-creates topics (tansu) has
        them again by the time a rebalance asks, empty, so their listing says nothing.
        Only an empty log counts: tansu reports end offsets below the real end (the
        last batch's first offset + 1), so "ends before what was read" would misfire on
        every rebalance there, but a log that holds records never reports 0."""
        from faust.types import TP

        tps = {
            TP(self.input_topic(stage), partition)
            for (stage, partition), offset in read.items()
            if offset >= 0
        }
        ends = await self._end_offsets(tps) if tps else None
        if ends is None:  # nothing read, or the broker away: asked again on assignment
            return []
        return sorted({tp.topic for tp in tps if ends.get(tp) == 0})

    async def _end_offsets(self, tps: Iterable[Any]) -> Mapping[Any, int] | None:
        """The end offsets of these partitions, or None (logged) when the broker does not
        answer in 10 s."""
        tps = list(tps)
        try:
            return await asyncio.wait_for(self.app.consumer._thread.highwaters(*tps), 10)
        except Exception as exc:
            names = ", ".join(f"{tp.topic}:{tp.partition}" for tp in tps)
            log.warning("no end offsets for %s (%s)", names, _reason(exc))
            return None

    async def _lost_topics(self) -> list[str]:
        """Input topics of this worker's stages that the broker no longer has. Asked on
        a rebalance, which is what a broker coming back from a restart causes."""
        wanted = set(self.topic_stage)
        try:
            thread = self.app.consumer._thread
            consumer = thread._ensure_consumer()
            # a listing of every topic: asking for these by name would auto-create them
            present = await asyncio.wait_for(thread.call_thread(consumer.topics), 10)
        except Exception as exc:  # broker still away: the rebalance goes on as before
            log.warning("could not list the broker's topics (%s)", _reason(exc))
            return []
        return sorted(wanted - set(present))

    async def _broker_lost_its_log(self, lost: list[str]) -> None:
        """The broker came back without topics this worker reads (a broker that keeps no
        data, like tansu, restarted; or the topics were deleted). Offsets now point into
        logs that are gone, and a commit to a missing topic is retried by the client for
        ever, so: state checkpointed without offsets, then stop. The restarted worker
        re-creates its topics, restores the state and reads the new logs from their start
        (see :meth:`_restored`)."""
        log.critical(
            "the broker has lost topic(s) %s (restarted without its data, or deleted): "
            "stopping; task state is checkpointed without offsets, and a restarted worker "
            "re-creates the topics and reads the new logs from their start with that state",
            ", ".join(lost),
        )
        try:
            await asyncio.wait_for(self.checkpoint(commit=False), STOP_GRACE_S * 4)
        except TimeoutError:
            log.critical("the last checkpoint did not finish: a restart resumes from an older one")
        await self._restore_topics()
        self.tasks.clear()
        # Faust's stop waits for its consumer thread, which may be retrying a commit to a
        # lost topic for ever (aiokafka treats UnknownTopicOrPartition as retriable): if
        # the orderly stop has not ended the process in time, it ends here. Nothing is
        # lost by that: the state is in Redis and no offset was committed.
        watchdog = threading.Timer(STOP_GRACE_S, _exit_now, args=(EXIT_BROKER_LOST,))
        watchdog.daemon = True
        watchdog.start()
        await self.app.crash(RuntimeError(f"the broker has lost topic(s) {', '.join(lost)}"))

    async def _restore_topics(self) -> None:
        """Put this worker's topics back with the partition counts its state was made
        with, before a restart reads them (see :func:`restore_topics`)."""
        servers = bootstrap_servers(";".join(str(url) for url in self.app.conf.broker))
        try:
            kept = await asyncio.wait_for(restore_topics(servers, self.topic_partitions()), 30)
        except Exception as exc:  # the restart's own topic check still runs
            log.warning("could not put the topics back (%s)", _reason(exc))
            return
        if kept:
            log.critical(
                "topic(s) %s came back with other partition counts and already hold "
                "records: keys now land on other partitions than the checkpointed state's",
                ", ".join(kept),
            )

    async def _new_log(self, task: Task) -> bool:
        """Whether the task's input partition ends at or before the offset its checkpoint
        covers: then it is not the log the checkpoint was read from (the broker lost it),
        and skipping "covered" offsets would skip new input."""
        from faust.types import TP

        tp = TP(self.input_topic(task.stage), task.partition)
        ends = await self._end_offsets([tp])
        if ends is None:  # unknown: keep the checkpoint's offset, as before
            return False
        end = ends.get(tp)
        return end is not None and end <= task.positions.offset

    # -- tasks and sends ---------------------------------------------------------------

    async def task(self, stage: str, partition: int) -> Task:
        key = (stage, partition)
        task = self.tasks.get(key)
        if task is None:
            task = await self._restored(stage, partition) or TASKS[stage](self.ctx, partition)
            self.tasks[key] = task
        return task

    async def _restored(self, stage: str, partition: int) -> Task | None:
        if self.checkpoints is None:
            return None
        name = f"{stage}{partition}"
        task = await self._load(name)
        if task is not None:
            # a restored merge measures silence from its first word, as a new one does
            log.info("task %s restored at offset %d", task.name, task.positions.offset)
            if stage != NUMBER:
                # a stage task's offset only says what to commit, and it may be the old
                # log's (the broker lost it): committed into a new, shorter log it would
                # make the next rebalance skip records. Nothing is committed until the
                # task has read here; what it reads again carries numbers it has taken.
                task.positions.offset = -1
            elif task.positions.offset >= 0 and await self._new_log(task):
                log.warning(
                    "task %s: its input partition ends before the checkpoint's offset %d, "
                    "so the broker's log is new (it lost the old one); reading it from its "
                    "start with the checkpointed state",
                    task.name,
                    task.positions.offset,
                )
                task.positions.offset = -1
        return task

    async def _load(self, name: str) -> Task | None:
        """The task's snapshot, waiting for the state Redis when it is unreachable.

        Starting empty instead would lose the task's state for good (its input up to the
        committed offset is not read again), so the stage waits: its input stays in the
        topic, and it goes on once Redis answers. A snapshot that does not load (a bad
        format) is raised, not waited on."""
        import redis

        assert self.checkpoints is not None
        delay, since, logged = 0.2, time.monotonic(), -FAILURE_LOG_EVERY_S
        while True:
            try:
                return await asyncio.to_thread(self.checkpoints.load, self.ctx, name)
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self.ctx.metrics.checkpoints.failures.labels("restore").inc()
                now = time.monotonic()
                if now - logged >= FAILURE_LOG_EVERY_S:
                    logged = now
                    log.warning(
                        "task %s waits for the state Redis to restore it (%.0f s so far: "
                        "%s); its stage holds its input meanwhile",
                        name,
                        now - since,
                        _reason(exc),
                    )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _send(self, sends: list[tuple[Task, list[Send]]], out: Output) -> None:
        """Send what the tasks made. If that does not finish (the worker stopping, a
        broker error), the tasks' state is ahead of what left them: they are dropped,
        so no checkpoint records them, and whoever holds their partitions next starts
        from the last checkpoint and reads their input again."""
        try:
            # shielded: a stop lets a send in flight complete rather than cut it short
            await asyncio.shield(self._emit(sends, out))
        except asyncio.CancelledError:  # stopping
            self._drop(sends)
            raise
        except Exception as exc:
            # this process cannot go on from here (its consumer is past the lost input):
            # it stops, and a restart resumes from the checkpoints
            self._drop(sends)
            log.critical("sending failed, stopping so a restart resumes cleanly: %s", exc)
            await self.app.crash(exc)
            raise

    def _drop(self, sends: list[tuple[Task, list[Send]]]) -> None:
        for task, _ in sends:
            self.tasks.pop((task.stage, task.partition), None)

    async def _emit(self, sends: Iterable[tuple[Task, list[Send]]], out: Output) -> None:
        parts = self.ctx.partitions
        futures = []
        # every task's envelopes for one destination partition travel in one record: a
        # round of watermarks is then one record per destination, not one per pair of
        # partitions (a stage record costs Faust ~100 µs whatever it holds)
        bundled: dict[tuple[str, int], list[bytes]] = defaultdict(list)
        marks_only: dict[tuple[str, int], bool] = {}
        for source, task_sends in sends:
            for dest, records in by_partition(task_sends, self._partition_of, parts).items():
                stage, p = dest
                only = all(type(r) is Mark for r in records)
                marks_only[dest] = marks_only.get(dest, True) and only
                for piece, packed in pieces(records, MAX_RECORD_BYTES):
                    name = f"{stage}{p}"
                    bundled[dest].append(sealed(source.positions, source.name, name, piece, packed))
        for (stage, p), encoded in bundled.items():
            topic = self.stage_topics[stage]
            for value in bundles(encoded, MAX_RECORD_BYTES):
                futures.append(await topic.send(value=value, partition=p))
                self.stage_records_sent += 1
                self.mark_records_sent += marks_only[(stage, p)]
        for alert in out.alerts:
            value = orjson.dumps(alert)
            futures.append(
                await self.alerts_topic.send(key=alert["alert_id"].encode(), value=value)
            )
        for dead in out.dead:
            futures.append(await self.dead_topic.send(value=orjson.dumps(dead.to_dict())))
        for logged in out.shadow:
            value = orjson.dumps(logged)
            futures.append(
                await self.shadow_topic.send(key=logged["alert_id"].encode(), value=value)
            )
        self.alerts_sent += len(out.alerts)
        self.dead_sent += len(out.dead)
        self.shadow_sent += len(out.shadow)
        tasks = list(out.tasks)
        if out.alerts and self.on_alerts is not None:
            # the desk dispatches (units are one pool for the city, not per partition)
            tasks.extend(self.on_alerts(out.alerts) or ())
        for task in tasks:
            value = orjson.dumps(task)
            futures.append(
                await self.dispatch_topic.send(key=task["task_id"].encode(), value=value)
            )
        if futures:
            await asyncio.gather(*futures)


async def unless_stopped(work: Awaitable[None], what: str) -> None:
    """Run a rebalance callback; a stop that cancels it part-way ends it quietly. The
    consumer thread that called it would otherwise die with the cancellation at every
    shutdown during a rebalance. Nothing is lost: the partitions' last checkpoint stands,
    and whoever takes them next restores it and reads on from its offsets."""
    try:
        await work
    except asyncio.CancelledError:
        log.info("%s cut short: the worker is stopping", what)


def _exit_now(code: int) -> None:
    log.critical("the worker did not stop in %.0f s; exiting with status %d", STOP_GRACE_S, code)
    logging.shutdown()
    os._exit(code)


def _reason(exc: BaseException) -> str:
    """The first line of an error, for a log line (Redis errors carry no personal data)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _header(event: Any, name: str) -> bytes | None:
    headers = event.headers
    if not headers:
        return None
    value = headers.get(name)
    return value if isinstance(value, bytes) else None


def _mark_value(raw: bytes) -> float:
    try:
        value = float(raw)
    except ValueError:
        return float("-inf")  # a garbled mark is ignored: marks are only promises
    return value if value == value else float("-inf")


def stage_partitions(input_partitions: int, partitions: int) -> dict[str, int]:
    counts = dict.fromkeys(STAGES, partitions)
    counts[NUMBER] = input_partitions
    return counts


__all__ = ["DeadLetter", "Worker", "WorkerConfig", "stage_partitions"]
