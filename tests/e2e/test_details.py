"""详细信息录入 and 查看信息审核状态 over HTTP (the operating guide's sections 二 and 三): a
family reads its application, saves a draft, submits, is verified against the population
registry (the verification service's embedded one, loaded here), texted the outcome,
withdraws and corrects; the window's dates, a cancellation, validation and sessions bound it.
Every part is real: the gateway, accounts, enrollment, verification and notify as processes,
PostgreSQL and RabbitMQ."""

from __future__ import annotations

import copy
import itertools
import time
from datetime import date, datetime

import eventlet
import psycopg
import pytest
from psycopg import sql

from services.enrollment.rules.season import BEIJING, REGISTRATION_KEYS, load_season
from services.enrollment.tests.samples import FATHER_ID, details_for
from tests.support.family import Family, id_number
from tests.support.registry import child_record, registry_holds

SEASON = load_season(2027)
COLLECTION = SEASON.phases["collection"]
PERIOD = COLLECTION.period  # 2027年5月6日至5月31日
CHILD_BIRTH = date(2020, 9, 1)  # Family.registration's default
_permit_serial = itertools.count(int(time.time()) % 10**6)


# The family ---------------------------------------------------------------------------------

def registered(stack, **overrides) -> tuple[Family, dict, str]:
    """A family signed in after registering: (its client, the registration sent, its account
    number)."""
    family = Family(stack)
    body = family.registration(**overrides)
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    family.csrf = response.json()["csrf_token"]
    return family, body, response.json()["account_no"]


def non_beijing_registration() -> dict:
    """A 非本市户籍 child registered in 朝阳区 (hukou in 河北省)."""
    return {"district": "chaoyang", "hukou_type": "non_beijing", "hukou_district": "outside",
            "residence_district": "chaoyang", "residence_address": "朝阳区团结湖路5号院",
            "child_name": "赵小雨", "sex": "male",
            "document_number": id_number(CHILD_BIRTH, "male", "130102")}


def beijing_details(hukou_district: str = "haidian") -> dict:
    details = details_for("beijing")
    details["hukou_address"]["district"] = hukou_district
    return details


def application(family: Family, timeout: float = 15) -> dict:
    """GET /api/v1/application once enrollment has opened it (from accounts' event)."""
    deadline = time.monotonic() + timeout
    while True:
        response = family.call("GET", "/api/v1/application")
        if response.status_code != 404 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        assert response.json()["code"] == "APPLICATION_NOT_FOUND", response.text
        time.sleep(0.2)


def verification_settles(family: Family, version: int, timeout: float = 30) -> dict:
    """The application once the check of `version` has a result (polled)."""
    deadline = time.monotonic() + timeout
    while True:
        view = application(family)
        check = view["state"]["verification"]
        if check and check["version"] == version and check["status"] != "pending":
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"version {version} not checked within {timeout}s: {check}")
        time.sleep(0.3)


def outcome_texts(stack, phone: str) -> list[dict]:
    return [m for m in stack.sms_messages(phone) if m["purpose"] == "verification_outcome"]


def journey_steps(family: Family) -> dict:
    response = family.call("GET", "/api/v1/journey")
    assert response.status_code == 200, response.text
    return {step["key"]: step for step in response.json()["steps"]}


def cancelled_by_family(stack, family: Family, phone: str) -> None:
    """The family cancels its account with the code texted to `phone`, once the registration
    code's resend cooldown lets it ask for one."""
    deadline = time.monotonic() + 15
    while (asked := family.request_code("cancel_account")).status_code != 201:
        assert asked.status_code == 429 and time.monotonic() < deadline, asked.text
        time.sleep(0.3)
    code = stack.latest_code(phone, "cancel_account")
    cancelled = family.call("DELETE", "/api/v1/account", json={"sms_code": code})
    assert cancelled.status_code == 200, cancelled.text


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# 1, 2: a submission verified ----------------------------------------------------------------

