"""The schools CSV format: what a file gives, and every rule a row can break."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.csv_file import CsvFileError
from common.districts import DISTRICTS
from services.enrollment.rules.schools import CSV_COLUMNS, School, load_csv

DEMO_CSV = Path(__file__).parent.parent / "demo_schools.csv"

HEADER = ",".join(CSV_COLUMNS)
PRIMARY = "haidian,9904000001,海淀区示例第一小学,公办,小学,海淀区示例路1号,180,是"
MIDDLE = "haidian,9904000002,海淀区示例第二中学,民办,初中,海淀区示例路2号,240,否"


def write(tmp_path, *rows, header=HEADER, encoding="utf-8"):
    path = tmp_path / "schools.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def test_a_schools_file_gives_typed_schools_in_its_order(tmp_path):
    # A byte order mark, blank lines and spaces around values are fine.
    schools = load_csv(write(tmp_path, PRIMARY, "", MIDDLE.replace("240", " 240 "),
                             encoding="utf-8-sig"))
    assert schools == [
        School("haidian", "9904000001", "海淀区示例第一小学", "公办", "小学", "海淀区示例路1号",
               180, True),
        School("haidian", "9904000002", "海淀区示例第二中学", "民办", "初中", "海淀区示例路2号",
               240, False)]


def test_a_boarding_school_with_no_seats_planned_is_fine(tmp_path):
    [school] = load_csv(write(tmp_path, PRIMARY.replace("公办", "公办寄宿").replace("180", "0")))
    assert (school.kind, school.plan_seats) == ("公办寄宿", 0)


@pytest.mark.parametrize("row, problem", [
    (PRIMARY.replace("haidian", "shanghai"),
     "line 2: district: not a district code of common/districts.py"),
    (PRIMARY.replace("haidian", "outside"),
     "line 2: district: not a district code of common/districts.py"),
    (PRIMARY.replace("9904000001", "990400001"), "line 2: code: not a 10-digit 学校标识码"),
    (PRIMARY.replace("9904000001", "99040000AB"), "line 2: code: not a 10-digit 学校标识码"),
    (PRIMARY.replace("海淀区示例第一小学", ""), "line 2: name: empty"),
    (PRIMARY.replace("海淀区示例路1号", "路" * 101),
     "line 2: address: longer than 100 characters"),
    (PRIMARY.replace("公办", "私立"), "line 2: kind: not one of 公办, 民办, 公办寄宿"),
    (PRIMARY.replace("小学,", "高中,"), "line 2: stage: not one of 小学, 初中"),
    (PRIMARY.replace("180", "-1"), "line 2: plan_seats: not a whole number from 0 to 10000"),
    (PRIMARY.replace("180", "1.5"), "line 2: plan_seats: not a whole number from 0 to 10000"),
    (PRIMARY.replace("180", "10001"), "line 2: plan_seats: not a whole number from 0 to 10000"),
    (PRIMARY.replace("180", "１８０"), "line 2: plan_seats: not a whole number from 0 to 10000"),
    (PRIMARY.replace(",是", ",yes"), "line 2: demo: not 是 or 否"),
    (PRIMARY.replace(",是", ""), "line 2: 7 fields, 8 expected"),
])
def test_a_malformed_row_refuses_the_file_naming_its_line_and_column(tmp_path, row, problem):
    with pytest.raises(CsvFileError) as refused:
        load_csv(write(tmp_path, row))
    assert refused.value.problems == [problem]


def test_every_problem_of_every_row_is_listed_with_its_line(tmp_path):
    with pytest.raises(CsvFileError) as refused:
        load_csv(write(tmp_path, PRIMARY, "x", MIDDLE.replace("民办", "").replace("240", "many"),
                       PRIMARY.replace("180", "90")))
    assert refused.value.problems == [
        "line 3: 1 fields, 8 expected",
        "line 4: kind: not one of 公办, 民办, 公办寄宿",
        "line 4: plan_seats: not a whole number from 0 to 10000",
        "line 5: code: repeats line 2"]


def test_the_same_code_in_two_districts_is_two_schools(tmp_path):
    schools = load_csv(write(tmp_path, PRIMARY, PRIMARY.replace("haidian", "chaoyang")))
    assert [school.district for school in schools] == ["haidian", "chaoyang"]


def test_a_file_loaded_for_one_district_holds_only_its_schools(tmp_path):
    path = write(tmp_path, PRIMARY, MIDDLE.replace("haidian,", "xicheng,", 1))
    with pytest.raises(CsvFileError) as refused:
        load_csv(path, district="haidian")
    assert refused.value.problems == ["line 3: district: not haidian, the district being loaded"]


def test_demo_schools_are_refused_where_demos_are_not_allowed(tmp_path):
    path = write(tmp_path, PRIMARY, MIDDLE)
    with pytest.raises(CsvFileError) as refused:
        load_csv(path, demo_allowed=False)
    assert refused.value.problems == ["line 2: demo: a demo school, not loaded in production"]
    assert load_csv(write(tmp_path, MIDDLE), demo_allowed=False)[0].demo is False


@pytest.mark.parametrize("header", ["", HEADER.replace("plan_seats", "seats"),
                                    HEADER + ",phone"])
def test_a_file_without_the_columns_is_refused(tmp_path, header):
    with pytest.raises(CsvFileError, match="line 1: the columns must be"):
        load_csv(write(tmp_path, header=header))


def test_the_demo_set_has_public_and_private_schools_of_both_stages_in_every_district():
    schools = load_csv(DEMO_CSV)
    assert all(school.demo for school in schools)
    for district in DISTRICTS:
        own = [school for school in schools if school.district == district.code]
        assert 3 <= len(own) <= 5, district.code
        assert all(school.name.startswith(district.name) for school in own), district.code
        assert {school.kind for school in own} >= {"公办", "民办"}, district.code
        assert {school.stage for school in own} == {"小学", "初中"}, district.code
    assert any(school.kind == "公办寄宿" for school in schools)
