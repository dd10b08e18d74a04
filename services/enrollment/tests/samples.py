"""The 2027 season, families and their details, shared by the enrollment rule tests."""

from __future__ import annotations

import copy
from datetime import date, datetime

from common.identity import check_character
from services.enrollment.rules.fields import Registration
from services.enrollment.rules.season import BEIJING, load_season
from services.enrollment.usecases import details, verification_results

SEASON = load_season(2027)
ALWAYS_OPEN = load_season(2027, phases="open")  # SEASON_PHASES=open
USCC = "91110108551385082Q"


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A time in Beijing."""
    return datetime(year, month, day, hour, minute, tzinfo=BEIJING)


IN_COLLECTION = at(2027, 5, 10)
TODAY = IN_COLLECTION.date()


def id_number(first17: str) -> str:
    return first17 + check_character(first17)


CHILD_ID = id_number("11010520200901001")
FATHER_ID = id_number("11010519850101001")
MOTHER_ID = id_number("13010219860202002")


def registration(hukou_type: str = "beijing", district: str = "chaoyang",
                 account_no: str = "27000001", guardian_phone: str | None = None
                 ) -> Registration:
    return Registration(account_no=account_no, district=district, hukou_type=hukou_type,
                        child_name="张小明", document_type="resident_id",
                        document_number=CHILD_ID, birth_date=date(2020, 9, 1), sex="male",
                        guardian_phone=guardian_phone)


_GUARDIANS = [
    {"name": "张伟", "relation": "father", "document_type": "resident_id",
     "document_number": FATHER_ID, "employer": "北京某科技有限公司", "phone": "13800138000"},
    {"name": "李娜", "relation": "mother", "document_type": "resident_id",
     "document_number": MOTHER_ID.lower(), "phone": "13900139000"},
]
_BEIJING = {
    "household": {"head_name": "张建国", "relation_to_head": "grandchild"},
    "hukou_address": {"district": "chaoyang", "address": "朝阳区呼家楼街道金台里社区3号楼"},
    "residence": {"district": "chaoyang", "address": "朝阳区团结湖路5号院2号楼1单元301"},
    "housing": {"kind": "own", "certificate_kind": "real_estate",
                "certificate_no": "京（2019）朝阳区不动产权第0012345号",
                "owner_relation": "parent"},
    "guardians": _GUARDIANS,
}
_NON_BEIJING = {
    "household": {"head_name": "张伟", "relation_to_head": "child"},
    "hukou_origin": {"region": "130102"},
    "residence": {"district": "chaoyang", "address": "朝阳区团结湖路5号院2号楼1单元301"},
    "permit": {"holder": "father", "number": "110105198501010010",
               "valid_until": "2028-03-01", "issuing_district": "chaoyang"},
    "employment": {"kind": "labour_contract", "employer_name": "北京某科技有限公司",
                   "uscc": USCC, "insurance_months": 24},
    "dwelling": {"kind": "rent", "district": "chaoyang",
                 "lease_registration_no": "ZL2024-0012345", "since": "2024-03-01"},
    "no_guardianship": {"has_certificate": True, "issuer": "石家庄市长安区建北街道办事处"},
    "guardians": _GUARDIANS,
}


def beijing_details() -> dict:
    return copy.deepcopy(_BEIJING)


def non_beijing_details() -> dict:
    return copy.deepcopy(_NON_BEIJING)


def details_for(hukou_type: str) -> dict:
    return beijing_details() if hukou_type == "beijing" else non_beijing_details()


class Clock:
    """The use cases' clock, set by the test."""

    def __init__(self, now: datetime = IN_COLLECTION):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def verified_family(context, account_no: str, district_code: str = "chaoyang",
                    hukou_type: str = "non_beijing") -> None:
    """An application opened (with the guardian's phone), submitted and verified."""
    details.open_application(context, registration(hukou_type, district_code, account_no,
                                                   guardian_phone="13800138000"))
    data = details_for(hukou_type)
    if hukou_type == "non_beijing":
        data["dwelling"]["district"] = district_code
    details.submit(context, account_no, data)
    verification_results.apply_result(context, account_no, 1, True)