def test_a_beijing_family_saves_a_draft_submits_and_is_verified_and_texted(stack, tmp_path):
    family, body, account_no = registered(stack)
    registry_holds(stack, child_record(body))

    view = application(family)
    registration = view["registration"]
    assert registration["account_no"] == account_no
    assert (registration["district"], registration["district_name"],
            registration["hukou_type"], registration["sex"]) \
        == ("haidian", "海淀区", "beijing", "female")
    assert registration["child_name"] == "李**"
    number = body["document_number"]
    assert registration["document_number"] == number[:4] + "*" * 13 + number[-1]
    assert number not in str(view) and body["birth_date"] not in str(view)
    assert view["state"] == {"details": "empty", "details_label": "未填写", "version": 0,
                             "verification": None, "review": None}
    assert (view["form"]["hukou_type"], view["form"]["title"]) == ("beijing", "录入详细信息")
    assert [section["key"] for section in view["form"]["sections"]] \
        == ["household", "hukou_address", "residence", "housing", "guardians"]
    assert view["data"] is None
    assert view["actions"] == ["save_draft", "submit"]
    assert view["collection_period"] == PERIOD

    details = beijing_details()
    half = {"household": details["household"], "guardians": details["guardians"][:1]}
    saved = family.call("PUT", "/api/v1/application/draft", json={"data": half})
    assert saved.status_code == 200, saved.text
    assert saved.json()["account_no"] == account_no
    assert (saved.json()["state"]["details"], saved.json()["state"]["details_label"]) \
        == ("draft", "已暂存")
    view = application(family)
    assert view["state"]["details"] == "draft" and view["data"] == half
    assert view["actions"] == ["save_draft", "submit"]

    submitted = family.call("POST", "/api/v1/application/submissions", json={"data": details})
    assert submitted.status_code == 201, submitted.text
    state = submitted.json()["state"]
    assert (state["details"], state["details_label"], state["version"]) \
        == ("submitted", "已提交（信息待审核）", 1)
    assert (state["verification"]["version"], state["verification"]["status"],
            state["verification"]["label"]) == (1, "pending", "身份证及户籍信息待验证")

    view = verification_settles(family, 1)
    assert view["state"]["verification"] == {
        "version": 1, "status": "verified", "label": "身份证及户籍信息已验证", "item": None,
        "reason": None, "overridden": False}
    assert view["state"]["details"] == "submitted" and view["actions"] == ["withdraw"]
    assert view["data"]["hukou_address"] == details["hukou_address"]
    steps = journey_steps(family)
    assert (steps["details"]["label"], steps["verification"]["status"]) \
        == ("已提交（信息待审核）", "verified")
    assert "已验证" in steps["verification"]["label"]
    assert steps["print_form"]["status"] == "open"  # 本市户籍: verified is enough

    texts = stack.wait_sms(body["guardian_phone"], "verification_outcome")
    assert "已验证通过" in texts[0]["text"]
    time.sleep(2)  # a duplicate would have been texted by now
    assert len(outcome_texts(stack, body["guardian_phone"])) == 1


def non_beijing_details(stack, body: dict, district: str = "chaoyang") -> dict:
    """Details of the 非本市户籍 family registered with `body` in `district` that pass the
    check: the child and the father with his valid residence permit of that district are put
    in the registry."""
    father_id = id_number(date(1985, 1, 1), "male", "130102")
    permit_number = f"JZ110105{next(_permit_serial):07d}"
    registry_holds(stack, child_record(body), {
        "document_type": "resident_id", "document_number": father_id, "name": "张伟",
        "sex": "male", "birth_date": "1985-01-01", "hukou_district": "outside",
        "permit_number": permit_number, "permit_valid_from": "2026-03-01",
        "permit_valid_until": "2028-02-29", "permit_issuing_district": district})
    details = details_for("non_beijing")
    details["guardians"][0]["document_number"] = father_id
    details["permit"].update(number=permit_number, valid_until="2028-02-29",
                             issuing_district=district)
    details["residence"]["district"] = details["dwelling"]["district"] = district
    return details


def test_a_non_beijing_family_with_a_valid_residence_permit_is_verified(stack, tmp_path):
    family, body, account_no = registered(stack, **non_beijing_registration())
    details = non_beijing_details(stack, body)
    view = application(family)
    assert view["registration"]["hukou_type"] == "non_beijing"
    assert (view["form"]["hukou_type"], view["form"]["title"]) \
        == ("non_beijing", "录入相关审核材料信息")
    assert "permit" in [section["key"] for section in view["form"]["sections"]]

    saved = family.call("PUT", "/api/v1/application/draft",
                        json={"data": {"permit": details["permit"]}})
    assert saved.status_code == 200 and saved.json()["state"]["details"] == "draft", saved.text
    assert application(family)["data"] == {"permit": details["permit"]}
    submitted = family.call("POST", "/api/v1/application/submissions", json={"data": details})
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["state"]["verification"]["status"] == "pending"

    view = verification_settles(family, 1)
    assert view["state"]["verification"]["status"] == "verified", view["state"]
    steps = journey_steps(family)
    assert steps["verification"]["status"] == "verified"
    assert "已验证" in steps["verification"]["label"]
    assert steps["review"]["label"] == "未开始"  # the district reviews 非本市户籍 next
    texts = stack.wait_sms(body["guardian_phone"], "verification_outcome")
    assert "已验证通过" in texts[0]["text"]
    time.sleep(2)  # a duplicate would have been texted by now
    assert len(outcome_texts(stack, body["guardian_phone"])) == 1


