"""`serve` refuses unsafe defaults outside development: one line, exit 2, no token shown.

Each refusal happens before Redis is touched or a port is bound, so these run `main()`
in-process; the cases that must start are checked on `check_exposure` itself (the
desk API tests start a real server in both modes).
"""

from __future__ import annotations

import pytest

from fraud_warning.cli import main
from fraud_warning.desk.auth import Tokens, weakness
from fraud_warning.desk.exposure import check_exposure, is_loopback

STRONG = "desk:3f9a1c07d2b84e6a5c11,unit:9b2e64d07a13f5c8e0d4"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FW_API_TOKENS", "FW_ENV", "FW_BIND"):
        monkeypatch.delenv(name, raising=False)


REFUSED = [
    # (FW_API_TOKENS, FW_ENV, argv after `serve`, what the one line says)
    ("", None, [], "no API tokens"),
    ("desk:tooshort99", None, ["--dev"], "shorter than 16 characters"),
    ("desk:" + "d" * 24, None, [], "entry 1 (desk): token is not a secret (only 1 distinct"),
    ("unit:" + "ab12" * 6, None, [], "(only 4 distinct character(s))"),
    (STRONG + ",admin:Changeme-Changeme-2026", None, [], "entry 3 (admin): token is not a secret"),
    ("desk:my-default-token-for-now", None, [], 'contains "default"'),
    ("", None, ["--dev", "--bind", "0.0.0.0"], "without API tokens on 0.0.0.0"),
    ("", None, ["--dev", "--bind", "::"], "without API tokens on ::"),
    ("", None, ["--dev", "--bind", "192.168.1.20"], "not a loopback address"),
    ("", None, ["--dev", "--bind", "desk.example.org"], "not a loopback address"),
    ("", "development", ["--bind", "0.0.0.0"], "not a loopback address"),
    (STRONG, "production", ["--dev"], "--dev is refused when FW_ENV=production"),
    (STRONG, "staging", [], "FW_ENV must be one of development, production, got 'staging'"),
]


@pytest.mark.parametrize(("tokens", "environment", "argv", "says"), REFUSED)
def test_serve_refuses_unsafe_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tokens: str,
    environment: str | None,
    argv: list[str],
    says: str,
) -> None:
    monkeypatch.setenv("FW_API_TOKENS", tokens)
    if environment is not None:
        monkeypatch.setenv("FW_ENV", environment)
    # port 1 cannot be bound by a test: reaching it would fail differently
    assert main(["serve", "--port", "1", "--redis", "redis://127.0.0.1:1/0", *argv]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    line = out.err.strip()
    assert "\n" not in line and line.startswith("fraud-warning: ")
    assert says in line
    for entry in tokens.split(","):
        secret = entry.partition(":")[2]
        if secret:
            assert secret not in line, "a token reached the error message"


def test_the_bind_address_may_come_from_fw_bind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FW_BIND", "0.0.0.0")
    assert main(["serve", "--dev", "--port", "1"]) == 2
    assert "without API tokens on 0.0.0.0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tokens", "bind", "dev", "environment", "mode"),
    [
        ("", "127.0.0.1", True, None, True),  # the desk tests' dev server
        ("", "localhost", True, None, True),
        ("", "::1", True, None, True),
        ("", "[::1]", False, "development", True),
        ("", "127.0.0.2", False, "Development", True),
        ("desk:" + "d" * 20, "0.0.0.0", True, None, True),  # dev: placeholder tokens allowed
        (STRONG, "0.0.0.0", False, None, False),  # production on every interface, with tokens
        (STRONG, "10.0.0.5", False, "production", False),
        ("desk:desk-token-0123456789abcdef", "127.0.0.1", False, None, False),
    ],
)
def test_safe_settings_start(
    tokens: str, bind: str, dev: bool, environment: str | None, mode: bool
) -> None:
    assert check_exposure(Tokens.parse(tokens), bind=bind, dev=dev, environment=environment) is mode


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.10", "::1", "[::1]", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "", "10.0.0.1", "example.org"))


def test_random_tokens_are_not_weak() -> None:
    import secrets

    for _ in range(200):
        assert weakness(secrets.token_hex(16)) is None
        assert weakness(secrets.token_urlsafe(24)) is None
