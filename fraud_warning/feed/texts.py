"""SMS texts: service notices, personal messages, bank notices and fraud lures.

Texts are kept as ready-made UTF-8 JSON fragments (`,"text":"…","has_url":true`) so
the writer only splices bytes; orjson escapes each distinct text once. Legitimate and fraud
links share short-link hosts (t.cn and friends), so a URL alone proves nothing.
"""

from __future__ import annotations

import numpy as np
import orjson

_ALNUM = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SHORT_HOSTS = ("https://t.cn/", "https://dwz.cn/", "https://url.cn/")

VERIFY_BRANDS = (
    "淘宝", "支付宝", "京东", "美团", "拼多多", "抖音", "微信支付", "滴滴出行",
    "饿了么", "携程旅行", "12306", "高德地图", "哔哩哔哩", "小红书", "天府通",
)  # fmt: skip
VERIFY = (
    "【{b}】验证码{code}，用于身份验证，5分钟内有效，请勿泄露给他人。",
    "【{b}】您的登录验证码为{code}，如非本人操作，请忽略本短信。",
    "【{b}】{code}（动态验证码），您正在进行支付确认，切勿告知他人。",
)
DELIVERY_BRANDS = (
    "菜鸟驿站", "中通快递", "圆通速递", "韵达快递", "申通快递",
    "顺丰速运", "京东物流", "极兔速递", "中国邮政", "丰巢",
)  # fmt: skip
DELIVERY = (
    "【{b}】您的包裹已到{place}，取件码{code}，请及时领取。详情 {url}",
    "【{b}】您的快件正在派送中，预计今天送达，查看物流 {url}",
    "【{b}】您的快递已放入{place}，取件码{code}，超时将收取保管费。{url}",
)
DELIVERY_PLAIN = (
    "【{b}】您的包裹已到{place}，取件码{code}，请及时领取。",
    "【{b}】您的快递已放入{place}，取件码{code}，请于24小时内取件。",
)
PLACES = ("小区南门驿站", "菜鸟驿站(幸福里店)", "丰巢柜(3栋旁)", "物业前台", "东门快递超市")
DELIVERY_HOSTS = ("https://m.cainiao.com/p/", "https://3.cn/", "https://t.cn/", "https://sf.cn/")
MARKETING_BRANDS = (
    "京东", "淘宝", "美团", "拼多多", "饿了么", "中国移动", "中国电信", "中国联通",
    "携程", "肯德基", "瑞幸咖啡", "盒马", "永辉超市", "屈臣氏", "苏宁易购",
    "唯品会", "平安保险", "招商银行信用卡", "链家", "得物",
)  # fmt: skip
MARKETING = (
    "【{b}】春季焕新季，满299减50，点击 {url} 领取，拒收请回复R",
    "【{b}】您有一张{amt}元优惠券即将过期，立即使用 {url} 退订回T",
    "【{b}】会员日专享，爆款低至5折，戳 {url} 退订回T",
    "【{b}】尊敬的客户，您的{pts}积分将于月底清零，兑换礼品 {url} 回T退订",
)
NOTICES = (
    "【国家电网】尊敬的客户，您户号尾号{d4}本期电费{amt}元，请及时缴纳。",
    "【成都燃气】您的燃气表余额不足20元，请及时充值，以免影响使用。",
    "【成都水务】您户号尾号{d4}的水费账单已出，本期金额{amt}元。",
    "【中国移动】您本月已使用流量{gb}GB，套餐剩余{gb2}GB。",
    "【天府健康通】您的体检报告已生成，请登录小程序查看。",
    "【成都反诈】凡是自称公检法要求转账到“安全账户”的都是诈骗，请提高警惕。",
)
P2P = (
    "到了吗", "晚上回来吃饭不", "我在开会，等下回你", "好的", "收到", "明天几点出发",
    "妈，我周末回来", "帮我带个快递", "生日快乐！", "记得吃药", "车停哪里了",
    "在楼下了", "今天加班，晚点回", "周六一起吃火锅？", "钱收到了吗", "孩子接到了",
    "路上堵车，晚十分钟", "文件发你邮箱了", "谢谢！", "你几点下班", "多穿点，今天降温",
    "方案我看了，没问题", "电话没接到，怎么了", "明天记得带身份证", "嗯嗯", "晚安",
    "下午三点开会", "爸的体检结果出来了", "周末回老家吗", "我先睡了",
)  # fmt: skip
P2P_LINKS = (
    "你看这个 https://v.douyin.com/{tok}/",
    "这家店不错 https://dpurl.cn/{tok}",
    "帮我砍一刀 https://p.pinduoduo.com/{tok}",
    "链接在这 https://t.cn/{tok}",
)

