"""District systems: their applications listed, one opened with a stated purpose, 入学资格审核
item by item, their schools listed and imported. The district is the caller's (its broker
user), never the request's; every call is audited, a call for another district's family (or
a schools file with another district's row) refused and audited as refused. The family sees
the looks at its data."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from common.csv_file import PROBLEMS_SHOWN, CsvFileError
from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.rules.schools import School, load_csv
from services.enrollment.usecases import forms, review
from services.enrollment.usecases.context import Context, load, text_guardian, transact
from services.enrollment.usecases.store import (
    Access,
    Application,
    Listed,
    Listing,
    SchoolImport,
    Transaction,
)

OK, REFUSED = "ok", "refused"
T = TypeVar("T")


@dataclass(frozen=True)
class Operator:
    district: str  # the calling district's code, from its broker user
    staff_id: str  # the person, as the call names them


@dataclass(frozen=True)
class Page:
    rows: list[Listed]
    last: str | None  # the account number to list after for the next page; None: no more


def list_applications(context: Context, operator: Operator, listing: Listing,
                      after: str | None, limit: int, purpose: str | None) -> Page:
    """A page of the operator's district's applications."""
    def work(tx: Transaction, now: datetime) -> list[Listed]:
        tx.record_access(Access(operator.district, operator.staff_id,
                                "district_list_applications", OK, purpose=purpose))
        return tx.list_applications(operator.district, listing, after, limit + 1)
    found = transact(context, work)
    rows = found[:limit]
    return Page(rows, rows[-1].application.account_no if len(found) > limit else None)


def show_application(context: Context, operator: Operator, account_no: str,
                     purpose: str) -> Application:
    """The application unmasked, for a stated purpose."""
    return decide(context, lambda tx, now: mine(tx, operator, account_no,
                                                "district_show_application", purpose))


def review_item(context: Context, operator: Operator, account_no: str, version: int,
                item: str, passed: bool, reason: str | None, agency: str) -> Application:
    return decide(context, lambda tx, now: review_item_in(
        tx, context, now, operator, account_no, version, item, passed, reason, agency))


def review_item_in(tx: Transaction, context: Context, now: datetime, operator: Operator,
                   account_no: str, version: int, item: str, passed: bool, reason: str | None,
                   agency: str) -> Application:
    """One item's 通过 / 不通过 by its agency, in `tx`; the first starts the review (the family
    can no longer withdraw)."""
    status.check_agency(item, agency)
    label = context.season.review_items.get(item, item)
    application = mine(tx, operator, account_no, "district_review_item",
                       f"入学资格审核：{label}", agency)
    started = status.start_review(application.state, context.season, now, version)
    return review.record_in(tx, context.season, now, replace(application, state=started),
                            version, item, passed, reason)


def override_verification(context: Context, operator: Operator, account_no: str,
                          version: int, verified: bool, item: str | None,
                          reason: str) -> Application:
    """The district's checks decide the 身份证及户籍信息核验; the guardian is texted the
    outcome, as after the registry's."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = mine(tx, operator, account_no, "district_override_verification",
                           f"更正身份证及户籍信息核验结果：{reason}")
        state = status.override_verification(application.state, version, verified, item,
                                             reason)
        saved = tx.save(replace(application, state=state, updated_at=now))
        text_guardian(tx, application, contract.VERIFICATION_OUTCOME,
                      lambda phone: contract.VerificationOutcome(
                          account_no=account_no, version=version,
                          status=state.verification.status, guardian_phone=phone).payload())
        return saved
    return decide(context, work)



def list_schools(context: Context, operator: Operator, stage: str | None) -> list[School]:
    """The operator's district's schools (of one stage, if given), by code."""
    def work(tx: Transaction, now: datetime) -> list[School]:
        tx.record_access(Access(operator.district, operator.staff_id, "district_list_schools",
                                OK))
        return tx.schools(operator.district, stage)
    return transact(context, work)


