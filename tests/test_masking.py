"""Masking of personal identifiers: what stays visible, and that nothing else does."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning.masking import mask_account, mask_msisdn


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613812345678", "+86*********78"),
        ("+85260001234", "+85*******34"),
        ("13812345678", "*********78"),
        ("+861", "****"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_msisdn(number: str, masked: str) -> None:
    assert mask_msisdn(number) == masked


@settings(max_examples=50)
@given(st.from_regex(r"\A\+[1-9][0-9]{5,15}\Z"))
def test_msisdn_keeps_prefix_and_last_two_only(number: str) -> None:
    masked = mask_msisdn(number)
    assert len(masked) == len(number)
    assert masked[:3] == number[:3] and masked[-2:] == number[-2:]
    assert set(masked[3:-2]) == {"*"}


@pytest.mark.parametrize(
    ("account", "masked"),
    [
        ("6222021234567890123", "***************0123"),
        ("ACC12345", "****2345"),
        ("MULE1", "*ULE1"),
        ("1234", "****"),
        ("12", "**"),
        ("", ""),
    ],
)
def test_mask_account(account: str, masked: str) -> None:
    assert mask_account(account) == masked


@settings(max_examples=50)
@given(st.text(alphabet="0123456789ABCDEF", max_size=30))
def test_masked_account_never_reveals_the_whole_id(account: str) -> None:
    masked = mask_account(account)
    assert len(masked) == len(account)
    if account:
        assert masked != account or set(account) == {"*"}
        assert masked.count("*") >= max(1, len(account) - 4)
