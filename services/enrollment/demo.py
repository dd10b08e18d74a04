"""Demo data for `make run`: the demo families' details, so that a newcomer can sign in and see
each state of 录入详细信息 and of the 身份证及户籍信息核验, and one family's 查看入学结果.

`python -m services.enrollment.demo ACCOUNT_NO...` takes the account numbers
`python -m services.accounts.demo` printed. It waits until enrollment has opened each one's
application (accounts' family_registered, relayed by the running services), then enters the
details below through enrollment's use cases, in-process: their events wait in enrollment's
outbox until the running service's relay publishes them, and the verification service checks
them against services/verification/demo_registry.csv. Once the checks are over (or a bounded
wait), it prints each account's state, one line each: `<account no> <state>`.

Only an application still 未填写 gets details: running it again, or after the family changed
them by hand, only prints. Refuses to run in production.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import psycopg_pool

from common.errors import DomainError
from services.enrollment.bootstrap import EnrollmentApp, build
from services.enrollment.rules import status
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.usecases import details, district, placement

WAIT_S = 30  # for the applications to be opened, then for the checks to be over
POLL_S = 0.5


def _guardian(name: str, relation: str, document_number: str, phone: str) -> dict:
    return {"name": name, "relation": relation, "document_type": "resident_id",
            "document_number": document_number, "phone": phone}


def _beijing(district: str, address: str, guardian: dict) -> dict:
    """本市户籍: hukou and home at `address` in `district`, the family's own flat."""
    return {"household": {"head_name": guardian["name"], "relation_to_head": "child"},
            "hukou_address": {"district": district, "address": address},
            "residence": {"district": district, "address": address},
            "housing": {"kind": "own", "certificate_kind": "real_estate",
                        "certificate_no": "京（2019）不动产权第0012345号",
                        "owner_relation": "parent"},
            "guardians": [guardian]}


# What each demo family enters, by the child's document number (the registry's residents of
# services/verification/README.md). Any other family stays 未填写.
DEMO_DETAILS: dict[str, tuple[Callable[[EnrollmentApp, str, dict], dict], dict]] = {
    # 赵一诺: a draft, half filled in.
    "110102202011200040": (EnrollmentApp.save_draft, {
        "household": {"head_name": "赵志刚", "relation_to_head": "child"},
        "hukou_address": {"district": "xicheng", "address": "西城区示例胡同2号"}}),
    # 李小红: verified, 本市户籍.
    "110105202103150027": (EnrollmentApp.submit, _beijing(
        "chaoyang", "朝阳区示例街3号",
        _guardian("李娟", "mother", "11010519860412002X", "13800138002"))),
    # 刘浩然: 未通过, the registry holds 通州区 as the hukou district.
    "110112202101080030": (EnrollmentApp.submit, _beijing(
        "chaoyang", "朝阳区示例街5号",
        _guardian("刘强", "father", "110112198407180019", "13800138004"))),
    # 陈思远: verified, 非本市户籍 with his father's 北京市居住证.
    "370102202012050054": (EnrollmentApp.submit, {
        "household": {"head_name": "陈建国", "relation_to_head": "child"},
        "hukou_origin": {"region": "370102"},
        "residence": {"district": "chaoyang", "address": "朝阳区示例街4号"},
        "permit": {"holder": "father", "number": "JZ1101052026001",
                   "valid_until": "2028-02-29", "issuing_district": "chaoyang"},
        "employment": {"kind": "labour_contract", "employer_name": "北京示例科技有限公司",
                       "uscc": "91110108551385082Q", "insurance_months": 24},
        "dwelling": {"kind": "rent", "district": "chaoyang",
                     "lease_registration_no": "ZL2024-0012345", "since": "2024-03-01"},
        "no_guardianship": {"has_certificate": True, "issuer": "济南市历下区示例街道办事处"},
        "guardians": [_guardian("陈建国", "father", "370102198803150116", "13800138003")]}),
    # 孙悦: verified, then placed (DEMO_PLACEMENTS).
    "110229202010100027": (EnrollmentApp.submit, _beijing(
        "yanqing", "延庆区示例胡同6号",
        _guardian("孙伟", "father", "110229198603030010", "13800138005"))),
}
# Pre-registered at a demo school (services/enrollment/demo_schools.csv), approved, and the
# district's results published, by the child's document number: the school's code.
DEMO_PLACEMENTS = {"110229202010100027": "9916000001"}


