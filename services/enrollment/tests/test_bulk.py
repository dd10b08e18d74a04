"""Bulk district calls over both stores, in memory and PostgreSQL: each item's outcome, the
idempotency key, and a call cut short, retried or run twice at once deciding each item once."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.contract import Approval, ItemDecision, Preregistration
from services.enrollment.rules import status
from services.enrollment.rules.schools import School
from services.enrollment.tests.samples import SEASON, at, verified_family
from services.enrollment.usecases import bulk, details
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.store import Outcome

AGENCIES = {"employment": "人力社保", "dwelling": "住建", "permit": "公安"}
KEY = "batch-2027-05-10-001"


def decision(account_no, item, passed=True, agency=None, reason=None) -> ItemDecision:
    return ItemDecision(account_no=account_no, version=1, item=item, passed=passed,
                        reason=reason if passed else reason or "材料不全",
                        operator="cy0042", agency=agency or AGENCIES.get(item, "街道"))


def every_item(*account_nos) -> list[ItemDecision]:
    return [decision(account_no, item) for account_no in account_nos
            for item in SEASON.review_items]


def run(context, operation, items, key=KEY, district="chaoyang",
        pause=lambda: None) -> list[Outcome]:
    """The call as bootstrap makes it for the district's request."""
    return bulk.run(context, district, key,
                    bulk.digest(item.model_dump(mode="json") for item in items), items,
                    operation, pause)


def review(context, items, **call) -> list[Outcome]:
    return run(context, bulk.review_item, items, **call)


def outcome_events(store) -> list[dict]:
    return [body for kind, body in store.outbox if kind == contract.REVIEW_OUTCOME]


def accesses(store, account_no) -> list:
    with store.transaction() as tx:
        return tx.accesses(account_no)


def families(context, count, first=27000100) -> list[str]:
    account_nos = [str(first + n) for n in range(count)]
    for account_no in account_nos:
        verified_family(context, account_no)
    return account_nos


def test_each_item_has_its_outcome_in_order_and_a_refusal_does_not_stop_the_others(
        context, store):
    mine, = families(context, 1)
    verified_family(context, "27000200", "haidian")
    items = [decision(mine, "employment"),
             decision(mine, "dwelling", agency="街道"),
             decision("27000200", "permit"),
             decision("27999999", "permit"),
             decision(mine, "permit", passed=False, reason="居住证已过期")]
    outcomes = review(context, items)
    assert [(o.index, o.account_no, o.code) for o in outcomes] == [
        (0, mine, None), (1, mine, "WRONG_AGENCY"), (2, "27000200", "NOT_YOUR_DISTRICT"),
        (3, "27999999", "NOT_YOUR_DISTRICT"), (4, mine, None)]
    assert [o.ok for o in outcomes] == [True, False, False, False, True]
    assert outcomes[1].message == "该审核项目应由住建审核。"
    assert outcomes[2].message == "本区没有该账号的申请，无权查看或办理。"
    review_state = details.get_details(context, mine).state.review
    assert review_state.status == status.IN_REVIEW
    assert [(r.item, r.passed) for r in review_state.results] == [("employment", True),
                                                                  ("permit", False)]
    assert details.get_details(context, "27000200").state.review is None
    # each item audited as its single call would be: the refused look at 海淀's family too
    assert [(a.method, a.outcome, a.agency) for a in accesses(store, "27000200")] == [
        ("district_review_item", "refused", "公安")]
    assert [a.agency for a in accesses(store, mine)] == ["公安", "人力社保"]


