"""The demo data of `make run` (deploy/run.sh), run as run.sh runs it against the running
platform: the demo families registered, the demo registry loaded, the details entered; each
family then sees its own state of the journey when it signs in. The demo schools imported."""

from __future__ import annotations

import subprocess
import sys

from common.registry import PROCESSES
from common.settings import role_url
from services.accounts.demo import DEMO_FAMILIES, PASSWORD
from services.enrollment.rules.schools import load_csv
from tests.support.family import Family
from tests.support.stack import ROOT

SUBMITTED = "已提交（信息待审核）"
VERIFIED, FAILED = "身份证及户籍信息已验证", "身份证及户籍信息未通过"
# In DEMO_FAMILIES' order: the state the demo prints, and the family's details and
# verification steps.
EXPECTED = [("未填写", "未填写", "未提交"), ("已暂存", "已暂存", "未提交"),
            (f"{SUBMITTED} · {VERIFIED}", SUBMITTED, VERIFIED),
            (f"{SUBMITTED} · {VERIFIED}", SUBMITTED, VERIFIED),
            (f"{SUBMITTED} · {FAILED}（户籍信息）", SUBMITTED, FAILED),
            (f"{SUBMITTED} · {VERIFIED} · 入学结果已公布：延庆区示例第一小学", SUBMITTED, VERIFIED)]


def demo(stack, process: str, *args: str) -> list[str]:
    """`python -m ARGS` as `process` (its own database login), as run.sh runs it."""
    env = {**stack.env, "DATABASE_URL": role_url(stack.database_url, PROCESSES[process].role)}
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def signed_in(stack, account_no: str) -> Family:
    family = Family(stack)
    assert family.login(account_no, PASSWORD).status_code == 201
    return family


def journey(family: Family) -> dict:
    """The family's steps, as it sees them."""
    response = family.call("GET", "/api/v1/journey")
    assert response.status_code == 200, response.text
    return {step["key"]: step for step in response.json()["steps"]}


def test_the_demo_schools_are_imported_and_importing_them_again_changes_nothing(stack):
    command = ("services.enrollment.schools", "import", "services/enrollment/demo_schools.csv")
    schools = len(load_csv(ROOT / command[2]))
    assert demo(stack, "enrollment", *command) == [
        f"schools imported: {schools} added, 0 changed, 0 unchanged, 0 removed"]
    assert demo(stack, "enrollment", *command) == [
        f"schools imported: 0 added, 0 changed, {schools} unchanged, 0 removed"]


# After the schools: a demo family is pre-registered at one.
def test_the_demo_families_reach_each_state_of_the_journey(stack):
    families = demo(stack, "accounts", "services.accounts.demo")
    assert demo(stack, "verification", "services.verification.load_registry",
                "services/verification/demo_registry.csv") == [
        "registry loaded: 12 people, 3 residence permits"]
    accounts = [line.split()[0] for line in families]
    assert [line.split()[1:3] for line in families] == [
        [PASSWORD, f"/d/{family['district']}/{family['hukou_type']}"]
        for family in DEMO_FAMILIES]

    states = demo(stack, "enrollment", "services.enrollment.demo", *accounts)
    assert states == [f"{account_no} {shown}"
                      for account_no, (shown, _, _) in zip(accounts, EXPECTED, strict=True)]
    for account_no, (_, details, verification) in zip(accounts, EXPECTED, strict=True):
        family = signed_in(stack, account_no)
        steps = journey(family)
        assert (steps["details"]["label"], steps["verification"]["label"]) == (
            details, verification)
    assert steps["results"]["status"] == "published"  # the last family's: 孙悦, placed
    failed = signed_in(stack, accounts[4])
    reason = "儿童户籍所在区与人口信息库不一致"  # 刘浩然's, on its status page
    assert reason in journey(failed)["verification"]["note"]
    assert reason in failed.call("GET", "/home").text

    # Run again, as a second `make run` does: nothing changes.
    assert demo(stack, "accounts", "services.accounts.demo") == families
    assert demo(stack, "enrollment", "services.enrollment.demo", *accounts) == states