# Fraud lures by typology: (template, has a link).
FRAUD_SMS: dict[str, tuple[tuple[str, bool], ...]] = {
    "impersonating_police": (
        ("【{city}公安】您的身份信息涉嫌一起洗钱案件，请立即查看案件通知 {url}", True),
        ("您有一份法院传票未签收，逾期将被强制执行，详情 {url}", True),
        ("您名下银行卡涉嫌违法交易已被冻结，请保持电话畅通，配合调查。", False),
    ),
    "fake_customer_service": (
        ("【{shop}客服】您购买的商品因质量问题被召回，可获三倍赔偿，办理 {url}", True),
        ("您的快递在运输中丢失，我司将为您理赔{amt}元，请点击 {url} 登记", True),
        ("【{shop}】您开通的百万保障服务即将扣费，如需取消请回电客服。", False),
    ),
    "click_farm_rebate": (
        ("【兼职】在家手机做任务，每单佣金5-30元，日结300-800，详见 {url}", True),
        ("亲，抖音点赞关注就能赚钱，一单3元，立即领取 {url}", True),
        ("店铺招聘兼职，垫付返利，本金佣金秒返，加入 {url}", True),
        ("宝妈学生在家可做，动动手指日入200+，加QQ{qq}了解", False),
    ),
    "fake_investment_romance": (
        ("【{fund}财富】导师一对一带单，近期收益率35%，加入VIP群 {url}", True),
        ("你好，好久没联系了，我最近在做一个数字货币项目，稳赚，你看看 {url}", True),
        ("老师推荐的牛股今日涨停，免费领取下一只 {url}", True),
    ),
    "fake_loan": (
        ("【{fin}金融】您有一笔{amt}元低息贷款待领取，无抵押秒到账，申请 {url}", True),
        ("急用钱？凭身份证可贷5-20万，日息低至0.02%，点击 {url} 退订回T", True),
        ("您的贷款额度已审批通过，请尽快联系客服办理放款。", False),
    ),
    "fake_credit_repair": (
        ("【征信中心】您的个人征信存在不良记录，将影响贷款和出行，处理 {url}", True),
        ("您的学生贷款账户未注销，将影响个人征信，请尽快回电处理。", False),
        ("您的京东金条账户异常，不注销将上报征信，详情 {url}", True),
    ),
    "impersonating_acquaintance": (
        ("我是{boss}，这是我新号码，你存一下。明天上午到我办公室来一趟。", False),
        ("小{surname}，我是你{title}，换号了，有事找你帮个忙，方便吗？", False),
        ("老同学，我是{name}啊，换新号了，周末有空聚聚。", False),
    ),
}
ACQUAINTANCE_ASK = (
    "我在开会不方便接电话，有个朋友急需一笔钱周转，你先帮我转过去，卡号{acct}，回头还你。",
    "领导这边要打点一下，你先垫付{amt}元到这个账户{acct}，今天务必办好。",
)
_FRAUD_HOSTS = ("top", "vip", "cc", "xyz", "cn", "com", "shop")
_WORDS = ("hui", "cai", "fu", "jin", "bao", "da", "tong", "xin", "rong", "an", "kuai", "le")


def fragment(text: str, has_url: bool) -> bytes:
    """The JSON members for an SMS body, ready to splice into an event object."""
    url = b',"has_url":true' if has_url else b',"has_url":false'
    return b',"text":' + orjson.dumps(text) + url


def token(rng: np.random.Generator, k: int = 7) -> str:
    return "".join(_ALNUM[i] for i in rng.integers(0, len(_ALNUM), k).tolist())