def test_a_repeat_with_the_same_key_changes_nothing_and_answers_the_same(context, store):
    account_nos = families(context, 2)
    items = every_item(*account_nos)
    first = review(context, items)
    assert all(outcome.ok for outcome in first)
    assert len(outcome_events(store)) == 2
    revisions = [details.get_details(context, a) for a in account_nos]
    audited = [len(accesses(store, a)) for a in account_nos]
    assert review(context, items) == first
    assert len(outcome_events(store)) == 2
    assert [details.get_details(context, a) for a in account_nos] == revisions
    assert [len(accesses(store, a)) for a in account_nos] == audited
    # another key is another call: decided again, and refused as the review is finished
    again = review(context, items, key="batch-2027-05-10-002")
    assert {outcome.code for outcome in again} == {"REVIEW_FINISHED"}


def test_the_same_key_with_other_items_is_refused_and_decides_nothing(context, store):
    account_nos = families(context, 2)
    review(context, every_item(account_nos[0]))
    with pytest.raises(DomainError) as reused:
        review(context, every_item(*account_nos))
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert details.get_details(context, account_nos[1]).state.review is None
    assert accesses(store, account_nos[1]) == []
    # a key is the district's own: another district's call under it is its own
    outcomes = review(context, every_item(account_nos[1]), district="haidian")
    assert {outcome.code for outcome in outcomes} == {"NOT_YOUR_DISTRICT"}


class Killed(Exception):
    pass


class CutShort:
    """`store`, whose transaction recording the outcomes of the chunk after the first `chunks`
    fails before its commit: the process killed half-way."""

    def __init__(self, store, chunks):
        self.store = store
        self.chunks = chunks
        self.outbox = store.outbox

    @contextmanager
    def transaction(self):
        with self.store.transaction() as tx:
            record = tx.record_outcomes
            recorded = []

            def counting(call, outcomes):
                recorded.append(outcomes)
                record(call, outcomes)
            tx.record_outcomes = counting
            yield tx
            if recorded:
                self.chunks -= 1
                if self.chunks < 0:
                    raise Killed


def test_a_call_cut_short_is_finished_by_its_retry_and_each_item_is_decided_once(
        store, clock, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 7)  # five chunks of 7, 7, 7, 7 and 2 items
    context = Context(store, SEASON, clock)
    account_nos = families(context, 6)
    items = every_item(*account_nos)
    with pytest.raises(Killed):
        review(Context(CutShort(store, 2), SEASON, clock), items)
    assert len(outcome_events(store)) == 2  # the first 14 items: two families' reviews
    outcomes = review(context, items)
    assert [outcome.index for outcome in outcomes] == list(range(30))
    assert all(outcome.ok for outcome in outcomes)
    assert sorted(event["account_no"] for event in outcome_events(store)) == account_nos
    for account_no in account_nos:
        audited = accesses(store, account_no)
        assert len(audited) == len(SEASON.review_items)
        assert {a.purpose for a in audited} == {f"入学资格审核：{label}"
                                                for label in SEASON.review_items.values()}


def test_two_attempts_of_a_call_at_once_decide_each_item_once(context, store, monkeypatch):
    """The caller timed out and called again while its first call still runs."""
    monkeypatch.setattr(bulk, "CHUNK", 4)
    account_nos = families(context, 4)
    items = every_item(*account_nos)
    answers = []
    attempts = [threading.Thread(target=lambda: answers.append(review(context, items)))
                for _ in range(2)]
    for attempt in attempts:
        attempt.start()
    for attempt in attempts:
        attempt.join()
    assert len(answers) == 2 and answers[0] == answers[1]
    assert all(outcome.ok for outcome in answers[0])
    assert len(outcome_events(store)) == 4
    assert sum(len(accesses(store, a)) for a in account_nos) == len(items)


class Raced:
    """`store`, where another request changes the applications of a chunk right after the
    chunk loaded them, `times` times, from the chunk after the first `after`."""

    def __init__(self, store, times, after=0):
        self.store = store
        self.times = times
        self.after = after

    @contextmanager
    def transaction(self):
        with self.store.transaction() as tx:
            load_many = tx.load_many

            def racing(account_nos):
                found = load_many(account_nos)
                self.after -= 1
                if self.times > 0 and self.after < 0:
                    self.times -= 1
                    with self.store.transaction() as other:
                        for account_no in found:
                            other.save(other.load(account_no))
                return found
            tx.load_many = racing
            yield tx


