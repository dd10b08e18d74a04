"""The schools of each district, as reference data: the CSV format and its rules.

One row per school and stage, columns `CSV_COLUMNS` (common/csv_file.py: UTF-8, a byte order
mark allowed, a header row):

- district: the platform's district code (common/districts.py), e.g. `haidian`;
- code: the school's 学校标识码, the 10-digit code the Ministry of Education gives every
  school (the same in every system, unlike a district's own numbering), unique in its
  district; the demo set's codes begin with 99;
- name, address: as the family should read them, at most 100 characters each;
- kind: 公办, 民办 or 公办寄宿;
- stage: 小学 or 初中, the grade the school takes new pupils into through the platform;
- plan_seats: the seats planned for this season, a whole number from 0 to 10000;
- demo: 是 for made-up schools of the demo set, 否 for real ones.

`load_csv` gives the schools of a file, or refuses it (CsvFileError) with every problem as
`line N: column: what is wrong`. A file loaded for one district (`district=`) holds that
district's schools only; a production load refuses demo schools (`demo_allowed=False`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from common import csv_file
from common.districts import BY_CODE

CSV_COLUMNS = ("district", "code", "name", "kind", "stage", "address", "plan_seats", "demo")
KINDS = ("公办", "民办", "公办寄宿")
STAGES = ("小学", "初中")
MAX_TEXT = 100
MAX_PLAN_SEATS = 10000
_CODE = re.compile(r"^\d{10}$")
_YES_NO = {"是": True, "否": False}

Kind = Literal["公办", "民办", "公办寄宿"]
Stage = Literal["小学", "初中"]


@dataclass(frozen=True)
class School:
    district: str
    code: str
    name: str
    kind: Kind
    stage: Stage
    address: str
    plan_seats: int
    demo: bool


def load_csv(path: str | Path | TextIO, district: str | None = None,
             demo_allowed: bool = True) -> list[School]:
    """The schools of a file (or of text sent over RPC, csv_file.rows), in its order; the
    whole file or nothing (CsvFileError)."""
    problems: list[str] = []
    schools: dict[tuple[str, str], tuple[int, School]] = {}
    for line, row in csv_file.rows(path, CSV_COLUMNS, problems):
        found = _row_problems(row, district, demo_allowed)
        problems.extend(f"line {line}: {problem}" for problem in found)
        if found:
            continue
        school = _school_of(row)
        key = (school.district, school.code)
        if key in schools:
            problems.append(f"line {line}: code: repeats line {schools[key][0]}")
            continue
        schools[key] = (line, school)
    if problems:
        raise csv_file.CsvFileError(csv_file.name_of(path), problems)
    return [school for _, school in schools.values()]


def _row_problems(row: dict[str, str], district: str | None = None,
                 demo_allowed: bool = True) -> list[str]:
    """What is wrong with one row (values stripped), each as `column: what`; [] if nothing."""
    problems = []
    if row["district"] not in BY_CODE:
        problems.append("district: not a district code of common/districts.py")
    elif district is not None and row["district"] != district:
        problems.append(f"district: not {district}, the district being loaded")
    if not _CODE.match(row["code"]):
        problems.append("code: not a 10-digit 学校标识码")
    for column in ("name", "address"):
        if not row[column]:
            problems.append(f"{column}: empty")
        elif len(row[column]) > MAX_TEXT:
            problems.append(f"{column}: longer than {MAX_TEXT} characters")
    if row["kind"] not in KINDS:
        problems.append(f"kind: not one of {', '.join(KINDS)}")
    if row["stage"] not in STAGES:
        problems.append(f"stage: not one of {', '.join(STAGES)}")
    if not (row["plan_seats"].isascii() and row["plan_seats"].isdigit()
            and int(row["plan_seats"]) <= MAX_PLAN_SEATS):
        problems.append(f"plan_seats: not a whole number from 0 to {MAX_PLAN_SEATS}")
    if row["demo"] not in _YES_NO:
        problems.append("demo: not 是 or 否")
    elif _YES_NO[row["demo"]] and not demo_allowed:
        problems.append("demo: a demo school, not loaded in production")
    return problems


def _school_of(row: dict[str, str]) -> School:
    """The school of a row `row_problems` finds nothing wrong with."""
    return School(district=row["district"], code=row["code"], name=row["name"],
                  kind=row["kind"], stage=row["stage"], address=row["address"],
                  plan_seats=int(row["plan_seats"]), demo=_YES_NO[row["demo"]])