def _code(rng: np.random.Generator, digits: int = 6) -> str:
    return f"{int(rng.integers(0, 10**digits)):0{digits}d}"


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def service_texts(rng: np.random.Generator, category: str, brand: str, k: int) -> list[bytes]:
    """`k` rendered variants of one sender's notices, as JSON fragments."""
    out: list[bytes] = []
    for _ in range(k):
        if category == "verify":
            out.append(fragment(_pick(rng, VERIFY).format(b=brand, code=_code(rng)), False))
        elif category == "delivery":
            with_url = bool(rng.random() < 0.55)
            url = _pick(rng, DELIVERY_HOSTS) + token(rng)
            text = _pick(rng, DELIVERY if with_url else DELIVERY_PLAIN).format(
                b=brand, place=_pick(rng, PLACES), code=_code(rng, 4), url=url
            )
            out.append(fragment(text, with_url))
        elif category == "marketing":
            url = _pick(rng, (*SHORT_HOSTS, "https://3.cn/", "https://dpurl.cn/")) + token(rng)
            amt = int(rng.choice([5, 10, 20, 30, 50]))
            pts = int(rng.integers(200, 9000))
            text = _pick(rng, MARKETING).format(b=brand, url=url, amt=amt, pts=pts)
            out.append(fragment(text, True))
        else:
            text = _pick(rng, NOTICES).format(
                d4=_code(rng, 4),
                amt=f"{float(rng.uniform(30, 400)):.2f}",
                gb=int(rng.integers(2, 40)),
                gb2=int(rng.integers(1, 30)),
            )
            out.append(fragment(text, False))
    return out


def p2p_texts(rng: np.random.Generator, k_links: int) -> tuple[list[bytes], list[bytes]]:
    """Personal messages without links, and `k_links` link shares."""
    plain = [fragment(t, False) for t in P2P]
    links = [
        fragment(_pick(rng, P2P_LINKS).format(tok=token(rng, 8)), True) for _ in range(k_links)
    ]
    return plain, links


def bank_notice(
    bank_cn: str, tail: str, when: str, outgoing: bool, cents: int, balance_cents: int
) -> bytes:
    """A bank's debit/credit notice; `when` is `MM月DD日HH:MM`."""
    verb = "支出" if outgoing else "收入"
    text = (
        f"【{bank_cn}】您尾号{tail}的账户{when}{verb}人民币{cents // 100:,}.{cents % 100:02d}元，"
        f"余额{balance_cents // 100:,}.{balance_cents % 100:02d}元。"
    )
    return fragment(text, False)


def fraud_url(rng: np.random.Generator) -> str:
    if rng.random() < 0.3:
        return _pick(rng, SHORT_HOSTS) + token(rng)
    word = _pick(rng, _WORDS) + _pick(rng, _WORDS) + str(int(rng.integers(1, 999)))
    return f"https://{word}.{_pick(rng, _FRAUD_HOSTS)}/{token(rng, 6)}"


def fraud_sms(rng: np.random.Generator, typology: str, want_url: bool) -> bytes:
    """A lure of the typology, with a link when `want_url` and the typology has one."""
    options = [t for t in FRAUD_SMS[typology] if t[1] == want_url] or list(FRAUD_SMS[typology])
    template, has_url = options[int(rng.integers(len(options)))]
    text = template.format(
        url=fraud_url(rng),
        city="成都市",
        shop=_pick(rng, ("淘宝", "京东", "拼多多", "抖音商城", "中通快递")),
        amt=int(rng.choice([3000, 5000, 50000, 100000, 200000])),
        qq=int(rng.integers(10**8, 10**10)),
        fund=_pick(rng, ("鼎盛", "汇金", "华信", "博远", "瑞丰")),
        fin=_pick(rng, ("安心", "快易", "融e", "信和", "金鑫")),
        boss=_pick(rng, ("王总", "李局", "张校长", "刘主任", "陈总", "周处长")),
        name=_pick(rng, ("王磊", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵敏")),
        surname=_pick(rng, ("王", "李", "张", "刘", "陈", "杨", "赵")),
        title=_pick(rng, ("领导", "张总", "老板", "表哥", "舅舅")),
    )
    return fragment(text, has_url)


def acquaintance_ask(rng: np.random.Generator, account: str, amount: int) -> bytes:
    text = _pick(rng, ACQUAINTANCE_ASK).format(acct=account, amt=amount)
    return fragment(text, False)
