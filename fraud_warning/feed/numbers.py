"""Phone numbers and account numbers with realistic shapes, allocated without collisions.

Every pool (subscribers, out-of-town relatives, SIM-box fraud lines...) is drawn from the
same number space, so a number's digits never reveal which pool it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

# Origin codes as stored in event columns; -1 means "leave `origin` out of the event".
ORIGINS = ("mobile", "fixed", "virtual_operator", "overseas", "voip_gateway")
MOBILE, FIXED, VIRTUAL, OVERSEAS, VOIP = range(5)

MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198",
    "199",
)  # fmt: skip
VIRTUAL_PREFIXES = ("170", "171")

# country code -> (national digits, allowed first digits); shapes of real mobile plans.
COUNTRIES: dict[str, tuple[int, str]] = {
    "1": (10, "23456789"),
    "44": (10, "7"),
    "61": (9, "4"),
    "81": (10, "789"),
    "65": (8, "89"),
    "60": (9, "1"),
    "852": (8, "569"),
    "853": (8, "6"),
    "886": (9, "9"),
    "63": (10, "9"),
    "66": (9, "689"),
    "855": (9, "1789"),
    "95": (9, "9"),
    "84": (9, "389"),
    "82": (10, "1"),
    "49": (11, "1"),
    "33": (9, "67"),
    "64": (9, "2"),
    "971": (9, "5"),
    "7": (10, "9"),
}

# (short name, Chinese name, SMS short code, card BIN, market share)
BANKS = (
    ("ICBC", "工商银行", "+8695588", "622202", 0.22),
    ("CCB", "建设银行", "+8695533", "621700", 0.20),
    ("ABC", "农业银行", "+8695599", "622848", 0.18),
    ("BOC", "中国银行", "+8695566", "621661", 0.12),
    ("CMB", "招商银行", "+8695555", "622588", 0.10),
    ("BOCOM", "交通银行", "+8695559", "622262", 0.08),
    ("PSBC", "邮储银行", "+8695580", "621799", 0.10),
)
BANK_SHARES: npt.NDArray[np.float64] = np.asarray([b[4] for b in BANKS]) / sum(b[4] for b in BANKS)


def unique_ints(rng: np.random.Generator, n: int, space: int) -> npt.NDArray[np.int64]:
    """`n` distinct integers from `[0, space)` in random order."""
    if n > space // 2:
        raise ValueError(f"cannot draw {n} distinct numbers from a space of {space}")
    got = np.empty(0, dtype=np.int64)
    while len(got) < n:
        extra = rng.integers(0, space, size=int((n - len(got)) * 1.02) + 16, dtype=np.int64)
        got = np.unique(np.concatenate([got, extra]))
    return rng.permutation(got)[:n]


def mobile_numbers(
    rng: np.random.Generator, counts: Sequence[int], prefixes: Sequence[str] = MOBILE_PREFIXES
) -> list[list[str]]:
    """Distinct +86 mobile numbers, split into pools of the given sizes."""
    k = unique_ints(rng, sum(counts), len(prefixes) * 10**8)
    pre = (k // 10**8).tolist()
    rest = (k % 10**8).tolist()
    flat = [f"+86{prefixes[p]}{r:08d}" for p, r in zip(pre, rest, strict=True)]
    out: list[list[str]] = []
    at = 0
    for c in counts:
        out.append(flat[at : at + c])
        at += c
    return out


def overseas_numbers(
    rng: np.random.Generator, n: int, countries: Sequence[str], weights: Sequence[float]
) -> list[str]:
    """Distinct non-+86 mobile numbers from the given countries."""
    p = np.asarray(weights, dtype=np.float64)
    p /= p.sum()
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        cc = countries[int(rng.choice(len(countries), p=p))]
        length, firsts = COUNTRIES[cc]
        first = firsts[int(rng.integers(len(firsts)))]
        body = "".join(str(d) for d in rng.integers(0, 10, size=length - 1).tolist())
        number = f"+{cc}{first}{body}"
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


def fixed_numbers(rng: np.random.Generator, n: int, areas: Sequence[str]) -> list[str]:
    """Distinct fixed-line numbers (+86, area code, 8 digits; first digit 2-8)."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        area = areas[int(rng.integers(len(areas)))]
        number = f"+86{area}{int(rng.integers(2, 9))}{int(rng.integers(0, 10**7)):07d}"
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


def card_numbers(banks: npt.NDArray[np.int64], serials: npt.NDArray[np.int64]) -> list[str]:
    """19-digit debit-card numbers: the bank's BIN and a scrambled, collision-free body."""
    # An affine map mod 10**13 with a multiplier coprime to 10 is a bijection: distinct
    # serials give distinct bodies, and neighbouring serials look unrelated.
    body = ((serials * 7_919_113 + 4_202_603_917) % 10**13).tolist()
    bins = [b[3] for b in BANKS]
    return [f"{bins[k]}{v:013d}" for k, v in zip(banks.tolist(), body, strict=True)]


def corporate_accounts(serials: npt.NDArray[np.int64]) -> list[str]:
    """20-digit corporate settlement accounts of Sichuan branches (schools, utilities...)."""
    body = ((serials * 3_301_077 + 918_273_645) % 10**15).tolist()
    return [f"51001{v:015d}" for v in body]


def merchant_ids(serials: npt.NDArray[np.int64]) -> list[str]:
    """Payment-platform merchant numbers."""
    body = ((serials * 9_103 + 1_600_000_000) % 10**10).tolist()
    return [f"MCH{v:010d}" for v in body]


@dataclass
class Directory:
    """Every phone number in the feed, addressed by an integer party id.

    Local subscribers are parties `0..n-1`; other blocks (relatives elsewhere, service
    lines, fraud numbers) are appended after them.
    """

    numbers: list[str] = field(default_factory=list)
    origin: list[int] = field(default_factory=list)

    def add(self, numbers: Sequence[str], origin: int | Sequence[int]) -> int:
        """Append a block; returns its first party id."""
        first = len(self.numbers)
        self.numbers.extend(numbers)
        if isinstance(origin, int):
            self.origin.extend([origin] * len(numbers))
        else:
            self.origin.extend(origin)
        return first

    def origin_array(self) -> npt.NDArray[np.int8]:
        return np.asarray(self.origin, dtype=np.int8)


@dataclass
class AccountBook:
    """Every account number in the feed, addressed by an integer account id."""

    accounts: list[str] = field(default_factory=list)

    def add(self, accounts: Sequence[str]) -> int:
        first = len(self.accounts)
        self.accounts.extend(accounts)
        return first
