"""The use cases over both stores, in memory and PostgreSQL (the same behaviour): what is
written, versions, events, concurrency."""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import replace
from datetime import date

import pytest

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.tests.samples import (
    CHILD_ID,
    FATHER_ID,
    SEASON,
    Clock,
    at,
    details_for,
    registration,
)
from services.enrollment.usecases import details, district, review, verification_results
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.journey import journey
from services.enrollment.usecases.memory_store import MemoryStore
from services.enrollment.usecases.store import Listing, StaleRevision

ACCOUNT = "27000001"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["memory", "postgres"])
def store(request):
    if request.param == "memory":
        return MemoryStore()
    return request.getfixturevalue("pg_store")


@pytest.fixture
def context(store, clock):
    return Context(store, SEASON, clock)


def opened(context, hukou_type="beijing"):
    details.open_application(context, registration(hukou_type, account_no=ACCOUNT))
    return context


def refused(code, use_case, *args) -> DomainError:
    with pytest.raises(DomainError) as caught:
        use_case(*args)
    assert caught.value.code == code
    return caught.value


def events(store, event_type=None) -> list[dict]:
    return [body for kind, body in store.outbox if event_type in (None, kind)]


# Opening and reading -----------------------------------------------------------------------

def test_a_registration_handled_after_its_cancellation_opens_nothing(context, store):
    assert store.forget_family(str(uuid.uuid4()), "account_cancelled", ACCOUNT)
    assert details.open_application(context, registration(account_no=ACCOUNT)) is None
    with pytest.raises(DomainError) as refused:
        details.get_details(context, ACCOUNT)
    assert refused.value.code == "APPLICATION_NOT_FOUND"


@pytest.mark.parametrize("hukou_type", ["beijing", "non_beijing"])
def test_before_the_application_is_opened_its_journey_is_that_of_one_not_started(
        context, hukou_type):
    before = journey(context, ACCOUNT, hukou_type)
    opened(context, hukou_type)
    assert before == journey(context, ACCOUNT, hukou_type)
    assert [step.key for step in before.steps][-3:] == ["print_form", "preregistration",
                                                        "results"]


def test_opening_an_application_twice_returns_the_first(context, clock):
    first = details.open_application(context, registration())
    clock.now = at(2027, 5, 11)
    assert details.open_application(context, registration()) == first
    assert first.state == status.ApplicationState("beijing") and first.revision == 0


def test_an_unknown_account_has_no_application(context):
    for use_case in (details.get_details, details.history, details.withdraw):
        refused("APPLICATION_NOT_FOUND", use_case, context, "27999999")
    assert refused("APPLICATION_NOT_FOUND", details.save_draft, context, "27999999",
                   {}).http_status == 404


def test_the_page_shows_the_registration_the_form_and_the_buttons(context):
    view = details.get_details(opened(context), ACCOUNT)
    assert view.registration.document_number == CHILD_ID
    assert view.form.title == "录入详细信息" and view.data is None
    assert view.actions == {"save_draft", "submit"}
    assert view.collection_period == "2027年5月6日至5月31日"


# Drafts -----------------------------------------------------------------------------------

def test_a_draft_is_saved_leniently_and_read_back(context, store):
    draft = {"household": {"head_name": " 张建国 "}}
    saved = details.save_draft(opened(context), ACCOUNT, draft)
    assert saved.state.details == status.DRAFT and saved.revision == 1
    view = details.get_details(context, ACCOUNT)
    assert view.data == {"household": {"head_name": "张建国"}}
    assert store.outbox == []  # a draft tells nobody


def test_a_bad_draft_writes_nothing(context):
    opened(context)
    error = refused("VALIDATION_ERROR", details.save_draft, context, ACCOUNT,
                    {"housing": {"kind": "hotel"}, "child_name": "李四"})
    assert set(error.fields) == {"housing.kind", "child_name"}
    assert details.get_details(context, ACCOUNT).state.details == status.EMPTY


# Submitting, withdrawing, history ---------------------------------------------------------

