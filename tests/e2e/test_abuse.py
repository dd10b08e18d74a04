"""What an attacker tries first, over HTTP: oracles, floods, silencing, lockouts."""

import time
import uuid
from datetime import date

import psycopg

from tests.support.family import Family, id_number, unique_phone


def answer(response):
    return response.status_code, response.json()["code"]


def audit_entries(stack, request_id):
    with psycopg.connect(stack.database_url) as conn:
        return [row[0] for row in conn.execute(
            "SELECT entry FROM accounts.audit_log WHERE entry->>'request_id' = %s ORDER BY id",
            (request_id,))]


def test_a_guessed_code_learns_nothing_about_registered_documents_or_phones(stack):
    number = id_number(date(2020, 11, 2), "female")
    phone = unique_phone()
    owner = Family(stack)
    assert owner.register(document_number=number, birth_date="2020-11-02",
                          guardian_phone=phone).status_code == 201
    guess = Family(stack).register(document_number=number, birth_date="2020-11-02",
                                   sms_code="000000")
    assert answer(guess) == (422, "SMS_CODE_INVALID")
    for _ in range(2):  # the phone at its three accounts
        time.sleep(2)  # the SMS resend cooldown of this test platform
        assert Family(stack).register(guardian_phone=phone).status_code == 201
    full = Family(stack).register(guardian_phone=phone, sms_code="000000")
    assert answer(full) == (422, "SMS_CODE_INVALID")
    time.sleep(2)
    assert answer(Family(stack).register(guardian_phone=phone)) == (409, "PHONE_ACCOUNT_LIMIT")


def test_one_code_cannot_probe_many_document_numbers(stack):
    """Whoever holds a code for their own phone learns whether a number is taken, but each
    refusal costs the code a try: five, and it is dead."""
    number = id_number(date(2020, 11, 3), "female")
    assert Family(stack).register(document_number=number,
                                  birth_date="2020-11-03").status_code == 201
    prober = Family(stack)
    body = prober.registration(document_number=number, birth_date="2020-11-03")
    for _ in range(5):
        probe = prober.call("POST", "/api/v1/accounts", json=body)
        assert answer(probe) == (409, "ID_ALREADY_REGISTERED")
    fresh = {**body, "document_number": id_number(date(2020, 11, 3), "female")}
    assert answer(prober.call("POST", "/api/v1/accounts", json=fresh)) == \
        (422, "SMS_CODE_INVALID")


def test_a_code_requested_while_notify_is_down_is_texted_once_it_is_back(stack):
    family = Family(stack)
    phone = unique_phone()
    stack.stop("notify")
    try:
        started = time.monotonic()
        response = family.call("POST", "/api/v1/sms-codes", json={
            "purpose": "register", "phone": phone, **family.captcha()})
        assert response.status_code == 201, response.text  # the text waits in the outbox
        assert time.monotonic() - started < 5
    finally:
        stack.start("notify")
        stack.wait_healthy()
    assert family.register(guardian_phone=phone, sms_code=stack.latest_code(
        phone, "register")).status_code == 201


def test_refusals_are_audited_with_the_address_and_the_request_id(stack):
    family = Family(stack)
    request_id = f"audit-{uuid.uuid4().hex}"
    family.http.headers["X-Request-Id"] = request_id
    assert answer(family.register(sms_code="000000")) == (422, "SMS_CODE_INVALID")
    bad = family.call("POST", "/api/v1/sms-codes", json={
        "purpose": "register", "phone": unique_phone(), **family.captcha(),
        "captcha_answer": "9999"})
    assert answer(bad) == (422, "CAPTCHA_INVALID")
    reset = family.call("POST", "/api/v1/password-resets", json={
        "account_ref": "27999999", "phone": unique_phone(), "sms_code": "000000",
        "new_password": "Winter2027d", "new_password_confirm": "Winter2027d"})
    assert answer(reset) == (422, "SMS_CODE_INVALID")
    entries = audit_entries(stack, request_id)
    assert [e["action"] for e in entries] == ["sms_code_refused", "captcha_failed",
                                              "sms_code_refused"]
    assert all(e["client_ip"] for e in entries)
    assert [e["purpose"] for e in entries if "purpose" in e] == ["register", "reset_password"]


def test_the_registration_audit_entry_keeps_no_document_fragment(stack):
    family = Family(stack)
    request_id = f"audit-{uuid.uuid4().hex}"
    family.http.headers["X-Request-Id"] = request_id
    assert family.register().status_code == 201
    (registered,) = [e for e in audit_entries(stack, request_id) if e["action"] == "registered"]
    assert "document" not in registered and registered["client_ip"]


def test_withheld_reset_codes_never_silence_the_victims_phone(strict_stack):
    """Codes for no matching account count against the address and the reference: two
    strangers asking for the victim's phone leave its daily cap (2) untouched."""
    victim = unique_phone()
    for ref in ("27999998", "27999997"):
        stranger = Family(strict_stack)
        assert stranger.request_code("reset_password", phone=victim,
                                     account_ref=ref).status_code == 201
    assert Family(strict_stack).request_code("register", phone=victim).status_code == 201
    assert strict_stack.latest_code(victim, "register")
    # the reference's own cap (2 a day), whatever phone comes with it
    answers = [Family(strict_stack).request_code("reset_password", phone=unique_phone(),
                                                 account_ref="27999996") for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[-1].json()["code"] == "SMS_DAILY_LIMIT"


def test_registration_attempts_are_throttled_per_phone_and_per_address(strict_stack):
    family = Family(strict_stack)
    phone = unique_phone()
    for _ in range(3):
        assert answer(family.register(guardian_phone=phone, sms_code="000000")) == \
            (422, "SMS_CODE_INVALID")
    limited = family.register(guardian_phone=phone, sms_code="000000")
    assert answer(limited) == (429, "RATE_LIMITED") and limited.json()["retry_after_s"] > 0
    assert answer(family.register(sms_code="000000")) == (422, "SMS_CODE_INVALID")  # 5th
    assert answer(family.register(sms_code="000000")) == (429, "RATE_LIMITED")  # the address


def test_failed_sign_ins_are_throttled_per_address_across_accounts(strict_stack):
    family = Family(strict_stack)
    for account_no in ("27000011", "27000012", "27000013"):
        assert answer(family.login(account_no, "Wrong2027a")) == (401, "INVALID_CREDENTIALS")
    limited = family.login("27000014", "Wrong2027a")
    assert answer(limited) == (429, "RATE_LIMITED")
    assert limited.headers["Retry-After"] == str(limited.json()["retry_after_s"])


def test_captchas_are_throttled_per_address(strict_stack):
    family = Family(strict_stack)
    statuses = [family.call("POST", "/api/v1/captchas").status_code for _ in range(10)]
    assert statuses.count(201) <= 8 and statuses[-1] == 429
    assert Family(strict_stack).call("POST", "/api/v1/captchas").status_code == 201