# 3: failed, corrected, resubmitted ----------------------------------------------------------

def test_a_failed_check_says_why_and_the_corrected_resubmission_is_verified(stack, tmp_path):
    family, body, _ = registered(stack)
    registry_holds(stack, child_record(body))  # 海淀区 hukou
    application(family)
    wrong = beijing_details(hukou_district="chaoyang")
    assert family.call("POST", "/api/v1/application/submissions",
                       json={"data": wrong}).status_code == 201

    view = verification_settles(family, 1)
    check = view["state"]["verification"]
    assert (check["status"], check["label"], check["item"]) \
        == ("failed", "身份证及户籍信息未通过", "hukou")
    assert "户籍所在区与人口信息库不一致" in check["reason"]
    assert "海淀" not in check["reason"]  # what the registry holds is not repeated
    steps = journey_steps(family)
    assert steps["verification"]["status"] == "failed"
    assert "户籍所在区" in steps["verification"]["note"]
    assert steps["print_form"]["status"] == "locked"
    texts = stack.wait_sms(body["guardian_phone"], "verification_outcome")
    assert "未通过验证" in texts[0]["text"]

    # 已提交 stays until the family withdraws: the status machine lets it correct only a draft
    assert view["actions"] == ["withdraw"]
    again = family.call("POST", "/api/v1/application/submissions", json={"data": wrong})
    assert error_of(again) == (409, "ALREADY_SUBMITTED")
    withdrawn = family.call("DELETE", "/api/v1/application/submissions/current")
    assert withdrawn.status_code == 200, withdrawn.text
    state = withdrawn.json()["state"]
    assert state["details"] == "draft" and state["verification"]["status"] == "failed"
    corrected = beijing_details(hukou_district="haidian")
    resubmitted = family.call("POST", "/api/v1/application/submissions",
                              json={"data": corrected})
    assert resubmitted.status_code == 201, resubmitted.text
    assert resubmitted.json()["state"]["version"] == 2
    assert resubmitted.json()["state"]["verification"] == {
        "version": 2, "status": "pending", "label": "身份证及户籍信息待验证", "item": None,
        "reason": None, "overridden": False}

    assert verification_settles(family, 2)["state"]["verification"]["status"] == "verified"
    texts = stack.wait_sms(body["guardian_phone"], "verification_outcome", count=2)
    assert "已验证通过" in texts[1]["text"]

    history = family.call("GET", "/api/v1/application/history")
    assert history.status_code == 200, history.text
    submissions = history.json()["submissions"]
    assert [(s["version"], s["current"]) for s in submissions] == [(2, True), (1, False)]
    assert submissions[0]["submitted_at"] >= submissions[1]["submitted_at"]
    assert [s["data"]["hukou_address"]["district"] for s in submissions] \
        == ["haidian", "chaoyang"]
    guardian = submissions[0]["data"]["guardians"][0]
    assert (guardian["name"], guardian["phone"]) == ("张*", "138****8000")
    assert guardian["document_number"] == FATHER_ID[:4] + "*" * 13 + FATHER_ID[-1]
    assert submissions[0]["data"]["household"]["head_name"] == "张**"
    assert submissions[0]["data"]["hukou_address"]["address"].endswith("****")
    text = history.text
    for raw in (FATHER_ID, "13800138000", "张伟", "金台里社区", "0012345"):
        assert raw not in text


# 4: withdrawn while being checked -----------------------------------------------------------

def checks_of(stack, account_no: str) -> dict[int, str]:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        return dict(conn.execute("SELECT version, status FROM verification.checks "
                                 "WHERE account_no = %s", (account_no,)).fetchall())


