"""The family's details (录入详细信息 / 录入相关审核材料信息): open, read, save a draft,
submit, withdraw, and the history of submissions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from common.errors import DomainError
from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.rules.fields import Registration, clean_details
from services.enrollment.rules.season import BEIJING, PERMIT_VALID_ON, Form
from services.enrollment.usecases.context import Context, load, transact
from services.enrollment.usecases.store import Application, Transaction, Version


@dataclass(frozen=True)
class DetailsView:
    """The page: the registration data read-only, the form, the details, the buttons."""
    registration: Registration
    state: status.ApplicationState
    form: Form
    data: Mapping | None
    actions: frozenset[str]  # of "save_draft", "submit", "withdraw"
    collection_period: str


@dataclass(frozen=True)
class HistoryEntry:
    version: Version
    current: bool  # the submission in force; every other one was withdrawn


def open_application(context: Context, registration: Registration) -> Application | None:
    """The application of a newly registered account; opening it again returns it as is.
    None for an account cancelled meanwhile (its registration event came late)."""
    def work(tx: Transaction, now: datetime) -> Application | None:
        if tx.cancelled(registration.account_no):
            return None
        existing = tx.load(registration.account_no)
        if existing is not None:
            return existing
        application = Application(registration.account_no, registration,
                                  status.ApplicationState(registration.hukou_type),
                                  updated_at=now)
        tx.insert(application)
        return application
    return transact(context, work)


def get_details(context: Context, account_no: str) -> DetailsView:
    def work(tx: Transaction, now: datetime) -> DetailsView:
        application = load(tx, account_no)
        season = context.season
        return DetailsView(application.registration, application.state,
                           season.forms[application.state.hukou_type], application.data,
                           status.available_actions(application.state, season, now),
                           season.phases["collection"].period)
    return transact(context, work)


def save_draft(context: Context, account_no: str, data: Any) -> Application:
    """Checked leniently: a half-filled form can be kept."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = load(tx, account_no)
        state = status.save_draft(application.state, context.season, now)
        cleaned = _clean(context, application, data, now, submission=False)
        return tx.save(replace(application, state=state, data=cleaned, updated_at=now))
    return transact(context, work)


def submit(context: Context, account_no: str, data: Any) -> Application:
    """提交信息: checked strictly, kept as version n+1 and sent for verification."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = load(tx, account_no)
        state = status.submit(application.state, context.season, now)
        cleaned = _clean(context, application, data, now, submission=True)
        saved = tx.save(replace(application, state=state, data=cleaned, updated_at=now))
        tx.append_version(Version(account_no, state.version, cleaned, now))
        tx.record_event(contract.DETAILS_SUBMITTED,
                        verification_request(saved, context.season.dates[PERMIT_VALID_ON]))
        return saved
    return transact(context, work)


def withdraw(context: Context, account_no: str) -> Application:
    """The submitted details become the draft again; a pending verification is cancelled."""
    def work(tx: Transaction, now: datetime) -> Application:
        application = load(tx, account_no)
        state = status.withdraw(application.state, context.season, now)
        saved = tx.save(replace(application, state=state, updated_at=now))
        tx.record_event(contract.DETAILS_WITHDRAWN,
                        {"account_no": account_no, "version": application.state.version})
        return saved
    return transact(context, work)


def history(context: Context, account_no: str) -> list[HistoryEntry]:
    """Every submission, newest first."""
    def work(tx: Transaction, now: datetime) -> list[HistoryEntry]:
        state = load(tx, account_no).state
        return [HistoryEntry(version, state.details == status.SUBMITTED
                             and version.number == state.version)
                for version in reversed(tx.versions(account_no))]
    return transact(context, work)


def verification_request(application: Application, permit_valid_on: date) -> dict:
    """What the verification service checks (contract.DetailsSubmitted, without event_id):
    the season file keeps these fields required (season.VERIFICATION_FIELDS). A permit's
    holder (father, mother, other guardian) is the guardian of that relation (a submission
    names one: `_check_permit_holder`)."""
    registration, data = application.registration, application.data
    household = {"head_name": data["household"]["head_name"],
                 "relation_to_head": data["household"]["relation_to_head"]}
    if registration.hukou_type == "beijing":
        household["hukou_district"] = data["hukou_address"]["district"]
        household["hukou_address"] = data["hukou_address"]["address"]
    else:
        household["hukou_region"] = data["hukou_origin"]["region"]
    return {
        "account_no": application.account_no,
        "version": application.state.version,
        "district": registration.district,
        "hukou_type": registration.hukou_type,
        "child": {"name": registration.child_name,
                  "document_type": registration.document_type,
                  "document_number": registration.document_number,
                  "birth_date": registration.birth_date.isoformat(),
                  "sex": registration.sex},
        "household": household,
        "guardians": [{key: guardian[key] for key in
                       ("name", "relation", "document_type", "document_number")}
                      for guardian in data["guardians"]],
        "residence_district": data["residence"]["district"],
        "residence_permits": [_permit(permit, data["guardians"])
                              for permit in _permits(data)],
        "reference_date": permit_valid_on.isoformat(),
    }


def _permits(data: Mapping) -> list[Mapping]:
    """The permit section as a list (the season's form has one permit; a group of up to two
    would come as a list)."""
    permit = data.get("permit")
    if not permit:
        return []
    return list(permit) if isinstance(permit, list) else [permit]


def _holder(permit: Mapping, guardians: list[Mapping]) -> Mapping | None:
    return next((guardian for guardian in guardians
                 if guardian.get("relation") == permit.get("holder")), None)


def _permit(permit: Mapping, guardians: list[Mapping]) -> dict:
    holder = _holder(permit, guardians)
    return {"holder_name": holder["name"], "holder_document_number": holder["document_number"],
            "permit_number": permit["number"], "valid_until": permit["valid_until"],
            "issuing_district": permit["issuing_district"]}


def _check_permit_holder(data: Mapping) -> None:
    """A submitted permit's holder must be one of the guardians entered, whose name and
    document number the verification service compares with the permit."""
    for index, permit in enumerate(_permits(data)):
        if permit.get("holder") and _holder(permit, data.get("guardians") or []) is None:
            path = "permit.holder" if isinstance(data.get("permit"), Mapping) \
                else f"permit.{index}.holder"
            raise DomainError("VALIDATION_ERROR", fields={
                path: "持证人须为下方监护人信息中填写的监护人，请补充该监护人的信息。"})


def _clean(context: Context, application: Application, data: Any, now: datetime, *,
           submission: bool) -> dict:
    cleaned = clean_details(data, context.season, application.registration,
                            now.astimezone(BEIJING).date(), submission=submission)
    if submission:
        _check_permit_holder(cleaned)
    return cleaned