def test_submitting_keeps_version_one_and_asks_for_verification(context, store, clock):
    opened(context)
    saved = details.submit(context, ACCOUNT, details_for("beijing"))
    assert saved.state.details == status.SUBMITTED and saved.state.version == 1
    [entry] = details.history(context, ACCOUNT)
    assert entry.current and entry.version.number == 1
    assert entry.version.submitted_at == clock.now and entry.version.data == saved.data
    [event] = events(store)
    assert store.outbox[0][0] == contract.DETAILS_SUBMITTED
    parsed = contract.DetailsSubmitted.parse(event)
    assert (parsed.account_no, parsed.version, parsed.district) == (ACCOUNT, 1, "chaoyang")
    assert parsed.child.document_number == CHILD_ID and parsed.child.birth_date == "2020-09-01"
    assert parsed.household.hukou_district == "chaoyang" and parsed.household.hukou_region is None
    assert parsed.guardians[0].document_number == FATHER_ID
    assert "phone" not in event["guardians"][0]  # verification needs no phone
    assert (parsed.residence_district, parsed.residence_permits) == ("chaoyang", [])
    assert parsed.reference_date == "2027-05-06"  # the season's permit_valid_on


def test_a_non_beijing_submission_carries_the_hukou_region(context, store):
    details.submit(opened(context, "non_beijing"), ACCOUNT, details_for("non_beijing"))
    parsed = contract.DetailsSubmitted.parse(events(store)[0])
    assert parsed.hukou_type == "non_beijing" and parsed.household.hukou_region == "130102"
    assert parsed.household.hukou_address is None
    [permit] = parsed.residence_permits
    assert permit == contract.ResidencePermit(
        holder_name="张伟", holder_document_number=FATHER_ID, permit_number="110105198501010010",
        valid_until="2028-03-01", issuing_district="chaoyang")
    assert parsed.reference_date == "2027-05-06"


def test_a_permit_held_by_no_guardian_entered_is_refused(context, store):
    opened(context, "non_beijing")
    data = details_for("non_beijing")
    data["permit"]["holder"] = "other_guardian"
    error = refused("VALIDATION_ERROR", details.submit, context, ACCOUNT, data)
    assert set(error.fields) == {"permit.holder"} and store.outbox == []
    details.save_draft(context, ACCOUNT, data)  # a draft may still say so


def test_an_incomplete_submission_writes_nothing(context, store):
    opened(context)
    details.save_draft(context, ACCOUNT, {"household": {"head_name": "张建国"}})
    error = refused("VALIDATION_ERROR", details.submit, context, ACCOUNT,
                    {"household": {"head_name": "张建国"}})
    assert "guardians" in error.fields and "housing.kind" in error.fields
    assert details.get_details(context, ACCOUNT).state.details == status.DRAFT
    assert details.history(context, ACCOUNT) == [] and store.outbox == []


def test_withdrawing_turns_the_submission_into_the_draft_and_says_so(context, store):
    opened(context)
    submitted = details.submit(context, ACCOUNT, details_for("beijing"))
    withdrawn = details.withdraw(context, ACCOUNT)
    assert withdrawn.state.details == status.DRAFT and withdrawn.data == submitted.data
    assert withdrawn.state.verification is None
    body = events(store, contract.DETAILS_WITHDRAWN)[0]
    assert contract.DetailsWithdrawn.parse(body).version == 1
    [entry] = details.history(context, ACCOUNT)
    assert not entry.current  # withdrawn, kept


def test_every_submission_is_a_version_and_earlier_ones_are_kept(context, clock):
    opened(context)
    first = details_for("beijing")
    details.submit(context, ACCOUNT, first)
    details.withdraw(context, ACCOUNT)
    second = details_for("beijing")
    second["residence"]["address"] = "朝阳区团结湖路7号院1号楼2单元502"
    clock.now = at(2027, 5, 12)
    details.submit(context, ACCOUNT, second)
    newest, oldest = details.history(context, ACCOUNT)
    assert (newest.version.number, newest.current) == (2, True)
    assert (oldest.version.number, oldest.current) == (1, False)
    assert newest.version.data["residence"]["address"].startswith("朝阳区团结湖路7号院")
    assert oldest.version.data["residence"]["address"].startswith("朝阳区团结湖路5号院")
    assert newest.version.submitted_at == at(2027, 5, 12)