def test_a_submission_withdrawn_while_being_checked_gets_no_result(stack, tmp_path):
    family, body, account_no = registered(stack)
    registry_holds(stack, child_record(body))  # it would be verified
    application(family)
    details = beijing_details()
    stack.stop("verification")
    try:
        submitted = family.call("POST", "/api/v1/application/submissions",
                                json={"data": details})
        assert submitted.status_code == 201, submitted.text
        withdrawn = family.call("DELETE", "/api/v1/application/submissions/current")
        assert withdrawn.status_code == 200, withdrawn.text
        state = withdrawn.json()["state"]
        assert (state["details"], state["version"], state["verification"]) == ("draft", 1, None)
    finally:
        stack.start("verification")
        stack.wait_healthy()

    # verification reads both events and leaves version 1 without a result, or with one that
    # enrollment ignores
    deadline = time.monotonic() + 30
    while checks_of(stack, account_no).get(1) in (None, "pending"):
        assert time.monotonic() < deadline, checks_of(stack, account_no)
        time.sleep(0.3)
    view = application(family)
    assert (view["state"]["details"], view["state"]["verification"]) == ("draft", None)
    # a second submission's result follows any result of the first on the same queues
    assert family.call("POST", "/api/v1/application/submissions",
                       json={"data": details}).status_code == 201
    view = verification_settles(family, 2)
    assert view["state"]["verification"]["status"] == "verified"
    texts = stack.wait_sms(body["guardian_phone"], "verification_outcome")
    time.sleep(2)  # a late text for version 1 would have come by now
    assert len(outcome_texts(stack, body["guardian_phone"])) == 1 == len(texts)
    history = family.call("GET", "/api/v1/application/history").json()["submissions"]
    assert [(s["version"], s["current"]) for s in history] == [(2, True), (1, False)]


# 5: outside the collection window -----------------------------------------------------------

def test_outside_the_collection_window_nothing_can_be_saved_or_submitted(stack):
    today = datetime.now(BEIJING).date()
    if COLLECTION.start <= today <= COLLECTION.end:
        pytest.skip("the season's collection window is open today")
    family, _, _ = registered(stack)
    application(family)  # opened while every phase is open
    details = beijing_details()
    with stack.restarted_with("enrollment", SEASON_PHASES="dates"):
        view = application(family)
        assert view["actions"] == [] and view["collection_period"] == PERIOD
        for method, path, body in (("PUT", "/api/v1/application/draft", {"data": details}),
                                   ("POST", "/api/v1/application/submissions",
                                    {"data": details}),
                                   ("DELETE", "/api/v1/application/submissions/current", None)):
            response = family.call(method, path, json=body)
            assert error_of(response) == (409, "PHASE_CLOSED"), response.text
            error = response.json()
            assert f"入学信息采集时间为{PERIOD}" in error["message"]
            assert (error["start"], error["end"]) == ("2027-05-06", "2027-05-31")
        assert application(family)["state"]["details"] == "empty"
        steps = journey_steps(family)
        assert not steps["details"]["open"] and steps["details"]["period"] == PERIOD
    # open again with SEASON_PHASES=open
    saved = family.call("PUT", "/api/v1/application/draft", json={"data": details})
    assert saved.status_code == 200, saved.text


# 6: a cancellation leaves nothing behind ----------------------------------------------------

def rows_of(stack, account_no: str) -> dict[str, int]:
    """Every table of enrollment's and verification's schemas with an account_no column:
    how many rows it holds for the account."""
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.columns "
            "WHERE table_schema IN ('enrollment', 'verification') AND column_name = 'account_no' "
            "AND table_name IN (SELECT table_name FROM information_schema.tables t "
            "WHERE t.table_schema = columns.table_schema AND t.table_type = 'BASE TABLE') "
            "ORDER BY 1, 2").fetchall()
        return {f"{schema}.{table}": conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE account_no = %s").format(
                sql.Identifier(schema, table)), (account_no,)).fetchone()[0]
            for schema, table in tables}


