"""The decoder's checks on text: the C functions (`_textcheck.c`) answer exactly as their
Python twins in textcheck.py, which answer as the contract's pattern and Python's own
UTF-8 decoder do."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraud_warning import textcheck
from fraud_warning.wire import E164_PATTERN, MAX_YEAR, MIN_YEAR

C = textcheck.compiled()
compiled_only = pytest.mark.skipif(C is None, reason="nothing compiled here (interpreted)")

E164_TWINS: list[Callable[[str], bool]] = [textcheck.py_is_e164] + ([C.e164] if C else [])
UTF8_TWINS: list[Callable[[bytes], bool]] = [textcheck.py_is_utf8] + ([C.utf8] if C else [])

# -- E.164 ------------------------------------------------------------------------------

E164 = re.compile(E164_PATTERN)
PHONE_EDGES = [
    "+8613800000001",
    "+123456",  # shortest: 6 digits
    "+1234567890123456",  # longest: 16 digits
    "+12345",
    "+12345678901234567",
    "+0123456",
    "8613800000001",
    "++8613800000001",
    "+86138000000 1",
    "+8613800000001\n",
    "+86１3800000001",
    "+86¹3800000001",
    "+8613800000001\u0663",
    "+861380000000/",  # the byte before '0'
    "+861380000000:",  # the byte after '9'
    "+8613800000001\x00",
    "",
    "+",
    "+9",
]


@pytest.mark.parametrize("check", E164_TWINS)
@pytest.mark.parametrize("number", PHONE_EDGES)
def test_e164_agrees_with_the_pattern_on_edges(check: Callable[[str], bool], number: str) -> None:
    assert check(number) == bool(E164.match(number))


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(max_size=20),
        st.text(alphabet="+0123456789１¹٣ \n", max_size=20),
        st.from_regex(E164_PATTERN, fullmatch=True),
    )
)
def test_e164_agrees_with_the_pattern(number: str) -> None:
    expected = bool(E164.match(number))
    assert [check(number) for check in E164_TWINS] == [expected] * len(E164_TWINS)


# -- UTF-8 ------------------------------------------------------------------------------


def decodes(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


UTF8_EDGES = [
    b"",
    b"plain ascii, longer than eight bytes",
    "钱收到了吗".encode(),
    "【淘宝】验证码983235".encode(),
    "\U0010ffff".encode(),  # the last code point
    "\U00010000".encode(),  # the first four-byte one
    "\u07ff\u0800\uffff".encode(),  # each length's upper bound
    b"\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\x80",  # a lone continuation byte
    b"\xc0\xaf",  # overlong '/'
    b"\xc1\xbf",
    b"\xe0\x80\xaf",  # overlong, three bytes
    b"\xe0\x9f\xbf",
    b"\xf0\x80\x80\xaf",  # overlong, four bytes
    b"\xf0\x8f\xbf\xbf",
    b"\xed\xa0\x80",  # a surrogate (U+D800)
    b"\xed\xbf\xbf",  # U+DFFF
    b"\xed\x9f\xbf",  # U+D7FF, the last before them
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\xf5\x80\x80\x80",
    b"\xff",
    b"\xfe",
    b"\xe6\x88",  # truncated at the end
    b"\xe6",
    b"\xf0\x9f\x98",
    b"abcdefgh\xe6\x88",  # truncated right after a run of eight ASCII bytes
    b"abcdefg\xe6\x88\x91",  # a character across the eight-byte boundary
    b"abcdefgh" * 3 + b"\xe6\x88\x91" + b"ijklmnop" * 2 + b"\xc3",
    b'{"text":"\xe6\x88\x91\xff"}',  # bad in the middle of good text
    b"\xe6\x88\x41",  # ASCII where a continuation byte should be
    b"\xc3\xc3",
]


@pytest.mark.parametrize("check", UTF8_TWINS)
@pytest.mark.parametrize("raw", UTF8_EDGES)
def test_utf8_agrees_with_python_on_edges(check: Callable[[bytes], bool], raw: bytes) -> None:
    assert check(raw) == decodes(raw)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
        # good text with one byte changed: mostly near-misses of well-formed UTF-8
        st.tuples(st.text(min_size=1, max_size=30), st.integers(0, 1000), st.integers(0, 255)).map(
            lambda t: _replace_byte(t[0].encode(), t[1], t[2])
        ),
    )
)
def test_utf8_agrees_with_python(raw: bytes) -> None:
    expected = decodes(raw)
    assert [check(raw) for check in UTF8_TWINS] == [expected] * len(UTF8_TWINS)


def _replace_byte(raw: bytes, at: int, value: int) -> bytes:
    at %= len(raw)
    return raw[:at] + bytes([value]) + raw[at + 1 :]


# -- the year and wrong types -----------------------------------------------------------


@pytest.mark.parametrize("year", [1, MIN_YEAR - 1, MIN_YEAR, 2026, MAX_YEAR, MAX_YEAR + 1, 9999])
def test_year_within_agrees_with_python(year: int) -> None:
    ts = datetime(year, 6, 1, 12, tzinfo=timezone(timedelta(hours=8)))
    expected = MIN_YEAR <= year <= MAX_YEAR
    assert textcheck.py_year_within(ts, MIN_YEAR, MAX_YEAR) == expected
    assert textcheck.year_within(ts, MIN_YEAR, MAX_YEAR) == expected


@compiled_only
def test_the_c_checks_refuse_the_wrong_type_clearly() -> None:
    with pytest.raises(TypeError, match="e164\\(\\) takes a str, not bytes"):
        C.e164(b"+8613800000001")
    with pytest.raises(TypeError, match="utf8\\(\\) takes bytes, not str"):
        C.utf8("text")
    with pytest.raises(TypeError, match="year_within\\(\\) takes a datetime, not str"):
        C.year_within("2026", MIN_YEAR, MAX_YEAR)
    with pytest.raises(TypeError, match="takes \\(datetime, lo, hi\\)"):
        C.year_within(datetime(2026, 1, 1))


@compiled_only
def test_the_decoder_runs_the_c_checks_when_compiled() -> None:
    assert textcheck.is_e164 is C.e164
    assert textcheck.is_utf8 is C.utf8
    assert textcheck.year_within is C.year_within
