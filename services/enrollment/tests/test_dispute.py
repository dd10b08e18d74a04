"""A dispute over a child's document settled by the district: the application goes back to
未填写 for the real guardian, with the registration kept and the guardian's phone; over both
stores, in memory and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.tests.samples import details_for, registration
from services.enrollment.usecases import details, district, verification_results

ACCOUNT = "27000001"
FORMER, CLAIMANT = "13800138000", "13900139000"
CHAOYANG_STAFF = district.Operator("chaoyang", "cy0042")
HAIDIAN_STAFF = district.Operator("haidian", "hd0001")
REASON = "经核对户口簿，监护人为申请人"


# `store` and `context`: conftest.py's, over both stores.


def submitted(context, verified=True):
    """The former holder's application: registered, submitted (version 1) and, if
    `verified`, checked."""
    details.open_application(context, registration("non_beijing", account_no=ACCOUNT,
                                                   guardian_phone=FORMER))
    data = details_for("non_beijing")
    data["dwelling"]["district"] = "chaoyang"
    details.submit(context, ACCOUNT, data)
    if verified:
        verification_results.apply_result(context, ACCOUNT, 1, True)


def events(store, event_type) -> list[dict]:
    return [body for kind, body in store.outbox if kind == event_type]


def test_handed_over_keeps_only_the_hukou_type_and_the_version_count():
    state = status.ApplicationState("non_beijing", status.SUBMITTED, 3,
                                    status.Verification(3, status.VERIFIED),
                                    status.Review(3, status.APPROVED))
    assert status.handed_over(state) == status.ApplicationState("non_beijing", version=3)


def test_the_district_moves_the_account_and_what_the_former_holder_entered_goes(
        context, store):
    submitted(context)
    before = details.get_details(context, ACCOUNT)
    moved = district.move_document(context, CHAOYANG_STAFF, ACCOUNT, CLAIMANT, REASON)
    assert moved.registration == replace(before.registration, guardian_phone=CLAIMANT)
    view = details.get_details(context, ACCOUNT)
    assert (view.state.details, view.state.verification, view.state.review, view.data) == (
        status.EMPTY, None, None, None)
    assert view.registration.guardian_phone == CLAIMANT
    assert details.history(context, ACCOUNT) == []
    [event] = events(store, contract.DOCUMENT_MOVED)
    assert contract.DocumentMoved.parse(event).model_dump(exclude={"event_id"}) == {
        "account_no": ACCOUNT, "district": "chaoyang", "former_phone": FORMER,
        "claimant_phone": CLAIMANT}
    assert events(store, contract.DETAILS_WITHDRAWN) == []  # the check was over
    [access] = district.accesses(context, ACCOUNT)[:1]
    assert (access.method, access.purpose, access.outcome) == (
        "district_move_document", REASON, "ok")


def test_a_pending_check_is_withdrawn_and_the_next_submission_is_a_new_version(
        context, store):
    submitted(context, verified=False)
    district.move_document(context, CHAOYANG_STAFF, ACCOUNT, CLAIMANT, REASON)
    [withdrawn] = events(store, contract.DETAILS_WITHDRAWN)
    assert (withdrawn["account_no"], withdrawn["version"]) == (ACCOUNT, 1)
    data = details_for("non_beijing")
    data["dwelling"]["district"] = "chaoyang"
    assert details.submit(context, ACCOUNT, data).state.version == 2
    [entry] = details.history(context, ACCOUNT)
    assert entry.version.number == 2
    assert not verification_results.apply_result(context, ACCOUNT, 1, True)  # the former's


def test_another_districts_call_is_refused_audited_and_changes_nothing(context, store):
    submitted(context)
    with pytest.raises(DomainError) as refused:
        district.move_document(context, HAIDIAN_STAFF, ACCOUNT, CLAIMANT, REASON)
    assert refused.value.code == "NOT_YOUR_DISTRICT"
    view = details.get_details(context, ACCOUNT)
    assert view.state.details == status.SUBMITTED and view.registration.guardian_phone == FORMER
    assert events(store, contract.DOCUMENT_MOVED) == []
    with store.transaction() as tx:
        [access] = tx.accesses(ACCOUNT)
    assert (access.district, access.method, access.outcome) == (
        "haidian", "district_move_document", "refused")


def test_the_holders_own_phone_is_refused_as_a_slip(context, store):
    submitted(context)
    with pytest.raises(DomainError) as refused:
        district.move_document(context, CHAOYANG_STAFF, ACCOUNT, FORMER, REASON)
    assert refused.value.fields == {"claimant_phone": "该手机号码已是此账号的监护人手机号码。"}
    assert details.get_details(context, ACCOUNT).state.details == status.SUBMITTED
    assert events(store, contract.DOCUMENT_MOVED) == []