def test_outside_the_window_the_family_is_told_the_dates_and_nothing_changes(context, clock,
                                                                            store):
    opened(context)
    details.submit(context, ACCOUNT, details_for("beijing"))
    clock.now = at(2027, 6, 1)
    for use_case, args in ((details.withdraw, ()), (details.save_draft, ({},)),
                           (details.submit, (details_for("beijing"),))):
        error = refused("PHASE_CLOSED", use_case, context, ACCOUNT, *args)
        assert "2027年5月6日至5月31日" in error.message
    assert details.get_details(context, ACCOUNT).actions == frozenset()
    assert len(store.outbox) == 1


def test_the_window_is_checked_before_the_details(context, clock):
    opened(context)
    clock.now = at(2027, 5, 1)
    refused("PHASE_CLOSED", details.save_draft, context, ACCOUNT, {"housing": {"kind": "x"}})


# Verification results ---------------------------------------------------------------------

def test_a_result_for_the_current_version_is_applied_once(context):
    opened(context)
    details.submit(context, ACCOUNT, details_for("beijing"))
    assert verification_results.apply_result(context, ACCOUNT, 1, True)
    assert not verification_results.apply_result(context, ACCOUNT, 1, True)  # a repeat
    state = details.get_details(context, ACCOUNT).state
    assert state.verification == status.Verification(1, status.VERIFIED)


def test_a_withdrawal_cancels_the_pending_check_and_an_older_result_is_ignored(context):
    opened(context)
    details.submit(context, ACCOUNT, details_for("beijing"))
    details.withdraw(context, ACCOUNT)
    assert not verification_results.apply_result(context, ACCOUNT, 1, True)
    details.submit(context, ACCOUNT, details_for("beijing"))
    assert not verification_results.apply_result(context, ACCOUNT, 1, False, "hukou", "不符")
    state = details.get_details(context, ACCOUNT).state
    assert state.verification == status.Verification(2, status.PENDING)
    assert verification_results.apply_result(context, ACCOUNT, 2, False, "hukou", "不符")
    assert details.get_details(context, ACCOUNT).state.verification.status == status.FAILED


def test_an_applied_result_records_the_outcome_for_the_guardian_and_an_ignored_one_nothing(
        context, store):
    details.open_application(context, registration(account_no=ACCOUNT,
                                                   guardian_phone="13800138000"))
    details.submit(context, ACCOUNT, details_for("beijing"))
    details.withdraw(context, ACCOUNT)
    details.submit(context, ACCOUNT, details_for("beijing"))
    assert not verification_results.apply_result(context, ACCOUNT, 1, True)
    assert events(store, contract.VERIFICATION_OUTCOME) == []
    assert verification_results.apply_result(context, ACCOUNT, 2, False, "hukou", "不符")
    [outcome] = events(store, contract.VERIFICATION_OUTCOME)
    assert contract.VerificationOutcome.parse(outcome).model_dump(exclude={"event_id"}) == {
        "account_no": ACCOUNT, "version": 2, "status": "failed",
        "guardian_phone": "13800138000"}
    assert not verification_results.apply_result(context, ACCOUNT, 2, False, "hukou", "不符")
    assert len(events(store, contract.VERIFICATION_OUTCOME)) == 1


def test_an_application_opened_without_a_phone_gets_its_result_but_no_text(context, store):
    opened(context)  # opened before the guardian's phone was kept
    details.submit(context, ACCOUNT, details_for("beijing"))
    assert verification_results.apply_result(context, ACCOUNT, 1, True)
    assert events(store, contract.VERIFICATION_OUTCOME) == []


def test_a_result_for_a_cancelled_account_is_ignored(context):
    assert not verification_results.apply_result(context, "27999999", 1, True)


def test_a_malformed_result_is_refused(context):
    opened(context)
    details.submit(context, ACCOUNT, details_for("beijing"))
    refused("VALIDATION_ERROR", verification_results.apply_result, context, ACCOUNT, 1, False)


# The district's review and the navigation page ---------------------------------------------

