"""The city's economy outside its subscribers: service lines, SMS senders and payees.

Banks and platforms run hotlines (which people call for a long time, and which call
people back), telemarketers dial many numbers from fixed, VoIP and virtual-operator
lines, 106-numbers send codes, parcel notices and adverts with links, and merchants,
schools, utilities and brokers receive money from many unrelated people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from . import numbers as nb
from . import texts

PLATFORM_HOTLINES = (
    "+8695188", "+8695017", "+8695118", "+8695338", "+8610086", "+8610000",
    "+8610010", "+8695518", "+8695511", "+8612345",
)  # fmt: skip
SMS_CATEGORIES = ("verify", "delivery", "marketing", "notice")
SMS_CATEGORY_SHARE = (0.34, 0.26, 0.28, 0.12)
TEXT_VARIANTS = 48


def zipf_cdf(n: int, s: float = 1.0) -> npt.NDArray[np.float64]:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s
    cdf = np.cumsum(w)
    result: npt.NDArray[np.float64] = cdf / cdf[-1]
    return result


def draw(rng: np.random.Generator, cdf: npt.NDArray[np.float64], m: int) -> npt.NDArray[np.int64]:
    """`m` indices drawn from a cumulative distribution."""
    idx = np.searchsorted(cdf, rng.random(m), side="right")
    return np.minimum(idx, len(cdf) - 1).astype(np.int64)


@dataclass
class Services:
    bank_party: npt.NDArray[np.int64]  # per bank: its short code (sends notices, takes calls)
    hotlines: npt.NDArray[np.int64]  # banks, platforms, 400-numbers
    hotline_cdf: npt.NDArray[np.float64]
    telemarketers: npt.NDArray[np.int64]
    telemarketer_rate: npt.NDArray[np.float64]  # calls per working hour
    telemarketer_origin: npt.NDArray[np.int8]
    sms_senders: npt.NDArray[np.int64]
    sms_sender_cdf: npt.NDArray[np.float64]
    sms_marketing: npt.NDArray[np.bool_]  # marketing/parcel senders keep daytime hours
    sms_text: npt.NDArray[np.object_]  # TEXT_VARIANTS fragments per sender, in sender order
    merchants: npt.NDArray[np.int64]  # account ids, most popular first
    merchant_cdf: npt.NDArray[np.float64]
    utilities: npt.NDArray[np.int64]  # utilities, lenders, insurers: bills and repayments
    brokers: npt.NDArray[np.int64]  # securities and fund platforms
    schools: npt.NDArray[np.int64]
    school_fees: npt.NDArray[np.int64]  # (schools, 3) fee levels in fen
    agencies: npt.NDArray[np.int64]  # rental agencies (corporate)


def build_services(
    n: int,
    directory: nb.Directory,
    book: nb.AccountBook,
    rng: np.random.Generator,
    spare_mobile: list[str],
    spare_virtual: list[str],
) -> Services:
    """Create the lines and payees for a city of `n` subscribers; numbers are taken
    from the spare pools (which must hold at least `n // 2500 + 8` each)."""
    bank_party = np.asarray([directory.add([b[2]], nb.FIXED) for b in nb.BANKS], dtype=np.int64)
    n400 = max(4, n // 20000)
    four_hundred = [f"+86400{v:07d}" for v in rng.choice(10**7, size=n400, replace=False)]
    first = directory.add(list(PLATFORM_HOTLINES) + four_hundred, nb.FIXED)
    hotlines = np.concatenate(
        [bank_party, np.arange(first, first + len(PLATFORM_HOTLINES) + n400, dtype=np.int64)]
    )
    hotline_cdf = zipf_cdf(len(hotlines), 0.8)

    # Telemarketers: mostly fixed lines, some via VoIP gateways or virtual operators.
    n_tm = max(6, n // 2500)
    kind = rng.choice(4, size=n_tm, p=[0.45, 0.25, 0.18, 0.12])
    tm_numbers: list[str] = []
    tm_origin: list[int] = []
    fixed = nb.fixed_numbers(rng, n_tm, ("28", "28", "28", "10", "21", "755"))
    for k, code in enumerate(kind.tolist()):
        if code == 0:
            tm_numbers.append(fixed[k])
            tm_origin.append(nb.FIXED)
        elif code == 3:
            tm_numbers.append(spare_virtual.pop())
            tm_origin.append(nb.VIRTUAL)
        else:
            tm_numbers.append(spare_mobile.pop())
            tm_origin.append(nb.MOBILE if code == 1 else nb.VOIP)
    first = directory.add(tm_numbers, tm_origin)
    telemarketers = np.arange(first, first + n_tm, dtype=np.int64)

    # SMS senders: one 106-number per brand, Zipf popularity inside each category.
    brands: list[tuple[str, str]] = (
        [("verify", b) for b in texts.VERIFY_BRANDS]
        + [("delivery", b) for b in texts.DELIVERY_BRANDS]
        + [("marketing", b) for b in texts.MARKETING_BRANDS]
        + [("notice", "notice")] * 6
    )
    heads = ("10690", "10655", "10659", "106575", "10698", "1069")
    sender_numbers: list[str] = []
    seen: set[str] = set()
    while len(sender_numbers) < len(brands):
        head = heads[int(rng.integers(len(heads)))]
        digits = int(rng.integers(4, 9))
        number = f"+86{head}{int(rng.integers(0, 10**digits)):0{digits}d}"
        if number not in seen:
            seen.add(number)
            sender_numbers.append(number)
    first = directory.add(sender_numbers, nb.FIXED)
    sms_senders = np.arange(first, first + len(brands), dtype=np.int64)
    weights = np.zeros(len(brands))
    for cat, share in zip(SMS_CATEGORIES, SMS_CATEGORY_SHARE, strict=True):
        members = [k for k, (c, _) in enumerate(brands) if c == cat]
        zipf = 1.0 / np.arange(1, len(members) + 1)
        weights[members] = share * zipf / zipf.sum()
    sms_text_list: list[bytes] = []
    for cat, brand in brands:
        sms_text_list.extend(texts.service_texts(rng, cat, brand, TEXT_VARIANTS))
    sms_text = np.empty(len(sms_text_list), dtype=object)
    sms_text[:] = sms_text_list

    n_merch = max(40, n // 40)
    serial0 = len(book.accounts)
    merchants = _block(book, nb.merchant_ids(np.arange(n_merch, dtype=np.int64) + serial0))
    n_util = 20 + n // 20000
    n_brok = 8 + n // 50000
    n_school = max(3, n // 3000)
    n_agency = max(2, n // 20000)
    corp = nb.corporate_accounts(
        np.arange(n_util + n_brok + n_school + n_agency, dtype=np.int64) + serial0
    )
    utilities = _block(book, corp[:n_util])
    brokers = _block(book, corp[n_util : n_util + n_brok])
    schools = _block(book, corp[n_util + n_brok : n_util + n_brok + n_school])
    agencies = _block(book, corp[n_util + n_brok + n_school :])
    menu = np.asarray([1280, 2380, 3600, 4800, 6800, 9800, 12800, 18000, 26000], dtype=np.int64)
    fees = np.sort(rng.choice(menu, size=(n_school, 3)), axis=1) * 100
    return Services(
        bank_party=bank_party,
        hotlines=hotlines,
        hotline_cdf=hotline_cdf,
        telemarketers=telemarketers,
        telemarketer_rate=rng.uniform(10.0, 40.0, n_tm),
        telemarketer_origin=np.asarray(tm_origin, dtype=np.int8),
        sms_senders=sms_senders,
        sms_sender_cdf=np.cumsum(weights) / weights.sum(),
        sms_marketing=np.asarray([c in ("marketing", "delivery") for c, _ in brands]),
        sms_text=sms_text,
        merchants=merchants,
        merchant_cdf=zipf_cdf(n_merch, 0.9),
        utilities=utilities,
        brokers=brokers,
        schools=schools,
        school_fees=fees,
        agencies=agencies,
    )


def _block(book: nb.AccountBook, accounts: list[str]) -> npt.NDArray[np.int64]:
    first = book.add(accounts)
    return np.arange(first, first + len(accounts), dtype=np.int64)
