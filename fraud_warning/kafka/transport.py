"""A Faust transport whose consumer waits at most `fetch_max_wait_ms` for a fetch.

Faust hard-codes `fetch_max_wait_ms=1500` in its aiokafka consumer, and has no
setting for it. A broker that holds an open fetch until the wait expires (tansu does;
Kafka answers early once `fetch.min.bytes` arrive) then delays every record at a
trickle by up to 1.5 s: measured here p50 380 ms, p99 750 ms per hop, against p50
5 ms, p99 16 ms at 100 ms. This transport is Faust's aiokafka transport with only that
wait changed, under its own URL scheme:

    >>> register()                                        # once, before faust.App()
    >>> faust_broker_url("kafka://127.0.0.1:9092", fetch_max_wait_ms=100)
    'fwkafka://127.0.0.1:9092?fetch_max_wait_ms=100'

A shorter wait costs an idle consumer one fetch round-trip per wait per broker,
which is negligible at 100 ms.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

from fraud_warning.kafka.topics import bootstrap_servers

SCHEME = "fwkafka"
DEFAULT_FETCH_MAX_WAIT_MS = 100
QUERY_KEY = "fetch_max_wait_ms"


def fetch_max_wait_ms(transport: Any) -> int:
    """The wait from the first broker URL that carries `?fetch_max_wait_ms=N`, else 100."""
    for url in transport.url:
        value = url.query.get(QUERY_KEY)
        if value is not None:
            wait = int(value)
            if wait < 0:
                raise ValueError(f"{QUERY_KEY} must be >= 0: {wait}")
            return wait
    return DEFAULT_FETCH_MAX_WAIT_MS


class FastConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_consumer(self, loop: Any) -> Any:
        consumer = super()._create_consumer(loop)
        # The aiokafka consumer hands this to its Fetcher in start(), which runs after
        # this method; fail loudly if a new aiokafka renames it rather than be slow.
        if not hasattr(consumer, "_fetch_max_wait_ms"):
            raise RuntimeError("aiokafka changed: AIOKafkaConsumer has no _fetch_max_wait_ms")
        consumer._fetch_max_wait_ms = fetch_max_wait_ms(self.transport)
        return consumer


class FastConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> FastConsumerThread:
        return FastConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with a configurable fetch wait (`fwkafka://`)."""

    Consumer = FastConsumer


def register() -> None:
    """Add `fwkafka://` to Faust's transport registry (idempotent; call before App())."""
    from faust.transport.drivers import TRANSPORTS

    TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")


def faust_broker_url(url: str, *, fetch_max_wait_ms: int = DEFAULT_FETCH_MAX_WAIT_MS) -> str:
    """A `--broker` URL (`kafka://a:9092;b:9092`, `a:9092`) as a Faust broker URL on
    this transport; the wait rides on the first URL's query string."""
    servers = bootstrap_servers(url)
    first = f"{SCHEME}://{servers[0]}?{QUERY_KEY}={int(fetch_max_wait_ms)}"
    return ";".join([first, *(f"{SCHEME}://{s}" for s in servers[1:])])


__all__ = [
    "DEFAULT_FETCH_MAX_WAIT_MS",
    "SCHEME",
    "Transport",
    "faust_broker_url",
    "fetch_max_wait_ms",
    "register",
]