def test_a_non_beijing_application_from_submission_to_the_printable_form(context):
    opened(context, "non_beijing")
    details.submit(context, ACCOUNT, details_for("non_beijing"))
    assert "正在进行身份证及户籍信息核验" in journey(context, ACCOUNT, "non_beijing").next_step
    verification_results.apply_result(context, ACCOUNT, 1, True)
    started = review.start_review(context, ACCOUNT, 1)
    assert review.start_review(context, ACCOUNT, 1) == started  # nothing written again
    refused("UNDER_REVIEW", details.withdraw, context, ACCOUNT)
    review.record_result(context, ACCOUNT, 1, "permit", False, "居住证已过期")
    for item in SEASON.review_items:
        if item != "permit":
            review.record_result(context, ACCOUNT, 1, item, True)
    assert "北京市居住证：居住证已过期" in journey(context, ACCOUNT, "non_beijing").next_step
    details.withdraw(context, ACCOUNT)
    details.submit(context, ACCOUNT, details_for("non_beijing"))
    verification_results.apply_result(context, ACCOUNT, 2, True)
    review.start_review(context, ACCOUNT, 2)
    refused("VERSION_MISMATCH", review.record_result, context, ACCOUNT, 1, "permit", True)
    for item in SEASON.review_items:
        review.record_result(context, ACCOUNT, 2, item, True)
    assert journey(context, ACCOUNT, "non_beijing").next_step.startswith("请点击“打印信息采集表”")
    assert [entry.version.number for entry in details.history(context, ACCOUNT)] == [2, 1]


# Optimistic concurrency --------------------------------------------------------------------

def test_a_stale_save_is_refused_and_a_failed_transaction_writes_nothing(context, store):
    application = details.open_application(opened(context), registration())
    with store.transaction() as tx:
        tx.save(application)
    with pytest.raises(StaleRevision), store.transaction() as tx:
        tx.save(application)  # revision 0, but 1 is stored
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.save(replace(tx.load(ACCOUNT), data={"household": {}}))
        tx.record_event(contract.DETAILS_WITHDRAWN, {"account_no": ACCOUNT, "version": 1})
        raise RuntimeError("the database went away")
    with store.transaction() as tx:
        assert tx.load(ACCOUNT).revision == 1 and tx.load(ACCOUNT).data is None
    assert store.outbox == []


def test_of_two_interleaved_transactions_the_later_commit_fails(clock):
    """In memory the earlier save fails at commit; in PostgreSQL the later save waits for the
    earlier transaction's row lock, then fails (tests/test_storage.py)."""
    store = MemoryStore()
    opened(Context(store, SEASON, clock))
    with pytest.raises(StaleRevision):
        with store.transaction() as first:
            application = first.load(ACCOUNT)
            first.save(application)
            with store.transaction() as second:
                second.save(second.load(ACCOUNT))
    with store.transaction() as tx:
        assert tx.load(ACCOUNT).revision == 1  # the second one's


def test_inserting_an_existing_application_is_a_stale_revision(context, store):
    application = details.open_application(context, registration())
    with pytest.raises(StaleRevision), store.transaction() as tx:
        tx.insert(application)


def test_a_recorded_event_must_fit_the_contract(store):
    with pytest.raises(DomainError), store.transaction() as tx:
        tx.record_event(contract.DETAILS_WITHDRAWN, {"account_no": ACCOUNT, "version": 0})


class Contended(MemoryStore):
    """Another request changes the application right after each of the next `times` loads
    (as a verification result arriving while the family withdraws)."""
    times = 0

    @contextmanager
    def transaction(self):
        with MemoryStore.transaction(self) as tx:
            load = tx.load

            def racing_load(account_no):
                found = load(account_no)
                if self.times > 0 and found is not None:
                    self.times -= 1
                    with MemoryStore.transaction(self) as other:
                        other.save(other.load(account_no))
                return found
            tx.load = racing_load
            yield tx


def test_a_concurrent_change_is_retried_on_the_fresh_state(clock):
    store = Contended()
    context = opened(Context(store, SEASON, clock))
    details.submit(context, ACCOUNT, details_for("beijing"))
    store.times = 2
    withdrawn = details.withdraw(context, ACCOUNT)
    assert withdrawn.state.details == status.DRAFT and store.times == 0
    assert len(events(store, contract.DETAILS_WITHDRAWN)) == 1  # the failed tries left none


