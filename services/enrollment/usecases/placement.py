"""学校预登记, its approval and the publication of results by district systems, and 查看入学结果
for the family (rules/placement.py). Each district call is audited (usecases/district.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import placement
from services.enrollment.rules.schools import School
from services.enrollment.usecases.context import Context, load, text_guardian, transact
from services.enrollment.usecases.district import OK, Operator, decide, mine
from services.enrollment.usecases.store import (
    Access,
    Application,
    Listing,
    Publication,
    Transaction,
)

PUBLISH_BATCH = 500  # the approved families read at a time while publishing


@dataclass(frozen=True)
class Placed:
    application: Application
    school: School


def preregister(context: Context, operator: Operator, account_no: str, version: int,
                school: str) -> Placed:
    return decide(context, lambda tx, now: preregister_in(tx, context, now, operator,
                                                          account_no, version, school))


def approve(context: Context, operator: Operator, account_no: str, school: str) -> Placed:
    return decide(context, lambda tx, now: approve_in(tx, context, now, operator, account_no,
                                                      school))


def preregister_in(tx: Transaction, context: Context, now: datetime, operator: Operator,
                   account_no: str, version: int, school: str) -> Placed:
    """The family came to `school` with its printed form of `version`, in `tx`."""
    application = mine(tx, operator, account_no, "district_preregister", "学校入学预登记")
    found = _school(tx, operator, school)
    state = placement.preregister(application.state, context.season, now, version, school,
                                  tx.publication(operator.district) is not None)
    return Placed(_saved(tx, application, state, now), found)


def approve_in(tx: Transaction, context: Context, now: datetime, operator: Operator,
               account_no: str, school: str) -> Placed:
    """The district approves the family's pre-registration at `school`, in `tx`."""
    application = mine(tx, operator, account_no, "district_approve", "审核学校入学预登记")
    found = _school(tx, operator, school)
    state = placement.approve(application.state, school,
                              tx.publication(operator.district) is not None)
    return Placed(_saved(tx, application, state, now), found)


def publish(context: Context, operator: Operator) -> Publication:
    """The district's results become visible to its families, and each family with an
    approved place is texted, in one transaction. Publishing again changes nothing and
    answers the first publication."""
    def work(tx: Transaction, now: datetime) -> Publication:
        tx.record_access(Access(operator.district, operator.staff_id, "district_publish", OK,
                                purpose="公布入学结果"))
        published = tx.publication(operator.district)
        if published is not None:
            return published
        placement.check_publishable(context.season, now)
        placed, after = 0, None
        while True:
            page = tx.list_applications(operator.district, Listing(placement="approved"),
                                        after, PUBLISH_BATCH)
            for listed in page:
                application = listed.application
                text_guardian(tx, application, contract.RESULT_PUBLISHED,
                              lambda phone, account_no=application.account_no:
                              contract.ResultPublished(account_no=account_no,
                                                       guardian_phone=phone).payload())
            placed += len(page)
            if len(page) < PUBLISH_BATCH:
                break
            after = page[-1].application.account_no
        return tx.publish(Publication(operator.district, operator.staff_id, placed))
    return transact(context, work)


@dataclass(frozen=True)
class FamilyResult:
    result: placement.Result
    school: School | None
    published_at: datetime | None


def result(context: Context, account_no: str) -> FamilyResult:
    def work(tx: Transaction, now: datetime) -> FamilyResult:
        application = load(tx, account_no)
        district = application.registration.district
        published = tx.publication(district)
        found = placement.result(application.state, context.season, published is not None)
        school = tx.school(district, found.school) if found.school else None
        return FamilyResult(found, school, published.published_at if published else None)
    return transact(context, work)


def _school(tx: Transaction, operator: Operator, code: str) -> School:
    school = tx.school(operator.district, code)
    if school is None:
        raise DomainError("SCHOOL_UNKNOWN", fields={"school": "本区没有该学校代码。"})
    return school


def _saved(tx: Transaction, application: Application, state, now: datetime) -> Application:
    if state == application.state:
        return application
    return tx.save(replace(application, state=state, updated_at=now))
