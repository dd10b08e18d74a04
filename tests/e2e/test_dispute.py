"""A dispute over a child's document number, settled on the running platform: family A
registered child X's document, the real guardian B cannot register it and is told to see the
district; the district, having checked the documents, moves the account to B's phone. A is
signed out and its password no longer works, each phone is texted once, and B sets a password
through 忘记密码 and finds the application 未填写."""

from __future__ import annotations

import time

import pytest

from services.enrollment.contract import DocumentDispute
from tests.e2e.test_details import application, registered
from tests.support.family import Family, unique_phone
from tests.support.infra import district_clients


@pytest.fixture
def haidian(stack):
    with district_clients(stack.env["AMQP_URI"], ("haidian",)) as clients:
        yield clients["haidian"]


def signed_out(family: Family, timeout: float = 15) -> bool:
    """Whether the family's session ends within `timeout` (accounts handles the event a
    moment after the district's call)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if family.call("GET", "/api/v1/account").status_code == 401:
            return True
        time.sleep(0.2)
    return False


def test_the_district_moves_a_disputed_document_to_the_real_guardian(stack, haidian):
    holder, body, account_no = registered(stack)  # A, in 海淀
    assert application(holder)["state"]["details"] == "empty"
    saved = holder.call("PUT", "/api/v1/application/draft",
                        json={"data": {"household": {"head_name": "王某"}}})
    assert saved.status_code == 200, saved.text

    guardian = Family(stack)  # B: the child's real guardian
    claimant_phone = unique_phone()
    taken = guardian.register(guardian_phone=claimant_phone,
                              document_number=body["document_number"])
    assert (taken.status_code, taken.json()["code"]) == (409, "ID_ALREADY_REGISTERED")
    assert "入学所在区教委" in taken.json()["message"]

    settled = haidian.district_move_document(DocumentDispute(
        account_no=account_no, claimant_phone=claimant_phone,
        reason="经核对户口簿及出生医学证明，申请人为儿童监护人", operator="hd0042"))
    assert settled.account_no == account_no
    assert settled.claimant_phone == f"{claimant_phone[:3]}****{claimant_phone[-4:]}"

    assert signed_out(holder)
    again = holder.login(account_no, body["password"])
    assert (again.status_code, again.json()["code"]) == (401, "INVALID_CREDENTIALS")

    former_phone = body["guardian_phone"]
    for phone in (former_phone, claimant_phone):
        stack.wait_sms(phone, "document_moved")
    time.sleep(1)  # nothing more comes
    [told_former] = [m for m in stack.sms_messages(former_phone)
                     if m["purpose"] == "document_moved"]
    [told_claimant] = [m for m in stack.sms_messages(claimant_phone)
                       if m["purpose"] == "document_moved"]
    assert account_no in told_former["text"] and "入学所在区教委" in told_former["text"]
    assert account_no in told_claimant["text"] and "忘记密码" in told_claimant["text"]
    assert body["child_name"] not in told_former["text"] + told_claimant["text"]

    assert guardian.request_code("reset_password", phone=claimant_phone,
                                 account_ref=account_no).status_code == 201
    code = stack.latest_code(claimant_phone, "reset_password")
    reset = guardian.call("POST", "/api/v1/password-resets", json={
        "account_ref": account_no, "phone": claimant_phone, "sms_code": code,
        "new_password": "Autumn2027b", "new_password_confirm": "Autumn2027b"})
    assert reset.status_code == 200, reset.text
    assert guardian.login(account_no, "Autumn2027b").status_code == 201
    assert guardian.call("GET", "/api/v1/account").json()["account_no"] == account_no
    view = application(guardian)
    assert (view["state"]["details"], view["state"]["details_label"], view["data"]) == (
        "empty", "未填写", None)