def test_endless_contention_gives_up_with_a_retry_later(clock):
    store = Contended()
    context = opened(Context(store, SEASON, clock))
    store.times = 100
    error = refused("CONCURRENT_UPDATE", details.save_draft, context, ACCOUNT, {})
    assert error.http_status == 409


# District systems --------------------------------------------------------------------------

CHAOYANG_STAFF = district.Operator("chaoyang", "cy0042")
HAIDIAN_STAFF = district.Operator("haidian", "hd0001")


def verified_family(context, account_no, district_code="chaoyang", hukou_type="non_beijing"):
    details.open_application(context, registration(hukou_type, district_code, account_no,
                                                   guardian_phone="13800138000"))
    data = details_for(hukou_type)
    if hukou_type == "non_beijing":
        data["dwelling"]["district"] = district_code
    details.submit(context, account_no, data)
    verification_results.apply_result(context, account_no, 1, True)


def test_a_district_lists_its_own_applications_filtered_and_paged(context, clock):
    for n in range(5):
        verified_family(context, f"2700010{n}")
    verified_family(context, "27000110", hukou_type="beijing")
    verified_family(context, "27000120", "haidian")
    details.open_application(context, registration(account_no="27000130"))
    listing = Listing(verification="verified", review="not_started",
                      submitted_from=clock.now.date(), submitted_to=clock.now.date())
    seen, after = [], None
    while True:
        page = district.list_applications(context, CHAOYANG_STAFF, listing, after, 2, None)
        seen += [listed.application.account_no for listed in page.rows]
        if (after := page.last) is None:
            break
    assert seen == [f"2700010{n}" for n in range(5)]
    everyone = district.list_applications(context, CHAOYANG_STAFF, Listing(), None, 500, None)
    assert [listed.application.account_no for listed in everyone.rows] == [
        *seen, "27000110", "27000130"]
    assert district.list_applications(context, CHAOYANG_STAFF, Listing(
        submitted_to=date(2027, 5, 1)), None, 500, None).rows == []


def test_another_districts_family_is_refused_audited_and_not_shown_to_the_family(context):
    verified_family(context, ACCOUNT)
    refused("NOT_YOUR_DISTRICT", district.show_application, context, HAIDIAN_STAFF, ACCOUNT,
            "核对")
    assert district.accesses(context, ACCOUNT) == []
    shown = district.show_application(context, CHAOYANG_STAFF, ACCOUNT, "核对居住证")
    assert shown.registration.document_number == CHILD_ID
    [access] = district.accesses(context, ACCOUNT)
    assert (access.district, access.purpose, access.method, access.outcome) == (
        "chaoyang", "核对居住证", "district_show_application", "ok")
    refused("NOT_YOUR_DISTRICT", district.review_item, context, HAIDIAN_STAFF, ACCOUNT, 1,
            "permit", True, None, "公安")
    assert details.get_details(context, ACCOUNT).state.review is None  # nothing changed


def test_an_account_without_an_application_is_refused_as_another_districts(context, store):
    """Else a district could tell the account numbers that exist elsewhere from those that
    exist nowhere."""
    for account_no in ("27999999", ACCOUNT):
        if account_no == ACCOUNT:
            verified_family(context, ACCOUNT)
        refused("NOT_YOUR_DISTRICT", district.show_application, context, HAIDIAN_STAFF,
                account_no, "核对")
        refused("NOT_YOUR_DISTRICT", district.review_item, context, HAIDIAN_STAFF, account_no,
                1, "permit", True, None, "公安")
    with store.transaction() as tx:
        refusals = [access for access in tx.accesses("27999999") if access.outcome == "refused"]
    assert [access.method for access in refusals] == [
        "district_review_item", "district_show_application"]


