"""Importing schools into PostgreSQL (`python -m services.enrollment.schools import`) and
reading them back per district."""

from __future__ import annotations

import base64
import os

import psycopg
import pytest

from common.csv_file import CsvFileError
from common.settings import role_url
from services.enrollment import schools as command
from services.enrollment.rules.schools import load_csv
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import SchoolImport, SchoolTable
from services.enrollment.tests.test_schools import DEMO_CSV, HEADER, MIDDLE, PRIMARY

BOARDING = "miyun,9915000009,密云区示例山区学校,公办寄宿,初中,密云区示例路9号,60,否"


@pytest.fixture
def table(pool, database_url):
    """The schools table, empty, as enrollment's role reads and writes it."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("TRUNCATE enrollment.schools")
    return SchoolTable(pool)


@pytest.fixture
def run(table, database_url, monkeypatch, capsys):
    """Runs the command with enrollment's settings; (exit status, stdout, stderr)."""
    monkeypatch.setenv("DATABASE_URL", role_url(database_url, EnrollmentSettings.DATABASE_ROLE))
    monkeypatch.delenv("PLATFORM_ENV", raising=False)

    def run_command(*args):
        status = command.main(["schools", "import", *map(str, args)])
        out, err = capsys.readouterr()
        return status, out.strip(), err.strip()
    return run_command


def write(tmp_path, *rows, name="schools.csv"):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def updated_at(database_url) -> list:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT updated_at FROM enrollment.schools "
                            "ORDER BY district, code").fetchall()


def test_the_demo_set_is_imported_once_and_again_changes_nothing(run, table, database_url):
    demo = len(load_csv(DEMO_CSV))
    assert run(DEMO_CSV) == (0, f"schools imported: {demo} added, 0 changed, 0 unchanged, "
                                "0 removed", "")
    first = updated_at(database_url)
    assert run(DEMO_CSV) == (0, f"schools imported: 0 added, 0 changed, {demo} unchanged, "
                                "0 removed", "")
    assert updated_at(database_url) == first
    primary = table.schools("haidian", "小学")[0]
    assert (primary.name, primary.kind, primary.demo) == ("海淀区示例第一小学", "公办", True)


def test_a_school_is_changed_by_a_new_file_and_one_left_out_is_kept(run, table, tmp_path):
    run(write(tmp_path, PRIMARY, MIDDLE))
    status, out, _ = run(write(tmp_path, PRIMARY.replace(",180,", ",200,")))
    assert (status, out) == (0, "schools imported: 0 added, 1 changed, 0 unchanged, 0 removed")
    assert [(s.code, s.plan_seats) for s in table.schools("haidian")] == [
        ("9904000001", 200), ("9904000002", 240)]


def test_replace_removes_the_schools_of_the_files_districts_it_does_not_hold(
        run, table, tmp_path):
    run(write(tmp_path, PRIMARY, MIDDLE, BOARDING))
    assert run(write(tmp_path, PRIMARY), "--replace")[1] == (
        "schools imported: 0 added, 0 changed, 1 unchanged, 1 removed")
    assert [s.code for s in table.schools("haidian")] == ["9904000001"]
    assert [s.code for s in table.schools("miyun")] == ["9915000009"]  # not in the file


def test_replace_for_a_district_with_an_empty_file_removes_its_schools_only(
        run, table, tmp_path):
    run(write(tmp_path, PRIMARY, MIDDLE, BOARDING))
    assert run(write(tmp_path), "--district", "haidian", "--replace")[1] == (
        "schools imported: 0 added, 0 changed, 0 unchanged, 2 removed")
    assert table.schools("haidian") == []
    assert len(table.schools("miyun")) == 1


def test_a_malformed_file_is_refused_with_every_problem_and_nothing_written(
        run, table, tmp_path):
    status, out, err = run(write(tmp_path, PRIMARY, MIDDLE.replace("初中", "高中"),
                                 BOARDING.replace(",60,", ",sixty,")))
    assert (status, out) == (1, "")
    assert err.endswith("line 3: stage: not one of 小学, 初中; "
                        "line 4: plan_seats: not a whole number from 0 to 10000")
    assert table.schools("haidian") == []


def test_a_file_for_one_district_with_another_districts_school_is_refused(
        run, table, tmp_path):
    status, _, err = run(write(tmp_path, PRIMARY, BOARDING), "--district", "haidian")
    assert status == 1
    assert err.endswith("line 3: district: not haidian, the district being loaded")
    assert table.schools("haidian") == []


def test_production_refuses_demo_schools_and_takes_real_ones(table, database_url, tmp_path):
    production = EnrollmentSettings(
        _env_file=None, PLATFORM_ENV="production",
        DATABASE_URL=role_url(database_url, EnrollmentSettings.DATABASE_ROLE),
        MASTER_KEYS="1:" + base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(CsvFileError, match="line 2: demo: a demo school, not loaded in production"):
        command.import_file(DEMO_CSV, production)
    assert table.schools("dongcheng") == []
    assert command.import_file(write(tmp_path, MIDDLE), production) == SchoolImport(1, 0, 0, 0)


def test_a_district_reads_its_own_schools_by_stage(table):
    table.import_schools(load_csv(DEMO_CSV))
    primary = table.schools("miyun", "小学")
    assert [s.name for s in primary] == ["密云区示例第一小学", "密云区示例第二小学"]
    everything = table.schools("miyun")
    assert {s.stage for s in everything} == {"小学", "初中"}
    assert {s.district for s in everything} == {"miyun"}
    assert any(s.kind == "公办寄宿" for s in everything)
    assert table.schools("nowhere") == []
