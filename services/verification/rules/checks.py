"""身份证及户籍信息核验: what a submitted version must agree with in the population registry.

`judge` compares one `CheckRequest` with the registry's answers and returns an `Outcome`:
verified, or failed with one item per problem, all at once, so that a family fixes them in one
go. Each item names the field it concerns and says in Chinese which item failed and what to do
next. Reasons never repeat what the registry holds and carry no personal data, so an outcome
can be stored, logged and shown as it is.

Someone who typed a stranger's document number learns no more than that the name differs: the
child's hukou is compared only once the name matches (birth date and sex are written in the
number itself), and a residence permit is looked at only once its holder matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from common.contract_base import ContractModel
from common.districts import BY_CODE, OUTSIDE_BEIJING, district_name

DocumentType = Literal["resident_id", "hkmt_residence_permit"]
Sex = Literal["male", "female"]
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value):
    """Dates travel as YYYY-MM-DD (events, the registry's JSON, CSV); strict models otherwise
    refuse text for a date."""
    if isinstance(value, str):
        if not _ISO_DATE.match(value):
            raise ValueError("a date is written YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


def _beijing_district(code: str) -> str:
    if code not in BY_CODE:
        raise ValueError("not a Beijing district code")
    return code


def _hukou_district(code: str) -> str:
    return code if code == OUTSIDE_BEIJING else _beijing_district(code)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# Document and permit numbers compare in canonical form: an ID number's check character `x`
# is the same as `X`.
Number = Annotated[str, Field(min_length=1, max_length=32), AfterValidator(str.upper)]
Name = Annotated[str, Field(min_length=1, max_length=64)]
BeijingDistrict = Annotated[str, AfterValidator(_beijing_district)]
HukouDistrict = Annotated[str, AfterValidator(_hukou_district)]  # a Beijing district or outside


class Child(ContractModel):
    name: Name
    document_type: DocumentType
    document_number: Number
    birth_date: IsoDate
    sex: Sex


class ResidencePermit(ContractModel):
    """A guardian's 北京市居住证, as the family entered it."""
    holder_name: Name
    holder_document_number: Number
    permit_number: Number
    valid_until: IsoDate
    issuing_district: BeijingDistrict


class CheckRequest(ContractModel):
    """One submitted version of an application, as verification checks it."""
    account_no: str = Field(pattern=r"^\d{8}$")
    version: int = Field(ge=1)
    child: Child
    hukou_type: Literal["beijing", "non_beijing"]
    hukou_district: HukouDistrict
    district: BeijingDistrict  # the district the family chose
    residence_district: BeijingDistrict
    # Both parents at most; only non_beijing children need them (minimum necessary data).
    residence_permits: list[ResidencePermit] = Field(default_factory=list, max_length=2)
    reference_date: IsoDate  # the season's: a permit must be valid on this day

    @model_validator(mode="after")
    def _hukou_is_consistent(self):
        if self.hukou_type == "beijing":
            if self.hukou_district == OUTSIDE_BEIJING:
                raise ValueError("a beijing hukou lies in a Beijing district")
            if self.residence_permits:
                raise ValueError("residence permits are asked of non_beijing families only")
        elif self.hukou_district != OUTSIDE_BEIJING:
            raise ValueError("a non_beijing hukou is outside")
        return self


class _Record(BaseModel):
    # Fields the registry adds later are ignored, so it can grow its answers without breaking us.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class PersonRecord(_Record):
    """A person as the population registry holds them."""
    document_type: DocumentType
    document_number: Number
    name: Name
    birth_date: IsoDate
    sex: Sex
    hukou_district: HukouDistrict


class PermitRecord(_Record):
    """A 北京市居住证 as the population registry holds it."""
    permit_number: Number
    holder_name: Name
    holder_document_number: Number
    valid_from: IsoDate
    valid_until: IsoDate
    issuing_district: BeijingDistrict

    @model_validator(mode="after")
    def _valid_from_comes_first(self):
        if self.valid_from > self.valid_until:
            raise ValueError("valid_from is after valid_until")
        return self


@dataclass(frozen=True)
class RegistryAnswers:
    """What the registry said for one request: the child (None: not found) and each permit
    number the family entered (None, or absent: not found). `registry.ask` fills it."""
    child: PersonRecord | None
    permits: Mapping[str, PermitRecord | None] = field(default_factory=dict)


class FailedItem(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str  # stable, upper-case: for programs and statistics
    field: str  # the request's field it concerns: "child.name", "residence_permits.0", ...
    reason: str  # for the family, in Chinese


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["verified", "failed"]
    items: tuple[FailedItem, ...] = ()


# Name, document, birth date, sex and hukou were entered at registration, and the guide says
# they cannot be changed afterwards (注册账号时填写的基本信息不能修改): the district helps.
_BASIC = "注册时填写的基本信息不能自行修改，请携带户口簿咨询入学所在区教委。"
REASONS = {
    "CHILD_NOT_FOUND": "人口信息库中未查到儿童的证件类型和证件号码。" + _BASIC,
    "CHILD_NAME_MISMATCH": "儿童姓名与人口信息库不一致。" + _BASIC,
    "CHILD_BIRTH_DATE_MISMATCH": "儿童出生日期与人口信息库不一致。" + _BASIC,
    "CHILD_SEX_MISMATCH": "儿童性别与人口信息库不一致。" + _BASIC,
    "HUKOU_DISTRICT_MISMATCH": "儿童户籍所在区与人口信息库不一致。" + _BASIC,
    "HUKOU_NOT_BEIJING": "人口信息库显示儿童不是本市户籍，与所选的“本市户籍适龄儿童入学服务”"
                         "不符，请咨询入学所在区教委。",
    "HUKOU_IS_BEIJING": "人口信息库显示儿童为本市户籍，与所选的“非本市户籍适龄儿童入学服务”"
                        "不符，请咨询入学所在区教委。",
    "PERMIT_MISSING": "未填写监护人的北京市居住证。非本市户籍适龄儿童须有一位监护人持有有效的"
                      "北京市居住证，请补充后重新提交。",
    "PERMIT_NOT_FOUND": "第{n}位监护人的北京市居住证编号在人口信息库中未查到，请核对后修改并"
                        "重新提交，或咨询入学所在区教委。",
    "PERMIT_HOLDER_MISMATCH": "第{n}位监护人的北京市居住证持证人姓名或证件号码与人口信息库不一致，"
                              "请核对后修改并重新提交，或咨询入学所在区教委。",
    "PERMIT_VALID_UNTIL_MISMATCH": "第{n}位监护人的北京市居住证有效期与人口信息库不一致，"
                                   "请按居住证上的有效期修改并重新提交。",
    "PERMIT_DISTRICT_MISMATCH": "第{n}位监护人的北京市居住证签发区与人口信息库不一致，"
                                "请按居住证上的签发机关修改并重新提交。",
    "PERMIT_EXPIRED": "第{n}位监护人的北京市居住证到{date}已过有效期，请办理居住证签注后"
                      "重新提交，或咨询入学所在区教委。",
    "PERMIT_NOT_YET_VALID": "第{n}位监护人的北京市居住证在{date}尚未生效，居住证须在该日期"
                            "有效，请咨询入学所在区教委。",
    "PERMIT_WRONG_DISTRICT": "第{n}位监护人的北京市居住证不是{districts}签发的。非本市户籍适龄"
                             "儿童须有一位监护人持有入学区或居住地所在区签发的居住证，"
                             "请咨询入学所在区教委。",
}
_DOTS = str.maketrans(dict.fromkeys(".•・‧∙⋅", "·"))


def same_name(entered: str, held: str) -> bool:
    """Names compare as people write them: full- and half-width forms, spaces, and the dot
    inside names such as 阿依古丽·买买提 (typed as ・, •, ．...) make no difference."""
    return _canonical_name(entered) == _canonical_name(held)


def _canonical_name(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split()).translate(_DOTS)


def _item(code: str, field_name: str, **details) -> FailedItem:
    return FailedItem(code=code, field=field_name, reason=REASONS[code].format(**details))


def judge(request: CheckRequest, answers: RegistryAnswers) -> Outcome:
    items = _child_items(request, answers.child)
    if request.hukou_type == "non_beijing":
        items += _permit_items(request, answers.permits)
    return Outcome(status="failed" if items else "verified", items=tuple(items))


def _child_items(request: CheckRequest, person: PersonRecord | None) -> list[FailedItem]:
    child = request.child
    if person is None:
        return [_item("CHILD_NOT_FOUND", "child.document_number")]
    name_matches = same_name(child.name, person.name)
    items = [] if name_matches else [_item("CHILD_NAME_MISMATCH", "child.name")]
    if child.birth_date != person.birth_date:
        items.append(_item("CHILD_BIRTH_DATE_MISMATCH", "child.birth_date"))
    if child.sex != person.sex:
        items.append(_item("CHILD_SEX_MISMATCH", "child.sex"))
    if not name_matches:
        return items  # not this child, as far as we know: their hukou is none of our business
    registry_in_beijing = person.hukou_district != OUTSIDE_BEIJING
    if request.hukou_type == "beijing":
        if not registry_in_beijing:
            items.append(_item("HUKOU_NOT_BEIJING", "hukou_type"))
        elif person.hukou_district != request.hukou_district:
            items.append(_item("HUKOU_DISTRICT_MISMATCH", "hukou_district"))
    elif registry_in_beijing:
        items.append(_item("HUKOU_IS_BEIJING", "hukou_type"))
    return items


def _permit_items(request: CheckRequest,
                  answers: Mapping[str, PermitRecord | None]) -> list[FailedItem]:
    """One guardian with a good permit is enough: the others' problems are then irrelevant.
    Otherwise every permit's problems are listed."""
    if not request.residence_permits:
        return [_item("PERMIT_MISSING", "residence_permits")]
    problems = [_one_permit_items(request, index, answers.get(permit.permit_number))
                for index, permit in enumerate(request.residence_permits)]
    if not all(problems):
        return []
    return [item for one_permit in problems for item in one_permit]


def _one_permit_items(request: CheckRequest, index: int,
                      record: PermitRecord | None) -> list[FailedItem]:
    permit = request.residence_permits[index]
    where, n = f"residence_permits.{index}", index + 1
    if record is None:
        return [_item("PERMIT_NOT_FOUND", f"{where}.permit_number", n=n)]
    if not (same_name(permit.holder_name, record.holder_name)
            and permit.holder_document_number == record.holder_document_number):
        return [_item("PERMIT_HOLDER_MISMATCH", where, n=n)]  # someone else's: say no more
    items = []
    if permit.valid_until != record.valid_until:
        items.append(_item("PERMIT_VALID_UNTIL_MISMATCH", f"{where}.valid_until", n=n))
    if permit.issuing_district != record.issuing_district:
        items.append(_item("PERMIT_DISTRICT_MISMATCH", f"{where}.issuing_district", n=n))
    # Validity and district are judged on what the registry holds, not on what was typed.
    on = request.reference_date
    if record.valid_until < on:
        items.append(_item("PERMIT_EXPIRED", f"{where}.valid_until", n=n, date=_chinese(on)))
    elif record.valid_from > on:
        items.append(_item("PERMIT_NOT_YET_VALID", where, n=n, date=_chinese(on)))
    allowed = dict.fromkeys((request.district, request.residence_district))
    if record.issuing_district not in allowed:
        districts = "或".join(district_name(code) for code in allowed)
        items.append(_item("PERMIT_WRONG_DISTRICT", f"{where}.issuing_district", n=n,
                           districts=districts))
    return items


def _chinese(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
