"""An allocation instance: schools with seats, applicants with ranked choices, twins groups.

Applicants are pseudonymous: an entry id (报名号 pseudonym) and nothing that names the child.
Each choice carries the applicant's priority class at that school (1 is the highest; the
district's policy decides who is in which class). Members of a group (twins, triplets) apply
together: they rank the same schools in the same order and are placed together or not at all.

Every record has one canonical serialisation (`canonical_json`), which is what the commitment
hashes; files may be formatted in any way without changing a digest.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

MECHANISMS = ("deferred_acceptance", "single_school_lottery")
_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
MAX_PRIORITY_CLASS = 99


class AllocationError(Exception):
    """Bad input to the engine: a stable code and a Chinese message for the person running it."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@contextmanager
def cyclic_gc_paused():
    """Draws build and read millions of small acyclic objects; the cyclic collector would
    rescan all of them again and again (a quarter of the run time at 150,000 applicants)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical_json(value) -> bytes:
    return _CANONICAL.encode(value).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class School:
    id: str
    seats: int
    district: str = ""

    def record(self) -> dict:
        return {"id": self.id, "seats": self.seats, "district": self.district}


class Choice(NamedTuple):
    school: str
    priority: int


@dataclass(frozen=True)
class Applicant:
    id: str
    choices: tuple[Choice, ...]
    group: str | None = None

    def record(self) -> dict:
        return {"id": self.id, "choices": [list(c) for c in self.choices], "group": self.group}


@dataclass(frozen=True)
class Instance:
    """Schools sorted by id and applicants sorted by entry id, so input order never matters."""

    schools: tuple[School, ...]
    applicants: tuple[Applicant, ...]

    @classmethod
    def build(cls, schools, applicants) -> Instance:
        with cyclic_gc_paused():
            instance = cls(tuple(sorted(schools, key=lambda s: s.id)),
                           tuple(sorted(applicants, key=lambda a: a.id)))
            instance._validate()
        return instance

    @classmethod
    def from_records(cls, data) -> Instance:
        """From the JSON form: {"schools": [school records], "applicants": [applicant records]}."""
        if not isinstance(data, dict) or set(data) - {"format", "schools", "applicants"} \
                or not isinstance(data.get("schools"), list) \
                or not isinstance(data.get("applicants"), list):
            raise AllocationError("INSTANCE_INVALID",
                                  "实例应为包含 schools 与 applicants 两个列表的 JSON 对象")
        with cyclic_gc_paused():
            return cls.build([_school(r) for r in data["schools"]],
                             [_applicant(r) for r in data["applicants"]])

    def records(self) -> dict:
        return {"schools": [s.record() for s in self.schools],
                "applicants": [a.record() for a in self.applicants]}

    @cached_property
    def canonical_records(self) -> tuple[list[bytes], list[bytes]]:
        """The canonical bytes of every school record and every applicant record."""
        return ([canonical_json(s.record()) for s in self.schools],
                [canonical_json(a.record()) for a in self.applicants])

    @cached_property
    def record_digests(self) -> list[tuple[str, str, str]]:
        """(SHA-256 of the canonical record, kind, id) per school, then per applicant."""
        schools, applicants = self.canonical_records
        return ([(sha256_hex(record), "school", s.id)
                 for s, record in zip(self.schools, schools, strict=True)]
                + [(sha256_hex(record), "entry", a.id)
                   for a, record in zip(self.applicants, applicants, strict=True)])

    def groups(self) -> dict[str, list[Applicant]]:
        members: dict[str, list[Applicant]] = defaultdict(list)
        for applicant in self.applicants:
            if applicant.group is not None:
                members[applicant.group].append(applicant)
        return dict(members)

    def counts(self) -> dict:
        return {"schools": len(self.schools), "seats": sum(s.seats for s in self.schools),
                "applicants": len(self.applicants), "groups": len(self.groups()),
                "choices": sum(len(a.choices) for a in self.applicants)}

    def check_mechanism(self, mechanism: str) -> None:
        if mechanism not in MECHANISMS:
            raise AllocationError("MECHANISM_UNKNOWN",
                                  f"未知的分配方式 {mechanism}，可选：{'、'.join(MECHANISMS)}")
        if mechanism == "single_school_lottery" and any(len(a.choices) != 1
                                                        for a in self.applicants):
            raise AllocationError("INSTANCE_INVALID", "单校摇号中每名申请人只能报一所学校")

    def _validate(self) -> None:
        _unique([s.id for s in self.schools], "学校编号")
        _unique([a.id for a in self.applicants], "报名号")
        known = {s.id for s in self.schools}
        for applicant in self.applicants:
            schools = [c.school for c in applicant.choices]
            if len(set(schools)) != len(schools):
                _refuse(f"报名号 {applicant.id} 的志愿中有重复的学校")
            unknown = [s for s in schools if s not in known]
            if unknown:
                _refuse(f"报名号 {applicant.id} 填报了不存在的学校 {unknown[0]}")
        for group, members in self.groups().items():
            if len(members) < 2:
                _refuse(f"多胞胎组 {group} 只有一名成员")
            lists = {tuple(c.school for c in m.choices) for m in members}
            if len(lists) != 1:
                _refuse(f"多胞胎组 {group} 的成员须按相同顺序填报相同的学校")


def _refuse(message: str):
    raise AllocationError("INSTANCE_INVALID", message)


def _unique(ids: list[str], label: str) -> None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            _refuse(f"{label} {value} 重复出现")
        seen.add(value)


def _identifier(value, label: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        _refuse(f"{label} {value!r} 不合规：应为 1–40 位字母、数字、下划线或连字符")
    return value


def _whole_number(value, label: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _refuse(f"{label} {value!r} 不合规：应为 {low}–{high} 的整数")
    return value


def _school(record) -> School:
    if not isinstance(record, dict) or set(record) - {"id", "seats", "district"} \
            or "id" not in record or "seats" not in record:
        _refuse(f"学校记录 {record!r} 应含 id 与 seats（可选 district）")
    district = record.get("district", "")
    if not isinstance(district, str):
        _refuse(f"学校 {record['id']!r} 的 district 应为字符串")
    return School(_identifier(record["id"], "学校编号"),
                  _whole_number(record["seats"], "学位数", 0, 1_000_000), district)


def _applicant(record) -> Applicant:
    if not isinstance(record, dict) or set(record) - {"id", "choices", "group"} \
            or "id" not in record or not isinstance(record.get("choices"), list):
        _refuse(f"报名记录 {record!r} 应含 id 与 choices（可选 group）")
    entry = _identifier(record["id"], "报名号")
    choices = []
    for item in record["choices"]:
        # One cheap test for the common, valid case (150,000 × 12 of them in a Beijing draw);
        # a school id that is not a known school is refused by Instance._validate.
        if type(item) is not list or len(item) != 2 or type(item[0]) is not str \
                or type(item[1]) is not int or not 1 <= item[1] <= MAX_PRIORITY_CLASS:
            if not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str):
                _refuse(f"报名号 {entry} 的志愿 {item!r} 应为 [学校编号, 类别]")
            _whole_number(item[1], "类别", 1, MAX_PRIORITY_CLASS)
        choices.append(Choice(item[0], item[1]))
    if not choices:
        _refuse(f"报名号 {entry} 没有填报任何学校")
    group = record.get("group")
    if group is not None:
        group = _identifier(group, "多胞胎组编号")
    return Applicant(entry, tuple(choices), group)
