"""Registration over HTTP against the running platform: every rule and its error."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import psycopg
import pytest

from common.crypto import LookupHasher
from common.keys import MasterKeys
from common.settings import DEV_KEYS
from services.accounts.rules.identity import check_character
from tests.support.family import Family, id_number, unique_phone


def error_of(response):
    return response.status_code, response.json()["code"]


def test_a_family_registers_and_gets_its_account_number_once_by_sms(stack):
    family = Family(stack)
    registration = family.registration()
    response = family.call("POST", "/api/v1/accounts", json=registration)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["account_no"].startswith("27") and len(body["account_no"]) == 8
    account = body["account"]
    assert account["document_number"] == registration["document_number"][:4] + "*" * 13 + \
        registration["document_number"][-1]
    assert "birth_date" not in account  # not beside the masked number
    assert account["guardian_phone"][3:7] == "****"
    assert account["child_name"] == "李**"
    assert account["stage"] == "details_pending"
    assert family.call("GET", "/api/v1/account").json() == account
    texts = stack.wait_sms(registration["guardian_phone"], "account_registered")
    time.sleep(1)  # a duplicate would show up by now
    texts = stack.wait_sms(registration["guardian_phone"], "account_registered")
    assert len(texts) == 1 and body["account_no"] in texts[0]["text"]


def test_lower_case_x_is_accepted(stack):
    numbers = (f"11010520200903{seq:03d}" for seq in range(0, 1000, 2))  # even: female
    number = next(n + "X" for n in numbers if check_character(n) == "X")
    response = Family(stack).register(document_number=number.lower(), sex="female",
                                      birth_date="2020-09-03")
    assert response.status_code == 201, response.text
    assert response.json()["account"]["document_number"].endswith("X")


@pytest.mark.parametrize("overrides, expected", [
    ({"document_number": "110108202009010010"}, (422, "INVALID_ID_NUMBER")),
    ({"birth_date": "2020-09-02", "document_number": id_number(date(2020, 9, 1), "female")},
     (422, "INVALID_ID_NUMBER")),
    ({"district": "xicheng"}, (422, "DISTRICT_MISMATCH")),
    ({"birth_date": "2021-09-01", "document_number": id_number(date(2021, 9, 1), "female")},
     (422, "AGE_OUT_OF_RANGE")),
    ({"birth_date": "2019-08-31", "document_number": id_number(date(2019, 8, 31), "female")},
     (422, "AGE_OUT_OF_RANGE")),
    ({"password": "short1A", "password_confirm": "short1A"}, (422, "WEAK_PASSWORD")),
    ({"password": "Abcdefghijklmnopqrs12", "password_confirm": "Abcdefghijklmnopqrs12"},
     (422, "WEAK_PASSWORD")),
    ({"password_confirm": "Spring2027b"}, (422, "PASSWORD_MISMATCH")),
    ({"privacy_consent": False}, (422, "CONSENT_REQUIRED")),
    ({"privacy_policy_version": "2020.1"}, (422, "CONSENT_REQUIRED")),
    ({"sms_code": "000000"}, (422, "SMS_CODE_INVALID")),
    ({"notice_token": "1700000000.0123456789abcdef0123456789abcdef"}, (422, "NOTICE_NOT_READ")),
    ({"document_type": "other"}, (422, "SPECIAL_CASE")),
    ({"hukou_type": "non_beijing"}, (422, "VALIDATION_ERROR")),
])
def test_each_rule_is_enforced_with_its_code(stack, overrides, expected):
    response = Family(stack).register(**overrides)
    assert error_of(response) == expected, response.text
    assert response.json()["message"]


def test_a_registration_before_the_notice_is_read_long_enough_is_refused(stack):
    family = Family(stack)
    body = family.registration()
    body["notice_token"] = family.read_notice()["notice_token"]  # fresh: read 0 s
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert error_of(response) == (422, "NOTICE_NOT_READ")


def test_one_document_number_one_account(stack):
    number = id_number(date(2020, 10, 1), "female")
    first = Family(stack).register(document_number=number, birth_date="2020-10-01")
    assert first.status_code == 201
    second = Family(stack).register(document_number=number, birth_date="2020-10-01")
    assert error_of(second) == (409, "ID_ALREADY_REGISTERED")


def test_one_phone_at_most_three_accounts(stack):
    phone = unique_phone()
    for _ in range(3):
        assert Family(stack).register(guardian_phone=phone).status_code == 201
        time.sleep(2)  # the SMS resend cooldown of this test platform
    assert error_of(Family(stack).register(guardian_phone=phone)) == (409, "PHONE_ACCOUNT_LIMIT")


def test_fifty_simultaneous_registrations_of_one_document_make_one_account(stack):
    number = id_number(date(2021, 1, 5), "female")
    families = [Family(stack) for _ in range(50)]
    with ThreadPoolExecutor(10) as pool:
        bodies = list(pool.map(lambda f: f.registration(document_number=number,
                                                         birth_date="2021-01-05"), families))
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(
            lambda pair: pair[0].call_in_turn("POST", "/api/v1/accounts", json=pair[1]),
            zip(families, bodies, strict=True)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == \
        {"ID_ALREADY_REGISTERED"}


def test_the_account_number_sms_survives_notify_being_down(stack):
    family = Family(stack)
    body = family.registration()  # the code is sent while notify is up
    stack.stop("notify")
    try:
        response = family.call("POST", "/api/v1/accounts", json=body)
        assert response.status_code == 201, response.text
        account_no = response.json()["account_no"]
        time.sleep(2)
        assert not [m for m in stack.sms_messages(body["guardian_phone"])
                    if m["purpose"] == "account_registered"]
    finally:
        stack.start("notify")
        stack.wait_healthy()
    texts = stack.wait_sms(body["guardian_phone"], "account_registered")
    time.sleep(3)  # a duplicate would arrive by now
    texts = [m for m in stack.sms_messages(body["guardian_phone"])
             if m["purpose"] == "account_registered"]
    assert len(texts) == 1 and account_no in texts[0]["text"]


def test_cancelled_families_leave_no_personal_data(stack):
    family = Family(stack)
    body = family.registration()
    account_no = family.call("POST", "/api/v1/accounts", json=body).json()["account_no"]
    family.csrf = None
    family.login(account_no, body["password"])
    time.sleep(2)
    family.request_code("cancel_account")
    code = stack.latest_code(body["guardian_phone"], "cancel_account")
    response = family.call("DELETE", "/api/v1/account", json={"sms_code": code})
    assert response.status_code == 200, response.text
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute("SELECT personal, document_hash, phone_hash, password_hash, status "
                           "FROM accounts.accounts WHERE account_no = %s", (account_no,)).fetchone()
    assert row == (None, None, None, None, "cancelled")
    # notify deletes the texts it sent to the family's phone (account_cancelled event)
    phone_hash = LookupHasher(MasterKeys.parse(DEV_KEYS["MASTER_KEYS"]).stable("notify/lookup"))(
        "phone", body["guardian_phone"])
    deadline = time.monotonic() + 15
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM notify.messages WHERE phone_hash = %s",
                           (phone_hash,)).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert conn.execute("SELECT count(*) FROM notify.messages WHERE phone_hash = %s",
                            (phone_hash,)).fetchone()[0] == 0
    # the number and the phone are free again
    time.sleep(2)  # the SMS resend cooldown of this test platform
    again = Family(stack).register(document_number=body["document_number"],
                                   guardian_phone=body["guardian_phone"])
    assert again.status_code == 201, again.text
