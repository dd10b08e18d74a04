"""A family's details checked against the season's field set for its hukou type and district.

Details are JSON-like: {section: {field: value}}, a repeated group {section: [{field: value},
...]}. Every bad field is reported at once, keyed "section.field" ("guardians.0.phone" in a
group), in one VALIDATION_ERROR.

Two strengths, so that a family can save half a form and come back to it:
- a draft: each value given must have its type's shape (text length and pattern, one of the
  choices, a real date, a whole number, a Beijing district, a region code, a document number
  or 统一社会信用代码 whose check character is right, a phone number);
- a submission: also every required field, minimum lengths, date and number limits, and the
  enrollment district's parameters (social insurance and residence months).

A field whose `when` condition does not hold (a lease number once the family chose 自有住房)
is dropped: the page hides it, and the application keeps only what applies.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from common.districts import BY_CODE
from common.errors import DomainError
from common.identity import PROVINCES, InvalidIdNumber, parse_id_number
from common.masking import mask_id_number, mask_name
from services.enrollment.rules.season import (
    COUNTING_DATE,
    REGISTRATION_KEYS,
    TODAY,
    FieldSpec,
    Season,
    Section,
    chinese_date,
)
from services.enrollment.rules.uscc import InvalidUscc, normalize_uscc

READ_ONLY_MESSAGE = "注册时填写的基本信息不能修改。如有疑义，请咨询入学所在区教委。"
GB11643_DOCUMENTS = frozenset({"resident_id", "hkmt_residence_permit"})
_OTHER_DOCUMENT = re.compile(r"^[A-Z0-9-]{5,30}$")  # passports and others: manual review
_PHONE = re.compile(r"^1[3-9]\d{9}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REGION = re.compile(r"^\d{6}$")
_MONTHS = re.compile(r"^\d{1,4}$")
_PICKED = ("choice", "district", "region", "yes_no")  # "请选择…" rather than "请填写…"
# Registration data the application's view shows masked (enrollment/bootstrap.py).
_SHOWN_MASKED = {"child_name": mask_name, "document_number": mask_id_number}


@dataclass(frozen=True)
class Registration:
    """What the family gave at registration (the accounts service), read-only here."""
    account_no: str
    district: str
    hukou_type: str
    child_name: str
    document_type: str
    document_number: str
    birth_date: date
    sex: str
    # To text the guardian (notify); None in applications opened before it was kept.
    guardian_phone: str | None = None


class _Invalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def clean_details(data: Any, season: Season, registration: Registration, today: date, *,
                  submission: bool) -> dict:
    """The details as stored (JSON-like, only applicable fields, values normalised), or
    VALIDATION_ERROR naming every bad field. `today` is the Beijing date."""
    return _Checker(season, registration, today, submission).clean(data)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class _Checker:
    def __init__(self, season: Season, registration: Registration, today: date,
                 submission: bool):
        self.season = season
        self.registration = registration
        self.district = season.districts[registration.district]
        self.form = season.forms[registration.hukou_type]
        self.today = today
        self.submission = submission
        self.errors: dict[str, str] = {}

    def clean(self, data: Any) -> dict:
        if not isinstance(data, Mapping):
            raise DomainError("VALIDATION_ERROR", fields={"body": "应为 JSON 对象。"})
        sections = {section.key: section for section in self.form.sections}
        for key, value in data.items():
            if key in REGISTRATION_KEYS:
                self._unchanged(key, value)
            elif key not in sections:
                self.errors[str(key)] = "不支持该项。"
        cleaned = {}
        for section in self.form.sections:
            value = self._section(section, data.get(section.key))
            if value:
                cleaned[section.key] = value
        if self.errors:
            raise DomainError("VALIDATION_ERROR", fields=self.errors)
        return cleaned

    def _unchanged(self, key: str, value: Any) -> None:
        """Pages may send the registration data back as entered or as shown (the application's
        view masks the child's name and document number); any other value is refused."""
        registered = getattr(self.registration, key)
        if isinstance(registered, date):
            registered = registered.isoformat()
        as_shown = {registered.casefold()}
        if key in _SHOWN_MASKED:
            as_shown.add(_SHOWN_MASKED[key](registered).casefold())
        if not isinstance(value, str) or value.strip().casefold() not in as_shown:
            self.errors[key] = READ_ONLY_MESSAGE

    def _section(self, section: Section, value: Any):
        if not section.repeated:
            return self._entry(section, value, section.key)
        if value is None:
            value = []
        if not isinstance(value, list):
            self.errors[section.key] = "应为列表。"
            return None
        # A group's entry left wholly blank on the page is no entry.
        entries = [(index, entry) for index, entry in enumerate(value)
                   if not (isinstance(entry, Mapping) and all(map(_blank, entry.values())))]
        if len(entries) > section.max_entries or (
                self.submission and len(entries) < section.min_entries):
            self.errors[section.key] = (f"{section.title}至少填写{section.min_entries}项，"
                                        f"最多填写{section.max_entries}项。")
        return [self._entry(section, entry, f"{section.key}.{index}")
                for index, entry in entries]

    def _entry(self, section: Section, raw: Any, prefix: str) -> dict:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            self.errors[prefix] = "应为 JSON 对象。"
            return {}
        specs = {spec.key for spec in section.fields}
        for key in raw:
            if key not in specs:
                self.errors[f"{prefix}.{key}"] = "不支持该项。"
        cleaned: dict[str, Any] = {}
        for spec in section.fields:
            if not all(cleaned.get(source) in values for source, values in spec.when):
                continue
            path, value = f"{prefix}.{spec.key}", raw.get(spec.key)
            if _blank(value):
                if self.submission and spec.required:
                    verb = "请选择" if spec.type in _PICKED else "请填写"
                    self.errors[path] = f"{verb}{spec.label}。"
                continue
            try:
                cleaned[spec.key] = _SHAPES[spec.type](spec, value, cleaned)
                if self.submission:
                    self._policy(spec, cleaned[spec.key])
            except _Invalid as invalid:
                self.errors[path] = invalid.message
        return cleaned

    def _policy(self, spec: FieldSpec, value: Any) -> None:
        """The submission's rules beyond the value's shape."""
        if spec.type == "text" and len(value) < spec.min_length:
            raise _Invalid(f"{spec.label}至少{spec.min_length}个字。")
        if spec.type == "date":
            self._date_policy(spec, date.fromisoformat(value))
        if spec.type == "months":
            if not spec.min <= value <= spec.max:
                raise _Invalid(f"{spec.label}应在{spec.min}～{spec.max}之间。")
            if spec.district_min_months:
                required = self.district.params[spec.district_min_months]
                if value < required:
                    raise _Invalid(f"{self.district.name}要求{spec.label}不少于{required}个月。")
        if spec.type == "district" and spec.enrollment_district_only and \
                value != self.registration.district:
            raise _Invalid(f"{spec.label}须为入学区（{self.district.name}）。")

    def _date_policy(self, spec: FieldSpec, day: date) -> None:
        earliest, latest = self._limit(spec.earliest), self._limit(spec.latest)
        if earliest and day < earliest:
            raise _Invalid(f"{spec.label}不能早于{chinese_date(earliest)}。")
        if latest and day > latest:
            raise _Invalid(f"{spec.label}不能晚于{chinese_date(latest)}。")
        if spec.district_min_months:
            months = self.district.params[spec.district_min_months]
            counted_until = self.season.dates[COUNTING_DATE]
            limit = months_before(counted_until, months)
            if day > limit:
                raise _Invalid(f"{self.district.name}要求截至{chinese_date(counted_until)}满"
                               f"{months}个月：{spec.label}不能晚于{chinese_date(limit)}。")

    def _limit(self, limit: date | str | None) -> date | None:
        return self.today if limit == TODAY else limit


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("应为文本。")
    return value.strip()


# Each type's shape: (spec, value, the entry's fields cleaned so far) -> the stored value.

def _text(spec: FieldSpec, value: Any, entry: dict) -> str:
    value = _string(value)
    if len(value) > spec.max_length:
        raise _Invalid(f"{spec.label}不能超过{spec.max_length}个字。")
    if spec.pattern and not spec.pattern.fullmatch(value):
        raise _Invalid(spec.pattern_message)
    return value


def _choice(spec: FieldSpec, value: Any, entry: dict) -> str:
    if not isinstance(value, str) or value not in spec.choices:
        raise _Invalid(f"请从给定选项中选择{spec.label}。")
    return value


def _date(spec: FieldSpec, value: Any, entry: dict) -> str:
    value = _string(value)
    try:
        if not _DATE.match(value):
            raise ValueError
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _Invalid("日期格式应为 YYYY-MM-DD，且须为真实日期。") from None


def _district(spec: FieldSpec, value: Any, entry: dict) -> str:
    if not isinstance(value, str) or value not in BY_CODE:
        raise _Invalid("请选择北京市的区。")
    return value


def _region(spec: FieldSpec, value: Any, entry: dict) -> str:
    """A GB/T 2260 county code: 2 digits province, 2 city, 2 county."""
    value = _string(value)
    if not _REGION.match(value) or value[:2] not in PROVINCES:
        raise _Invalid("请依次选择省、市、县（区）。")
    if value[:2] in spec.exclude_provinces:
        raise _Invalid(f"{spec.label}不能选择该省份，如有疑问请咨询入学所在区教委。")
    if value[2:4] == "00" or value[4:] == "00":
        raise _Invalid("请选择到县（区）一级。")
    return value


def _id_number(spec: FieldSpec, value: Any, entry: dict) -> str:
    value = _string(value).upper()
    document_type = entry.get(spec.document_type_field)
    if document_type is None:
        raise _Invalid("请先选择证件类型。")
    if document_type in GB11643_DOCUMENTS:
        try:
            return parse_id_number(document_type, value).number
        except InvalidIdNumber as exc:
            raise _Invalid(str(exc)) from None
    if not _OTHER_DOCUMENT.match(value):
        raise _Invalid("证件号码由字母、数字组成，5～30位。")
    return value


def _phone(spec: FieldSpec, value: Any, entry: dict) -> str:
    value = _string(value)
    if not _PHONE.match(value):
        raise _Invalid("请输入11位手机号码。")
    return value


def _uscc(spec: FieldSpec, value: Any, entry: dict) -> str:
    try:
        return normalize_uscc(_string(value))
    except InvalidUscc as exc:
        raise _Invalid(str(exc)) from None


def _months(spec: FieldSpec, value: Any, entry: dict) -> int:
    """A whole number of months; the digits of an HTML form are accepted too."""
    if isinstance(value, str) and _MONTHS.match(value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _Invalid(f"{spec.label}应为整数月数。")
    return value


def _yes_no(spec: FieldSpec, value: Any, entry: dict) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("请选择“是”或“否”。")
    return value


_SHAPES = {"text": _text, "choice": _choice, "date": _date, "district": _district,
           "region": _region, "id_number": _id_number, "phone": _phone, "uscc": _uscc,
           "months": _months, "yes_no": _yes_no}
