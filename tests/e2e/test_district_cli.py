"""The district command line (python -m services.enrollment.district_cli) as an operator runs
it, a process of its own, against the running platform with a district's own broker user
from an env file as `make run` writes it: the list masked, one application opened for a
purpose, a refusal printed in words, the schools imported (and another district's row
refused), the export a spreadsheet opens; and a school's pre-registration approved and the results
published, which the family then sees and is texted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.registry import ROOT
from services.enrollment.rules.schools import CSV_COLUMNS
from tests.e2e.test_details import (
    application,
    beijing_details,
    journey_steps,
    registered,
    verification_settles,
)
from tests.support.infra import drop_process_users, make_district_users
from tests.support.registry import child_record, registry_holds

SCHOOL = "haidian,9904100001,海淀区测试第一小学,公办,小学,海淀区测试路1号,180,是"
# Results are published once per district: no other test publishes in 房山区.
FANGSHAN_SCHOOL = "fangshan,9908100001,房山区测试第一小学,公办,小学,房山区测试路1号,90,是"


def operator_cli(stack, tmp_path, district: str, staff_id: str):
    """Runs the command line as `district`'s operator: (exit status, stdout, stderr)."""
    users = make_district_users(stack.env["AMQP_URI"], (district,))
    env_file = tmp_path / f"district-{district}.env"
    env_file.write_text(f"# {district}'s own RabbitMQ user\nAMQP_URI={users[district]}\n")

    def run(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "services.enrollment.district_cli", "--env-file",
             str(env_file), *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**stack.env, "DISTRICT_OPERATOR": staff_id})
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout, done.stderr
    return run, users


@pytest.fixture
def cli(stack, tmp_path):
    """海淀's operator hd0042."""
    run, users = operator_cli(stack, tmp_path, "haidian", "hd0042")
    yield run
    drop_process_users(users)


@pytest.fixture
def account_no(stack):
    family, _, account_no = registered(stack)  # 海淀区 · 本市户籍, 李小萌
    application(family)  # opened
    return account_no


def test_an_operator_lists_shows_and_is_told_why_a_review_is_refused(cli, account_no):
    status, out, _ = cli("list", "--hukou-type", "beijing", "--details", "empty")
    assert status == 0, out
    [line] = [line for line in out.splitlines() if line.startswith(account_no)]
    cells = line.split()
    assert (cells[1], cells[2][:5], cells[3], cells[4]) == ("李**", "1101*", "本市户籍", "未填写")
    assert "李小萌" not in out

    status, out, _ = cli("show", account_no, "--purpose", "核对入学登记信息")
    assert status == 0
    assert out.splitlines()[0] == f"账号：{account_no}（本市户籍）"
    assert out.splitlines()[1].startswith("儿童：李小萌，女，出生日期 2020-09-01，证件号码 110108")
    assert "填报状态：未填写，第 0 版" in out

    status, out, err = cli("review", account_no, "--version", "1", "--item", "permit",
                           "--pass", "--agency", "公安")
    assert (status, out) == (1, "")
    assert err == "错误：本市户籍适龄儿童无需进行入学资格审核。（REVIEW_NOT_APPLICABLE）\n"

    status, _, err = cli("show", "27999999", "--purpose", "核对")
    assert status == 1 and "（NOT_YOUR_DISTRICT）" in err


def test_an_operator_imports_the_districts_schools_and_another_districts_row_is_refused(
        cli, tmp_path):
    schools = tmp_path / "schools.csv"
    schools.write_text("\n".join([",".join(CSV_COLUMNS), SCHOOL]) + "\n", encoding="utf-8-sig")
    assert cli("import-schools", str(schools)) == (
        0, "学校名单已导入：新增 1 所，更新 0 所，未变 0 所，删除 0 所\n", "")
    assert cli("import-schools", str(schools))[1] == (
        "学校名单已导入：新增 0 所，更新 0 所，未变 1 所，删除 0 所\n")
    schools.write_text("\n".join([",".join(CSV_COLUMNS), SCHOOL, SCHOOL.replace(
        "haidian,99041", "chaoyang,99051")]) + "\n", encoding="utf-8")
    status, _, err = cli("import-schools", str(schools), "--replace")
    assert status == 1
    assert err.splitlines() == [
        "错误：学校文件格式不正确，共1处问题，本次未导入任何学校。（SCHOOL_FILE_INVALID）",
        "  line 3：district: not haidian, the district being loaded"]


def test_the_export_holds_every_application_with_a_byte_order_mark_and_chinese_headers(
        cli, account_no, tmp_path):
    target = tmp_path / "haidian.csv"
    status, out, _ = cli("export", "--out", str(target))
    assert status == 0 and out.startswith("已导出 ") and out.endswith(f"条到 {target}\n")
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == ("账号,区,户籍类型,儿童姓名,证件类型,证件号码,性别,填报状态,版本,"
                        "身份证及户籍信息核验,入学资格审核,提交时间,预登记学校,预登记状态")
    assert any(line.startswith(f"{account_no},海淀区,本市户籍,李**,") for line in lines)
    assert len(lines) - 1 == int(out.split()[1])


def test_a_school_pre_registers_the_district_approves_and_publishes_and_the_family_sees_it(
        stack, tmp_path):
    run, users = operator_cli(stack, tmp_path, "fangshan", "fs0007")
    try:
        family, body, account_no = registered(
            stack, district="fangshan", hukou_district="fangshan",
            residence_district="fangshan", residence_address="房山区良乡镇拱辰大街1号")
        registry_holds(stack, child_record(body))
        application(family)
        submitted = family.call("POST", "/api/v1/application/submissions",
                                json={"data": beijing_details("fangshan")})
        assert submitted.status_code == 201, submitted.text
        assert verification_settles(family, 1)["state"]["verification"]["status"] == "verified"
        assert "review" not in journey_steps(family)  # 本市户籍: no 入学资格审核

        schools = tmp_path / "schools.csv"
        schools.write_text(",".join(CSV_COLUMNS) + "\n" + FANGSHAN_SCHOOL + "\n")
        assert run("import-schools", str(schools))[0] == 0
        school = FANGSHAN_SCHOOL.split(",")[1]
        status, _, err = run("pre-register", account_no, "--version", "2", "--school", school)
        assert status == 1 and "（FORM_SUPERSEDED）" in err  # an old printout: print it again
        status, out, err = run("pre-register", account_no, "--version", "1", "--school", school)
        assert status == 0, err
        assert journey_steps(family)["preregistration"]["status"] == "preregistered"
        status, out, err = run("list", "--school", school, "--placement", "preregistered")
        assert status == 0 and account_no in out, err
        status, out, err = run("approve", "--school", school)  # the school's whole list
        assert status == 0, err
        assert journey_steps(family)["preregistration"]["status"] == "approved"

        status, _, err = run("publish")  # without --yes: says what it would do, does nothing
        assert status == 1 and "确认公布请加 --yes" in err
        assert journey_steps(family)["results"]["status"] != "published"
        status, out, err = run("publish", "--yes")
        assert status == 0, err
        assert journey_steps(family)["results"]["status"] == "published"
        [text] = stack.wait_sms(body["guardian_phone"], "result_published")
        assert "查看入学结果" in text["text"]
        assert run("publish", "--yes")[0] == 0  # again: the same publication, no second text
        status, _, err = run("approve", account_no, "--school", school)
        assert status == 1 and "（RESULTS_PUBLISHED）" in err
        assert len([m for m in stack.sms_messages(body["guardian_phone"])
                    if m["purpose"] == "result_published"]) == 1
    finally:
        drop_process_users(users)
