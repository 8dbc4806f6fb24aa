"""The seven fraud typologies the generator plays out, as parameters of one episode model.

Every range is sampled per ring or per victim, so no single number (call length, delay,
amount, dial volume) separates fraud from ordinary life. Names are the constants that
labels, alerts and docs use.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPERSONATING_POLICE = "impersonating_police"
FAKE_CUSTOMER_SERVICE = "fake_customer_service"
CLICK_FARM_REBATE = "click_farm_rebate"
FAKE_INVESTMENT_ROMANCE = "fake_investment_romance"
FAKE_LOAN = "fake_loan"
FAKE_CREDIT_REPAIR = "fake_credit_repair"
IMPERSONATING_ACQUAINTANCE = "impersonating_acquaintance"

Range = tuple[float, float]


@dataclass(frozen=True)
class Typology:
    name: str
    chinese: str
    english: str
    share: float  # of victims
    age_weight: tuple[float, float, float, float, float, float]  # per age band
    origin_mix: tuple[float, float, float, float]  # overseas, voip_gateway, virtual, SIM box
    sms_first: float  # chance the victim is first reached by a lure SMS
    sms_url: float  # chance that lure carries a link
    blast: Range  # numbers hit per dialling/SMS burst
    call_after_sms: float  # chance an SMS-first victim then talks to the ring
    calls_back: float  # chance that talk is the victim calling the ring back
    pretext_s: Range  # first, shorter call before a hand-over (0 = no hand-over)
    handover: float  # chance the long call comes from a second ring number
    long_call_min: Range  # the victim's long call, minutes
    pays: float  # chance the victim pays at all
    n_transfers: tuple[int, int]
    first_yuan: Range  # first transfer
    escalation: Range  # each later transfer = previous x this
    during_call: float  # chance the first transfer happens while still on the call
    delay_min: Range  # delay from the end of the contact to the first transfer
    gap_min: Range  # between transfers
    channels: tuple[float, float, float, float]  # mobile_banking, third_party, atm, counter
    round_to: int  # amounts often round to this many yuan
    rebate: float = 0.0  # chance the ring pays a small "commission" back first


TYPOLOGIES: tuple[Typology, ...] = (
    Typology(
        IMPERSONATING_POLICE, "冒充公检法", "impersonating police, prosecutors or courts",
        share=0.12, age_weight=(0.5, 0.7, 0.8, 1.0, 1.4, 2.2),
        origin_mix=(0.40, 0.35, 0.10, 0.15), sms_first=0.10, sms_url=0.7, blast=(40, 160),
        call_after_sms=1.0, calls_back=0.2, pretext_s=(60, 360), handover=0.6,
        long_call_min=(20, 90), pays=0.62, n_transfers=(1, 4), first_yuan=(20000, 150000),
        escalation=(0.6, 1.8), during_call=0.35, delay_min=(2, 60), gap_min=(5, 90),
        channels=(0.55, 0.10, 0.15, 0.20), round_to=1000,
    ),
    Typology(
        FAKE_CUSTOMER_SERVICE, "冒充电商物流客服", "fake e-commerce or courier customer service",
        share=0.14, age_weight=(1.0, 1.5, 1.3, 1.0, 0.7, 0.4),
        origin_mix=(0.10, 0.45, 0.30, 0.15), sms_first=0.30, sms_url=0.6, blast=(30, 120),
        call_after_sms=1.0, calls_back=0.5, pretext_s=(0, 0), handover=0.2,
        long_call_min=(10, 40), pays=0.65, n_transfers=(1, 5), first_yuan=(2000, 20000),
        escalation=(1.0, 2.0), during_call=0.5, delay_min=(1, 20), gap_min=(3, 30),
        channels=(0.50, 0.45, 0.05, 0.0), round_to=100,
    ),
    Typology(
        CLICK_FARM_REBATE, "刷单返利", "click-farming with rebates (fake part-time tasks)",
        share=0.22, age_weight=(2.2, 1.8, 1.1, 0.7, 0.4, 0.2),
        origin_mix=(0.15, 0.20, 0.35, 0.30), sms_first=0.90, sms_url=0.9, blast=(50, 300),
        call_after_sms=0.4, calls_back=0.3, pretext_s=(0, 0), handover=0.5,
        long_call_min=(1, 8), pays=0.70, n_transfers=(2, 7), first_yuan=(50, 500),
        escalation=(1.6, 3.5), during_call=0.1, delay_min=(10, 180), gap_min=(5, 60),
        channels=(0.40, 0.60, 0.0, 0.0), round_to=1, rebate=0.5,
    ),
    Typology(
        FAKE_INVESTMENT_ROMANCE, "虚假投资理财/杀猪盘", "fake investment, often after romance",
        share=0.15, age_weight=(0.5, 1.0, 1.2, 1.4, 1.5, 1.3),
        origin_mix=(0.45, 0.15, 0.25, 0.15), sms_first=0.50, sms_url=0.8, blast=(30, 200),
        call_after_sms=0.8, calls_back=0.2, pretext_s=(0, 0), handover=0.3,
        long_call_min=(20, 120), pays=0.60, n_transfers=(1, 5), first_yuan=(5000, 50000),
        escalation=(1.2, 3.0), during_call=0.15, delay_min=(10, 240), gap_min=(20, 240),
        channels=(0.70, 0.20, 0.0, 0.10), round_to=1000,
    ),
    Typology(
        FAKE_LOAN, "虚假网络贷款", "fake online loan (fees to release the loan)",
        share=0.14, age_weight=(1.8, 1.7, 1.2, 0.8, 0.5, 0.2),
        origin_mix=(0.15, 0.30, 0.35, 0.20), sms_first=0.85, sms_url=0.9, blast=(40, 250),
        call_after_sms=0.8, calls_back=0.4, pretext_s=(0, 0), handover=0.3,
        long_call_min=(5, 30), pays=0.65, n_transfers=(2, 5), first_yuan=(300, 3000),
        escalation=(1.3, 2.5), during_call=0.25, delay_min=(5, 90), gap_min=(5, 60),
        channels=(0.50, 0.50, 0.0, 0.0), round_to=100,
    ),
    Typology(
        FAKE_CREDIT_REPAIR, "虚假征信", "fake credit-record repair (cancel a 'student loan')",
        share=0.10, age_weight=(1.6, 2.0, 1.2, 0.7, 0.4, 0.2),
        origin_mix=(0.25, 0.45, 0.15, 0.15), sms_first=0.15, sms_url=0.6, blast=(30, 120),
        call_after_sms=1.0, calls_back=0.4, pretext_s=(0, 0), handover=0.3,
        long_call_min=(15, 60), pays=0.60, n_transfers=(1, 4), first_yuan=(5000, 50000),
        escalation=(0.8, 1.8), during_call=0.45, delay_min=(2, 40), gap_min=(5, 45),
        channels=(0.70, 0.30, 0.0, 0.0), round_to=100,
    ),
    Typology(
        IMPERSONATING_ACQUAINTANCE, "冒充领导熟人", "impersonating a boss, relative or friend",
        share=0.13, age_weight=(0.4, 0.9, 1.3, 1.4, 1.2, 0.9),
        origin_mix=(0.05, 0.10, 0.35, 0.50), sms_first=0.85, sms_url=0.0, blast=(5, 30),
        call_after_sms=0.6, calls_back=0.2, pretext_s=(0, 0), handover=0.0,
        long_call_min=(0.5, 4), pays=0.55, n_transfers=(1, 2), first_yuan=(5000, 80000),
        escalation=(0.5, 1.5), during_call=0.1, delay_min=(2, 30), gap_min=(10, 90),
        channels=(0.80, 0.20, 0.0, 0.0), round_to=1000,
    ),
)  # fmt: skip

BY_NAME = {t.name: t for t in TYPOLOGIES}
NAMES = tuple(t.name for t in TYPOLOGIES)
