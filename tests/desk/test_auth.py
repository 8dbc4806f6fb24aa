"""FW_API_TOKENS parsing and constant-time checks."""

from __future__ import annotations

import pytest

from fraud_warning.desk.auth import DEV, Tokens

D, U, A = "d" * 20, "u" * 20, "a" * 20


def test_parse_and_check() -> None:
    tokens = Tokens.parse(f" desk:{D} , unit:{U},admin:{A},desk:{'e' * 20}")
    assert len(tokens) == 4
    assert tokens.check(D).name == "desk#1"  # type: ignore[union-attr]
    assert tokens.check("e" * 20).name == "desk#2"  # type: ignore[union-attr]
    assert tokens.check(A).has(("desk", "admin"))  # type: ignore[union-attr]
    assert not tokens.check(U).has(("desk", "admin"))  # type: ignore[union-attr]
    assert tokens.check(D[:-1]) is None and tokens.check("") is None
    assert len(Tokens.parse(None)) == 0 and len(Tokens.parse(" , ")) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"pilot:{D}", "entry 1: expected role:token"),
        (f"desk:{D},{U}", "entry 2: expected role:token"),
        ("desk:tiny9", "entry 1 (desk): token shorter than 16"),
        (f"desk:{D},unit:{D}", "entry 2 (unit): token used twice"),
    ],
)
def test_bad_tokens_are_named_by_position_never_echoed(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        Tokens.parse(text)
    for item in text.split(","):
        secret = item.partition(":")[2] or item
        assert secret not in str(info.value)


def test_dev_has_every_role_and_may_unmask() -> None:
    assert DEV.has(("unit",)) and DEV.may_unmask