def import_schools(context: Context, operator: Operator, csv_text: str, replace: bool,
                   demo_allowed: bool) -> SchoolImport:
    """The district's schools from CSV text (rules/schools.py), the whole file or nothing: a
    row of another district refuses it (SCHOOL_FILE_INVALID, each line's problems in
    `fields`). `replace` removes the district's own schools the file does not hold, never
    another district's."""
    try:
        schools = load_csv(io.StringIO(csv_text, newline=""), operator.district, demo_allowed)
        refusal = None
    except CsvFileError as refused:
        schools, refusal = [], _file_refused(refused.problems)

    def work(tx: Transaction, now: datetime) -> SchoolImport:
        tx.record_access(Access(operator.district, operator.staff_id, "district_import_schools",
                                REFUSED if refusal else OK, purpose="导入学校名单"))
        if refusal is not None:
            raise refusal
        return tx.import_schools(schools, (operator.district,) if replace else ())
    return decide(context, work)


def _file_refused(problems: list[str]) -> DomainError:
    """SCHOOL_FILE_INVALID with the problems (`line N: column: what`) by line, the first
    PROBLEMS_SHOWN of them."""
    lines: dict[str, list[str]] = {}
    for problem in problems[:PROBLEMS_SHOWN]:
        line, _, what = problem.partition(": ")
        lines.setdefault(line, []).append(what)
    shown = f"（列出前{PROBLEMS_SHOWN}处）" if len(problems) > PROBLEMS_SHOWN else ""
    return DomainError("SCHOOL_FILE_INVALID",
                       f"学校文件格式不正确，共{len(problems)}处问题{shown}，本次未导入任何学校。",
                       fields={line: "; ".join(found) for line, found in lines.items()})


# A district's call on one application, in a transaction: `work(tx, now)` raises a
# DomainError for a refusal, before anything but the audit is written; the transaction is
# committed all the same, so that the audit of a refused call stays.

def decide(context: Context, work: Callable[[Transaction, datetime], T]) -> T:
    """`work` in its own transaction (transact): committed, then its refusal raised."""
    def audited(tx: Transaction, now: datetime) -> tuple[T | None, DomainError | None]:
        try:
            return work(tx, now), None
        except DomainError as refusal:
            return None, refusal
    done, refusal = transact(context, audited)
    if refusal is not None:
        raise refusal
    return done


def mine(tx: Transaction, operator: Operator, account_no: str, method: str, purpose: str,
         agency: str | None = None) -> Application:
    """The application, if it is the operator's district's; the call audited either way.
    NOT_YOUR_DISTRICT for another district's, and alike for an account without an application,
    so that a district cannot tell which account numbers exist elsewhere."""
    application = tx.load(account_no)
    ok = application is not None and application.registration.district == operator.district
    tx.record_access(Access(operator.district, operator.staff_id, method,
                            OK if ok else REFUSED, account_no, purpose, agency))
    if not ok:
        raise DomainError("NOT_YOUR_DISTRICT")
    return application


def accesses(context: Context, account_no: str) -> list[Access]:
    """The districts' looks at the family's data that were let through, newest first (not the
    documents service's reads for the family's own form)."""
    def work(tx: Transaction, now: datetime) -> list[Access]:
        load(tx, account_no)
        return [access for access in tx.accesses(account_no)
                if access.outcome == OK and access.method != forms.FORM_DATA]
    return transact(context, work)


def move_document(context: Context, operator: Operator, account_no: str, claimant_phone: str,
                  reason: str) -> Application:
    """A dispute over the child's document settled by the district's own checks: the account
    (its number, its registration) goes to the claimant, the real guardian, whose phone the
    registration now names. What the former holder entered goes: the details, every version,
    the check and the review (未填写 again). `document_moved` tells accounts (the account's
    phone, sessions and password) and notify (a text to each phone)."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = mine(tx, operator, account_no, "district_move_document", reason)
        registration, state = application.registration, application.state
        former_phone = registration.guardian_phone
        if former_phone == claimant_phone:  # a slip: moving it would only wipe the family's data
            raise DomainError("VALIDATION_ERROR", fields={
                "claimant_phone": "该手机号码已是此账号的监护人手机号码。"})
        if state.verification is not None and state.verification.status == status.PENDING:
            # As a withdrawal: the registry is not asked about what the former holder entered.
            tx.record_event(contract.DETAILS_WITHDRAWN,
                            {"account_no": account_no, "version": state.version})
        moved = tx.hand_over(replace(
            application, registration=replace(registration, guardian_phone=claimant_phone),
            state=status.handed_over(state), data=None, updated_at=now))
        tx.record_event(contract.DOCUMENT_MOVED, contract.DocumentMoved(
            account_no=account_no, district=operator.district, former_phone=former_phone,
            claimant_phone=claimant_phone).payload())
        return moved
    return decide(context, work)