def test_items_decided_by_their_agencies_approve_the_review_with_one_outcome(context, store):
    verified_family(context, ACCOUNT)
    refused("WRONG_AGENCY", district.review_item, context, CHAOYANG_STAFF, ACCOUNT, 1,
            "dwelling", True, None, "街道")
    agencies = {"employment": "人力社保", "dwelling": "住建", "permit": "公安"}
    for item in SEASON.review_items:
        assert events(store, contract.REVIEW_OUTCOME) == []
        decided = district.review_item(context, CHAOYANG_STAFF, ACCOUNT, 1, item, True, None,
                                       agencies.get(item, "街道"))
    assert decided.state.review.status == status.APPROVED
    [outcome] = events(store, contract.REVIEW_OUTCOME)
    assert contract.ReviewOutcome.parse(outcome).model_dump(exclude={"event_id"}) == {
        "account_no": ACCOUNT, "version": 1, "status": "approved",
        "guardian_phone": "13800138000"}
    refused("REVIEW_FINISHED", district.review_item, context, CHAOYANG_STAFF, ACCOUNT, 1,
            "permit", False, "过期", "公安")
    assert len(events(store, contract.REVIEW_OUTCOME)) == 1
    # the refused call opened the application too: audited and shown like the others
    assert [access.agency for access in district.accesses(context, ACCOUNT)][:3] == [
        "公安", "街道", "街道"]


SCHOOLS_HEADER = "district,code,name,kind,stage,address,plan_seats,demo"
CHAOYANG_PRIMARY = "chaoyang,9905000001,朝阳区示例第一小学,公办,小学,朝阳区示例路1号,180,否"
CHAOYANG_MIDDLE = "chaoyang,9905000002,朝阳区示例第二中学,民办,初中,朝阳区示例路2号,240,否"
HAIDIAN_PRIMARY = "haidian,9904000001,海淀区示例第一小学,公办,小学,海淀区示例路1号,180,否"


def schools_csv(*rows) -> str:
    return "\ufeff" + "\r\n".join([SCHOOLS_HEADER, *rows]) + "\r\n"  # as a spreadsheet saves it


def test_a_district_imports_and_lists_its_own_schools_and_replaces_only_its_own(context):
    imported = district.import_schools(context, HAIDIAN_STAFF, schools_csv(HAIDIAN_PRIMARY),
                                       False, True)
    assert (imported.added, imported.removed) == (1, 0)
    done = district.import_schools(context, CHAOYANG_STAFF,
                                   schools_csv(CHAOYANG_PRIMARY, CHAOYANG_MIDDLE), False, True)
    assert (done.added, done.changed, done.unchanged, done.removed) == (2, 0, 0, 0)
    assert [s.code for s in district.list_schools(context, CHAOYANG_STAFF, None)] == [
        "9905000001", "9905000002"]
    assert [s.code for s in district.list_schools(context, CHAOYANG_STAFF, "初中")] == [
        "9905000002"]
    done = district.import_schools(context, CHAOYANG_STAFF, schools_csv(
        CHAOYANG_PRIMARY.replace(",180,", ",200,")), True, True)
    assert (done.added, done.changed, done.unchanged, done.removed) == (0, 1, 0, 1)
    assert [(s.code, s.plan_seats) for s in district.list_schools(
        context, CHAOYANG_STAFF, None)] == [("9905000001", 200)]
    assert [s.code for s in district.list_schools(context, HAIDIAN_STAFF, None)] == [
        "9904000001"]  # another district's replace leaves it alone


def test_a_schools_file_with_another_districts_row_imports_nothing(context):
    error = refused("SCHOOL_FILE_INVALID", district.import_schools, context, CHAOYANG_STAFF,
                    schools_csv(CHAOYANG_PRIMARY, HAIDIAN_PRIMARY,
                                CHAOYANG_MIDDLE.replace("民办", "私立")), True, True)
    assert error.fields == {"line 3": "district: not chaoyang, the district being loaded",
                            "line 4": "kind: not one of 公办, 民办, 公办寄宿"}
    assert "共2处问题" in error.message
    assert district.list_schools(context, CHAOYANG_STAFF, None) == []
    refused("SCHOOL_FILE_INVALID", district.import_schools, context, CHAOYANG_STAFF,
            schools_csv(CHAOYANG_PRIMARY.replace(",否", ",是")), False, False)  # production
