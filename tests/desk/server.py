"""A real `fraud-warning serve` in a subprocess, and a small HTTP client for tests."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TOKENS = {
    "desk": "desk-token-0123456789abcdef",
    "unit": "unit-token-0123456789abcdef",
    "admin": "admin-token-0123456789abcdef",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, prefix: str, units_csv: Path, log: Path, *, dev: bool = False) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "FW_API_TOKENS": "" if dev else ",".join(f"{r}:{t}" for r, t in TOKENS.items()),
        }
        argv = [
            sys.executable,
            "-m",
            "fraud_warning",
            "serve",
            "--port",
            str(self.port),
            "--prefix",
            prefix,
            "--units",
            str(units_csv),
            "--tick",
            "0.2",
        ]
        if dev:
            argv.append("--dev")
        self.log = log
        self._log_fh = log.open("wb")
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log_fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {log.read_text()}")
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"serve did not come up: {log.read_text()}")

    def call(
        self,
        method: str,
        path: str,
        role: str | None = None,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {}
        if role is not None or token is not None:
            headers["Authorization"] = f"Bearer {token or TOKENS[role or '']}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(payload) if "json" in ctype else payload.decode()
        return resp.status, parsed, dict(resp.getheaders())

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log_fh.close()
        return self.log.read_text()


def write_units(path: Path, units: list[tuple[str, str, float, float]]) -> Path:
    lines = ["unit_id,station,lat,lon", *(f"{u},{s},{lat},{lon}" for u, s, lat, lon in units)]
    path.write_text("\n".join(lines) + "\n")
    return path