def test_a_chunk_meeting_a_concurrent_change_is_decided_again_on_the_fresh_state(
        context, store, clock):
    account_nos = families(context, 2)
    raced = Raced(store, 2)
    outcomes = review(Context(raced, SEASON, clock), every_item(*account_nos))
    assert raced.times == 0 and all(outcome.ok for outcome in outcomes)
    assert len(outcome_events(store)) == 2  # the undone attempts left none
    assert sum(len(accesses(store, a)) for a in account_nos) == 2 * len(SEASON.review_items)


def test_a_chunk_that_always_meets_a_change_gives_up_and_keeps_the_chunks_before(
        context, store, clock, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 5)
    account_nos = families(context, 2)
    items = every_item(*account_nos)
    with pytest.raises(DomainError) as contended:
        review(Context(Raced(store, 100, after=1), SEASON, clock), items)
    assert contended.value.code == "CONCURRENT_UPDATE"
    [decided] = outcome_events(store)  # the first chunk's: the first family's review
    assert decided["account_no"] == account_nos[0]
    assert all(outcome.ok for outcome in review(context, items))  # the retry finishes it
    assert len(outcome_events(store)) == 2


def test_the_call_pauses_between_chunks(context, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    account_nos = families(context, 1)
    pauses = []
    review(context, every_item(*account_nos), pause=lambda: pauses.append(1))
    assert len(pauses) == 2  # five items: three chunks


# Pre-registrations and approvals -------------------------------------------------------------

SCHOOLS = [School("chaoyang", code, "朝阳区第一小学", "公办", "小学", "朝阳区团结湖路1号", 120,
                  True) for code in ("9905000001", "9905000002")]


def test_pre_registrations_and_approvals_in_bulk_each_with_its_outcome_and_decided_once(
        context, store, clock):
    with store.transaction() as tx:
        tx.import_schools(SCHOOLS)
    beijing = [str(27000400 + n) for n in range(3)]
    for account_no in beijing:
        verified_family(context, account_no, hukou_type="beijing")
    not_reviewed, = families(context, 1)
    clock.now = at(2027, 6, 15)  # 学校预登记
    preregistrations = [
        *(Preregistration(account_no=account_no, version=1, school="9905000001",
                          operator="cy0042") for account_no in beijing),
        Preregistration(account_no=not_reviewed, version=1, school="9905000001",
                        operator="cy0042"),
        Preregistration(account_no=beijing[0], version=1, school="9905009999",
                        operator="cy0042"),
        Preregistration(account_no=beijing[1], version=2, school="9905000002",
                        operator="cy0042")]
    outcomes = run(context, bulk.preregister, preregistrations)
    assert [outcome.code for outcome in outcomes] == [
        None, None, None, "NOT_READY_FOR_PREREGISTRATION", "SCHOOL_UNKNOWN", "FORM_SUPERSEDED"]
    assert run(context, bulk.preregister, preregistrations) == outcomes
    approvals = [Approval(account_no=account_no, school="9905000001", operator="cy0042")
                 for account_no in [*beijing, not_reviewed]]
    approved = run(context, bulk.approve, approvals, key="approve-2027-06-15-01")
    assert [outcome.code for outcome in approved] == [None, None, None, "NOT_PREREGISTERED"]
    assert run(context, bulk.approve, approvals, key="approve-2027-06-15-01") == approved
    for account_no in beijing:
        assert details.get_details(context, account_no).state.placement.status == "approved"
        methods = [access.method for access in accesses(store, account_no)]
        assert methods.count("district_approve") == 1
    # its own item, and the one naming an unknown school: each audited once
    assert [access.method for access in accesses(store, beijing[0])].count(
        "district_preregister") == 2
