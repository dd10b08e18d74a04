"""A retry gets the answer, not a new error: a family whose request timed out and who sends it
again (the same code, and the same Idempotency-Key if it sent one) gets what the first request
did, never a session or a success it did not prove it may have."""

import time

import eventlet
import pytest
import requests

from tests.support.family import Family, id_number, unique_phone

REGISTER = "/api/v1/accounts"


def registered(stack, **headers):
    """A family registered once, with the request it sent."""
    family = Family(stack)
    body = family.registration()
    first = family.call("POST", REGISTER, json=body, headers=dict(headers))
    assert first.status_code == 201, first.text
    return family, body, first


def test_the_same_registration_sent_again_gets_the_account_it_created(stack):
    family, body, first = registered(stack)
    retry = Family(stack)  # the answer never came: the browser has no session cookie either
    again = retry.call("POST", REGISTER, json=body)
    assert again.status_code == 201, again.text
    assert again.json()["account_no"] == first.json()["account_no"]
    assert again.json()["account"] == first.json()["account"]
    retry.csrf = again.json()["csrf_token"]
    assert retry.call("GET", "/api/v1/account").json() == first.json()["account"]  # signed in
    assert again.cookies.values() != first.cookies.values()  # a session of its own
    time.sleep(1)
    assert len(stack.wait_sms(body["guardian_phone"], "account_registered")) == 1


def test_a_retry_with_the_same_idempotency_key_and_code_gets_the_account(stack):
    family, body, first = registered(stack, **{"Idempotency-Key": "form-7f3a"})
    later = {**body, "notice_token": family.read_notice()["notice_token"]}  # read again
    time.sleep(2.1)  # NOTICE_MIN_READ_S of this test platform
    again = Family(stack).call("POST", REGISTER, json=later,
                               headers={"Idempotency-Key": "form-7f3a"})
    assert again.status_code == 201, again.text
    assert again.json()["account_no"] == first.json()["account_no"]
    other_key = Family(stack).call("POST", REGISTER, json=body,
                                   headers={"Idempotency-Key": "form-other"})
    assert (other_key.status_code, other_key.json()["code"]) == (422, "SMS_CODE_INVALID")


def test_twins_sent_at_once_both_get_the_one_account(stack):
    """A retry that arrives while the first request is still being carried out (its answer lost
    in a broker restart, say) waits for it and gets its account, not a refused code."""
    family = Family(stack)
    body = family.registration()
    key = {"Idempotency-Key": "form-twins"}
    twins = [eventlet.spawn(Family(stack).call, "POST", REGISTER, json=body, headers=key)
             for _ in range(2)]
    answers = [twin.wait() for twin in twins]
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert len({a.json()["account_no"] for a in answers}) == 1


@pytest.mark.parametrize("change", ["document", "phone", "password"])
def test_a_replay_for_another_document_phone_or_password_is_refused(stack, change):
    family, body, _ = registered(stack)
    other = dict(body)
    if change == "document":
        other["document_number"] = id_number(sex="female")
    elif change == "phone":
        other["guardian_phone"] = unique_phone()
    else:
        other["password"] = other["password_confirm"] = "Other2027x"
    response = Family(stack).call("POST", REGISTER, json=other)
    assert (response.status_code, response.json()["code"]) == (422, "SMS_CODE_INVALID")
    # nothing was handed out: the identical retry still works, and only within the code's life
    assert Family(stack).call("POST", REGISTER, json=body).status_code == 201


def _signed_in_member(stack):
    family, body, first = registered(stack)
    family.csrf = first.json()["csrf_token"]
    time.sleep(2)  # the resend cooldown of this test platform
    return family, body, first.json()["account_no"]


def test_a_password_change_sent_again_answers_the_same_success(stack):
    family, body, account_no = _signed_in_member(stack)
    assert family.request_code("change_password").status_code == 201
    change = {"sms_code": stack.latest_code(body["guardian_phone"], "change_password"),
              "new_password": "Summer2027b", "new_password_confirm": "Summer2027b"}
    first = family.call("PUT", "/api/v1/account/password", json=change)
    assert first.status_code == 200, first.text
    again = family.call("PUT", "/api/v1/account/password", json=change)
    assert (again.status_code, again.json()) == (200, first.json())
    assert Family(stack).login(account_no, "Summer2027b").status_code == 201


def test_a_password_reset_sent_again_answers_the_same_success(stack):
    family, body, account_no = _signed_in_member(stack)
    assert family.request_code("reset_password", phone=body["guardian_phone"],
                               account_ref=account_no).status_code == 201
    reset = {"account_ref": account_no, "phone": body["guardian_phone"],
             "sms_code": stack.latest_code(body["guardian_phone"], "reset_password"),
             "new_password": "Winter2027d", "new_password_confirm": "Winter2027d"}
    key = {"Idempotency-Key": "reset-1"}
    first = family.call("POST", "/api/v1/password-resets", json=reset, headers=key)
    assert first.status_code == 200, first.text
    again = Family(stack).call("POST", "/api/v1/password-resets", json=reset, headers=key)
    assert (again.status_code, again.json()) == (200, first.json())
    other = {**reset, "new_password": "Autumn2027c", "new_password_confirm": "Autumn2027c"}
    refused = Family(stack).call("POST", "/api/v1/password-resets", json=other, headers=key)
    assert refused.json()["code"] == "SMS_CODE_INVALID"
    assert Family(stack).login(account_no, "Winter2027d").status_code == 201


def test_a_cancellation_sent_again_answers_ok(stack):
    family, body, account_no = _signed_in_member(stack)
    assert family.request_code("cancel_account").status_code == 201
    code = stack.latest_code(body["guardian_phone"], "cancel_account")
    cookies = family.http.cookies.copy()  # what a browser keeps when the answer is lost
    first = family.call("DELETE", "/api/v1/account", json={"sms_code": code})
    assert first.status_code == 200, first.text
    family.http.cookies.update(cookies)
    again = family.call("DELETE", "/api/v1/account", json={"sms_code": code})
    assert (again.status_code, again.json()) == (200, first.json())
    family.http.cookies.update(cookies)
    wrong = family.call("DELETE", "/api/v1/account",
                        json={"sms_code": f"{(int(code) + 1) % 10**6:06d}"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "NOT_AUTHENTICATED")
    assert Family(stack).login(account_no, body["password"]).json()["code"] == \
        "INVALID_CREDENTIALS"


def test_the_api_document_declares_the_idempotency_key_header(stack):
    document = requests.get(stack.url + "/api/v1/openapi.json", timeout=30).json()
    for method, path in [("post", REGISTER), ("post", "/api/v1/password-resets"),
                         ("put", "/api/v1/account/password"), ("delete", "/api/v1/account")]:
        operation = document["paths"][path][method]
        # and the waiting room's ticket: each of them is served through it (gateway.web)
        assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == \
            [("Idempotency-Key", "header", False), ("X-Queue-Ticket", "header", False)], path
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert "idempotency_key" not in body["properties"], path  # a header, not a field
