"""The 18 district entrances of the platform (16 districts, 燕山, 经开区) and their contacts.

Reference data shared by every service and the gateway. The district education committee's
own consultation line is configured per season by operations; the citywide 12345 hotline
always works.
"""

from __future__ import annotations

from dataclasses import dataclass

OUTSIDE_BEIJING = "outside"
# A district system's broker user is `district-<code>` (common/broker.py).
BROKER_USER_PREFIX = "district-"


@dataclass(frozen=True)
class District:
    code: str
    name: str
    committee: str

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "committee": self.committee,
                "hotline": "12345"}


DISTRICTS: tuple[District, ...] = tuple(
    District(code, name, committee)
    for code, name, committee in (
        ("dongcheng", "东城区", "北京市东城区教育委员会"),
        ("xicheng", "西城区", "北京市西城区教育委员会"),
        ("chaoyang", "朝阳区", "北京市朝阳区教育委员会"),
        ("haidian", "海淀区", "北京市海淀区教育委员会"),
        ("fengtai", "丰台区", "北京市丰台区教育委员会"),
        ("shijingshan", "石景山区", "北京市石景山区教育委员会"),
        ("mentougou", "门头沟区", "北京市门头沟区教育委员会"),
        ("fangshan", "房山区", "北京市房山区教育委员会"),
        ("tongzhou", "通州区", "北京市通州区教育委员会"),
        ("shunyi", "顺义区", "北京市顺义区教育委员会"),
        ("changping", "昌平区", "北京市昌平区教育委员会"),
        ("daxing", "大兴区", "北京市大兴区教育委员会"),
        ("huairou", "怀柔区", "北京市怀柔区教育委员会"),
        ("pinggu", "平谷区", "北京市平谷区教育委员会"),
        ("miyun", "密云区", "北京市密云区教育委员会"),
        ("yanqing", "延庆区", "北京市延庆区教育委员会"),
        ("yanshan", "燕山地区", "北京市燕山地区教育委员会"),
        ("jingkai", "北京经济技术开发区", "北京经济技术开发区社会事业局"),
    )
)

BY_CODE: dict[str, District] = {d.code: d for d in DISTRICTS}


def district_name(code: str) -> str:
    if code == OUTSIDE_BEIJING:
        return "京外"
    return BY_CODE[code].name


@dataclass(frozen=True)
class Caller:
    """A district system calling over RPC, known from its broker user (validated by the
    broker), never from what it sends."""
    district: District
    user: str


def caller_of(user: str | None, prefix: str) -> Caller | None:
    """The district whose system logs in to the broker as `<prefix><code>`; None for any
    other user."""
    code = (user or "").removeprefix(prefix)
    if not user or not user.startswith(prefix) or code not in BY_CODE:
        return None
    return Caller(BY_CODE[code], user)