def test_a_cancelled_account_leaves_no_application_and_no_check(stack, tmp_path):
    family, body, account_no = registered(stack)
    registry_holds(stack, child_record(body))
    application(family)
    assert family.call("POST", "/api/v1/application/submissions",
                       json={"data": beijing_details()}).status_code == 201
    assert verification_settles(family, 1)["state"]["verification"]["status"] == "verified"
    held = rows_of(stack, account_no)
    assert {"enrollment.applications", "enrollment.versions", "verification.checks"} <= held.keys()
    assert held["enrollment.applications"] == held["enrollment.versions"] == 1
    assert held["verification.checks"] == 1

    cancelled_by_family(stack, family, body["guardian_phone"])

    # What is kept is that the account was cancelled, so that a late event of it writes
    # nothing (common/cancelled.py): its number and when, nothing of the family; and the
    # audit of who read its data (the documents service rendering its form ahead), kept as
    # written, which holds the account number and the purpose, never the data.
    kept = {"enrollment.cancellations": 1, "verification.cancellations": 1}
    audit = "enrollment.district_access"
    deadline = time.monotonic() + 30
    while (left := rows_of(stack, account_no)) != {**dict.fromkeys(left, 0), **kept,
                                                    audit: left[audit]}:
        assert time.monotonic() < deadline, left
        time.sleep(0.3)
    with psycopg.connect(stack.database_url) as conn:
        assert {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'cancellations'")} == {"account_no", "cancelled_at"}
    assert error_of(family.call("GET", "/api/v1/application")) == (401, "NOT_AUTHENTICATED")


# 7: what is refused -------------------------------------------------------------------------

def test_bad_fields_are_refused_each_by_name(stack):
    family, _, _ = registered(stack)
    application(family)
    details = beijing_details()
    bad = copy.deepcopy(details)
    bad["guardians"][0]["phone"] = "12345"
    bad["guardians"][1]["document_number"] = "110105198601010000"  # wrong check character
    bad["residence"]["district"] = "shanghai"
    response = family.call("PUT", "/api/v1/application/draft", json={"data": bad})
    assert error_of(response) == (422, "VALIDATION_ERROR"), response.text
    fields = response.json()["fields"]
    assert set(fields) == {"guardians.0.phone", "guardians.1.document_number",
                           "residence.district"}
    assert fields["guardians.0.phone"] == "请输入11位手机号码。"

    missing = copy.deepcopy(details)
    del missing["household"]["head_name"]
    missing["guardians"] = []
    response = family.call("POST", "/api/v1/application/submissions", json={"data": missing})
    assert error_of(response) == (422, "VALIDATION_ERROR"), response.text
    assert response.json()["fields"] == {"household.head_name": "请填写户主姓名。",
                                         "guardians": "监护人信息至少填写1项，最多填写2项。"}
    unknown = family.call("PUT", "/api/v1/application/draft",
                          json={"data": {"pets": {"cat": "咪咪"}}})
    assert unknown.json()["fields"] == {"pets": "不支持该项。"}
    for body in ({}, {"data": details, "extra": 1}, {"data": "李小萌"}):
        response = family.call("PUT", "/api/v1/application/draft", json=body)
        assert error_of(response) == (422, "VALIDATION_ERROR"), (body, response.text)
    assert application(family)["state"]["details"] == "empty"  # nothing was kept


def test_the_registration_cannot_be_changed_through_the_details(stack):
    family, body, _ = registered(stack)
    application(family)
    # sent back as entered or as the application shows it, the registration is accepted
    entered = {**beijing_details(), "child_name": body["child_name"], "sex": body["sex"],
               "document_number": body["document_number"], "birth_date": body["birth_date"]}
    shown = {**beijing_details(), **application(family)["registration"]}
    del shown["account_no"], shown["district_name"]
    for same in (entered, shown):
        response = family.call("PUT", "/api/v1/application/draft", json={"data": same})
        assert response.status_code == 200, response.text
    kept = application(family)["data"]
    assert kept["hukou_address"] == beijing_details()["hukou_address"]
    assert not set(REGISTRATION_KEYS) & kept.keys()  # the registration is not stored twice
    # changed, it is refused
    for key, value in (("child_name", "李大萌"), ("birth_date", "2020-10-01"),
                       ("hukou_type", "non_beijing"), ("district", "chaoyang")):
        changed = {**beijing_details(), key: value}
        for method, path in (("PUT", "/api/v1/application/draft"),
                             ("POST", "/api/v1/application/submissions")):
            response = family.call(method, path, json={"data": changed})
            assert error_of(response) == (422, "VALIDATION_ERROR"), response.text
            assert response.json()["fields"] == {
                key: "注册时填写的基本信息不能修改。如有疑义，请咨询入学所在区教委。"}
    view = application(family)
    assert view["registration"]["child_name"] == "李**" and view["state"]["version"] == 0
    assert view["registration"]["hukou_type"] == "beijing"


def test_changes_need_the_csrf_token_a_same_origin_and_a_session(stack):
    family, _, _ = registered(stack)
    application(family)
    details = {"data": beijing_details()}
    changes = (("PUT", "/api/v1/application/draft", details),
               ("POST", "/api/v1/application/submissions", details),
               ("DELETE", "/api/v1/application/submissions/current", None))
    token, family.csrf = family.csrf, None
    for method, path, body in changes:
        response = family.call(method, path, json=body)
        assert error_of(response) == (403, "CSRF_FAILED"), (method, path, response.text)
        forged = family.call(method, path, json=body, headers={"X-CSRF-Token": "x" * 43})
        assert error_of(forged) == (403, "CSRF_FAILED"), (method, path, forged.text)
    family.csrf = token
    for method, path, body in changes:
        response = family.call(method, path, json=body,
                               headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, (method, path, response.text)
    assert application(family)["state"]["details"] == "empty"

    stranger = Family(stack)
    for method, path, body in changes + (("GET", "/api/v1/application", None),
                                         ("GET", "/api/v1/application/history", None)):
        response = stranger.call(method, path, json=body)
        assert error_of(response) == (401, "NOT_AUTHENTICATED"), (method, path, response.text)


# 8: each family its own ---------------------------------------------------------------------

def test_a_family_reads_and_changes_only_its_own_application(stack, tmp_path):
    family_a, body_a, account_a = registered(stack)
    family_b, body_b, account_b = registered(stack, child_name="王小乐")
    application(family_a)
    application(family_b)
    details_a = beijing_details()
    assert family_a.call("POST", "/api/v1/application/submissions",
                         json={"data": details_a}).status_code == 201

    view_b = application(family_b)
    assert view_b["registration"]["account_no"] == account_b
    assert view_b["registration"]["child_name"] == "王**"
    assert view_b["state"]["details"] == "empty" and view_b["data"] is None
    assert family_b.call("GET", "/api/v1/application/history").json() == {"submissions": []}
    # B's changes touch B's application, whatever B names in the body
    sneaked = family_b.call("PUT", "/api/v1/application/draft",
                            json={"data": {"household": details_a["household"]},
                                  "account_no": account_a})
    assert error_of(sneaked) == (422, "VALIDATION_ERROR"), sneaked.text
    assert error_of(family_b.call("DELETE", "/api/v1/application/submissions/current")) \
        == (409, "NOT_SUBMITTED")
    assert family_b.call("PUT", "/api/v1/application/draft",
                         json={"data": {"household": {"head_name": "王建"}}}).status_code == 200

    view_a = application(family_a)
    assert view_a["registration"]["account_no"] == account_a
    assert view_a["state"]["details"] == "submitted" and view_a["data"] == details_a \
        | {"guardians": [details_a["guardians"][0],
                         {**details_a["guardians"][1],
                          "document_number": details_a["guardians"][1]
                          ["document_number"].upper()}]}
    assert [s["version"] for s in family_a.call(
        "GET", "/api/v1/application/history").json()["submissions"]] == [1]
    assert application(family_b)["data"] == {"household": {"head_name": "王建"}}


def test_submissions_sent_at_once_make_one_version_and_one_check(stack, tmp_path):
    family, body, account_no = registered(stack)
    registry_holds(stack, child_record(body))
    application(family)
    tabs = []  # the same session in several browser tabs, each on its own connection
    for _ in range(4):
        tab = Family(stack, ip=family.ip)
        tab.http.cookies.update(family.http.cookies)
        tab.csrf = family.csrf
        tabs.append(tab)
    pool = eventlet.GreenPool()
    responses = list(pool.imap(lambda tab: tab.call(
        "POST", "/api/v1/application/submissions", json={"data": beijing_details()}), tabs))
    answers = sorted(error_of(r) if r.status_code != 201 else (201, "") for r in responses)
    assert answers == [(201, "")] + [(409, "ALREADY_SUBMITTED")] * 3, \
        [r.text for r in responses]
    assert verification_settles(family, 1)["state"]["version"] == 1
    history = family.call("GET", "/api/v1/application/history").json()["submissions"]
    assert [s["version"] for s in history] == [1]
    assert checks_of(stack, account_no) == {1: "done"}