def opened(app: EnrollmentApp, account_no: str, deadline: float) -> details.DetailsView:
    """The application, once enrollment has opened it."""
    while True:
        try:
            return details.get_details(app.context, account_no)
        except DomainError as error:
            if error.code != "APPLICATION_NOT_FOUND":
                raise
        if time.monotonic() >= deadline:
            raise TimeoutError(f"enrollment has not opened the application of {account_no} "
                               f"within {WAIT_S} s")
        time.sleep(POLL_S)


def fill_in(app: EnrollmentApp, view: details.DetailsView) -> None:
    """The family's details, if it has none yet and is one of DEMO_DETAILS."""
    entered = DEMO_DETAILS.get(view.registration.document_number)
    if entered and view.state.details == status.EMPTY:
        use_case, data = entered
        use_case(app, view.registration.account_no, data)


def settled(app: EnrollmentApp, account_no: str, deadline: float) -> status.ApplicationState:
    """The state once no check is pending, or as it is at the deadline (the family's page
    shows the result when it comes)."""
    while True:
        state = details.get_details(app.context, account_no).state
        pending = state.details == status.SUBMITTED and state.verification.status == status.PENDING
        if not pending or time.monotonic() >= deadline:
            return state
        time.sleep(POLL_S)


def place(app: EnrollmentApp, account_no: str, state: status.ApplicationState) -> None:
    """A DEMO_PLACEMENTS family verified: pre-registered, approved, its district published
    (again: nothing changes)."""
    registration = details.get_details(app.context, account_no).registration
    school = DEMO_PLACEMENTS.get(registration.document_number)
    if school is None or not status.may_print(state):
        return
    operator = district.Operator(registration.district, "demo")
    if state.placement is None:
        placement.preregister(app.context, operator, account_no, state.version, school)
        placement.approve(app.context, operator, account_no, school)
    placement.publish(app.context, operator)


def label(app: EnrollmentApp, account_no: str, state: status.ApplicationState) -> str:
    """As the family's pages show it."""
    shown = status.DETAILS_LABELS[state.details]
    if state.details == status.SUBMITTED:
        verification = state.verification
        shown += f" · {status.VERIFICATION_LABELS[verification.status]}"
        if verification.status == status.FAILED:
            shown += f"（{status.VERIFICATION_ITEMS[verification.item]}）"
    found = placement.result(app.context, account_no)
    if found.school is not None:
        shown += f" · 入学结果已公布：{found.school.name}"
    return shown


def run(app: EnrollmentApp, accounts: list[str]) -> list[str]:
    """Each account's `<account no> <state>` line."""
    deadline = time.monotonic() + WAIT_S
    for account_no in accounts:
        fill_in(app, opened(app, account_no, deadline))
    deadline = time.monotonic() + WAIT_S
    states = {account_no: settled(app, account_no, deadline) for account_no in accounts}
    for account_no, state in states.items():
        place(app, account_no, state)
    return [f"{account_no} {label(app, account_no, settled(app, account_no, deadline))}"
            for account_no in accounts]


def main(argv: list[str]) -> int:
    settings = EnrollmentSettings()
    if settings.production:
        print("demo data is for development only", file=sys.stderr)
        return 2
    with psycopg_pool.ConnectionPool(settings.DATABASE_URL, min_size=1, max_size=2,
                                     kwargs={"autocommit": True}) as pool:
        try:
            lines = run(build(settings, pool), argv[1:])
        except TimeoutError as error:
            print(error, file=sys.stderr)
            return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
