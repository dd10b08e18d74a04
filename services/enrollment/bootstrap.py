"""The enrollment service wired once: its keys, store, season and clock around the use cases.
The service (service.py) and the tests build their EnrollmentApp here; nothing here imports
nameko or eventlet.

Each method takes what an RPC or an event brings, calls one use case and answers JSON; personal
data is shown masked where it is only read (the registration facts, the history), never in a
log.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from common.districts import BY_CODE, Caller, district_name
from common.errors import DomainError
from common.masking import mask_id_number, mask_name, mask_phone, mask_text
from services.accounts import contract as accounts
from services.enrollment import contract
from services.enrollment.rules import status
from services.enrollment.rules.fields import Registration
from services.enrollment.rules.schools import School
from services.enrollment.rules.season import Form, Season, load_season
from services.enrollment.storage import AlreadyHandled, Keys, Store
from services.enrollment.usecases import (
    bulk,
    details,
    district,
    forms,
    placement,
    verification_results,
)
from services.enrollment.usecases.context import Context
from services.enrollment.usecases.journey import journey
from services.enrollment.usecases.store import Application, Listed, Listing, Outcome
from services.verification import contract as verification

log = logging.getLogger(__name__)

# The verification service's item codes by the status machine's items (rules/status.py).
_ITEM_PREFIXES = (("CHILD_", "child_identity"), ("HUKOU_", "hukou"),
                  ("PERMIT_", "guardian_identity"), ("GUARDIAN_", "guardian_identity"))


def now_utc() -> datetime:
    return datetime.now(UTC)


class EnrollmentApp:
    """`pause()`: lets the process's other requests go first, between the chunks of a bulk
    call (the service's: a hub switch)."""

    def __init__(self, store: Store, season: Season, clock: Callable[[], datetime] = now_utc,
                 demo_schools: bool = True, pause: Callable[[], None] = lambda: None):
        self.store = store
        self.season = season
        self.clock = clock
        self.demo_schools = demo_schools  # a schools file may hold demo schools (not production)
        self.pause = pause
        self.context = Context(store, season, clock)

    # RPC ----------------------------------------------------------------------------------
    def ping(self) -> dict:
        return {"service": contract.SERVICE_NAME, "ok": self.store.ping()}

    def get_journey(self, account_no, hukou_type: str) -> dict:
        found = journey(self.context, _account_no(account_no), hukou_type)
        return {"steps": [{"key": step.key, "title": step.title, "status": step.status,
                           "label": step.label, "open": step.open, "period": step.period,
                           "note": step.note} for step in found.steps],
                "next_step": found.next_step}

    def get_details(self, account_no) -> dict:
        view = details.get_details(self.context, _account_no(account_no))
        return {"registration": registration_view(view.registration),
                "state": state_view(view.state, self.season),
                "form": form_view(view.form),
                # The family's own form, to be edited: shown as entered (to that family only)
                "data": view.data,
                "actions": sorted(view.actions),
                "collection_period": view.collection_period}

    def save_draft(self, account_no, data) -> dict:
        return application_view(details.save_draft(self.context, _account_no(account_no), data),
                                self.season)

    def submit(self, account_no, data) -> dict:
        return application_view(details.submit(self.context, _account_no(account_no), data),
                                self.season)

    def withdraw(self, account_no) -> dict:
        return application_view(details.withdraw(self.context, _account_no(account_no)),
                                self.season)

    def get_history(self, account_no) -> list[dict]:
        """Every submission, newest first, its personal values masked (a record to read)."""
        return [{"version": entry.version.number, "current": entry.current,
                 "submitted_at": entry.version.submitted_at.isoformat(),
                 "data": masked(entry.version.data)}
                for entry in details.history(self.context, _account_no(account_no))]

    def get_result(self, account_no) -> dict:
        """查看入学结果: the school once the district published, else its schedule."""
        found = placement.result(self.context, _account_no(account_no))
        result = found.result
        return {"status": result.status, "message": result.message,
                "schedule": result.schedule,
                "published_at": found.published_at.isoformat() if found.published_at
                else None,
                "school": school_view(found.school) if found.school else None,
                "report": result.report}

    def get_form_data(self, account_no) -> dict:
        """The 学龄人口信息采集表's data, unmasked, for the documents service; audited."""
        source = forms.form_data(self.context, _account_no(account_no))
        return form_data_view(source.application, source.submitted_at, self.season)

    def get_form_standing(self, account_no) -> dict | None:
        application = forms.standing(self.context, _account_no(account_no))
        if application is None:
            return None
        state, registration = application.state, application.registration
        return {"version": state.version, "submitted": state.details == status.SUBMITTED,
                "child_name": mask_name(registration.child_name),
                "district_name": district_name(registration.district),
                "may_print": status.may_print(state),
                "missing": status.print_missing(state, self.season)}

    def get_accesses(self, account_no) -> list[dict]:
        """The districts' looks at the family's data, newest first: who (the committee, the
        reviewing agency), when and why; never the staff id."""
        return [{"district_name": BY_CODE[access.district].committee, "agency": access.agency,
                 "at": access.at.isoformat(), "purpose": access.purpose}
                for access in district.accesses(self.context, _account_no(account_no))]

    # District systems: `caller` from the broker user (common/edge/rpc.py serve_district) ---
    def district_list_applications(self, caller: Caller,
                                   query: contract.ApplicationQuery) -> dict:
        """A page of the caller's applications, masked."""
        listing = Listing(details=query.details, hukou_type=query.hukou_type,
                          verification=query.verification, review=query.review,
                          submitted_from=_day(query.submitted_from, "submitted_from"),
                          submitted_to=_day(query.submitted_to, "submitted_to"),
                          school=query.school, placement=query.placement)
        page = district.list_applications(self.context, _operator(caller, query.operator),
                                          listing, _after(query.cursor), query.limit,
                                          query.purpose)
        return {"rows": [row_view(listed) for listed in page.rows],
                "next_cursor": None if page.last is None else _cursor(page.last)}

    def district_show_application(self, caller: Caller,
                                  lookup: contract.ApplicationLookup) -> dict:
        return district_application_view(district.show_application(
            self.context, _operator(caller, lookup.operator), lookup.account_no,
            lookup.purpose), self.season)

    def district_review_item(self, caller: Caller, decision: contract.ItemDecision) -> dict:
        return state_view(district.review_item(
            self.context, _operator(caller, decision.operator), decision.account_no,
            decision.version, decision.item, decision.passed, decision.reason,
            decision.agency).state, self.season)

    def district_override_verification(self, caller: Caller,
                                       change: contract.VerificationOverride) -> dict:
        return state_view(district.override_verification(
            self.context, _operator(caller, change.operator), change.account_no,
            change.version, change.verified, change.item, change.reason).state, self.season)

    def district_preregister(self, caller: Caller, request: contract.Preregistration) -> dict:
        return placement_view(placement.preregister(
            self.context, _operator(caller, request.operator), request.account_no,
            request.version, request.school))

    def district_approve(self, caller: Caller, request: contract.Approval) -> dict:
        return placement_view(placement.approve(
            self.context, _operator(caller, request.operator), request.account_no,
            request.school))

    def district_publish(self, caller: Caller, request: contract.OperatorRef) -> dict:
        published = placement.publish(self.context, _operator(caller, request.operator))
        return {"district": published.district, "placed": published.placed,
                "published_at": published.published_at.isoformat()}

    def district_list_schools(self, caller: Caller, query: contract.SchoolQuery) -> list[dict]:
        return [school_view(school) for school in district.list_schools(
            self.context, _operator(caller, query.operator), query.stage)]

    def district_import_schools(self, caller: Caller, request: contract.SchoolsImport) -> dict:
        done = district.import_schools(self.context, _operator(caller, request.operator),
                                       request.csv_text, request.replace, self.demo_schools)
        return {"added": done.added, "changed": done.changed, "unchanged": done.unchanged,
                "removed": done.removed}

    def district_move_document(self, caller: Caller, dispute: contract.DocumentDispute) -> dict:
        moved = district.move_document(self.context, _operator(caller, dispute.operator),
                                       dispute.account_no, dispute.claimant_phone,
                                       dispute.reason)
        return {"account_no": moved.account_no,
                "claimant_phone": mask_phone(moved.registration.guardian_phone)}

    def district_bulk_review(self, caller: Caller, request: contract.BulkReview) -> dict:
        return self._bulk(caller, request, bulk.review_item)

    def district_bulk_preregister(self, caller: Caller,
                                  request: contract.BulkPreregistration) -> dict:
        return self._bulk(caller, request, bulk.preregister)

    def district_bulk_approve(self, caller: Caller, request: contract.BulkApproval) -> dict:
        return self._bulk(caller, request, bulk.approve)

    def _bulk(self, caller: Caller, request, decide: bulk.Decide) -> dict:
        """The request's items decided by `decide` (bulk.run), each item's outcome in order."""
        outcomes = bulk.run(
            self.context, caller.district.code, request.idempotency_key,
            bulk.digest(item.model_dump(mode="json") for item in request.items),
            request.items, decide, self.pause)
        return bulk_outcome_view(request.idempotency_key, outcomes)

    # Events -------------------------------------------------------------------------------
    def family_registered(self, event: accounts.FamilyRegistered) -> bool:
        """Opens the family's application; False if the event was handled before."""
        registration = Registration(
            account_no=event.account_no, district=event.district, hukou_type=event.hukou_type,
            child_name=event.child_name, document_type=event.document_type,
            document_number=event.document_number,
            birth_date=datetime.strptime(event.birth_date, "%Y-%m-%d").date(), sex=event.sex,
            guardian_phone=event.guardian_phone)
        try:
            details.open_application(self._handling(event.event_id, accounts.FAMILY_REGISTERED),
                                     registration)
        except AlreadyHandled:
            return False
        return True

    def account_cancelled(self, event_id: str, account_no: str, event_type: str) -> bool:
        """Deletes everything of the family; False if the event was handled before."""
        return self.store.forget_family(event_id, event_type, account_no)

    def check_finished(self, event: verification.CheckFinished) -> bool:
        """Applies the result when it is for the pending check of the current version; False
        when it is ignored (another version, a repeat) or was handled before."""
        verified = event.status == "verified"
        item = reason = None
        if not verified:
            item, reason = failed_item(event.items)
        try:
            return verification_results.apply_result(
                self._handling(event.event_id, verification.CHECK_FINISHED), event.account_no,
                event.version, verified, item, reason)
        except AlreadyHandled:
            return False

    def _handling(self, event_id: str, event_type: str) -> Context:
        """The use cases' context whose transactions record the event as handled."""
        return Context(self.store.handling_event(event_id, event_type), self.season, self.clock)


def failed_item(items: list[verification.CheckItem]) -> tuple[str, str]:
    """The status machine keeps one item and one reason: the first failed item's kind, and
    every reason, in the verification service's words."""
    if not items:
        return "child_identity", "身份证及户籍信息核验未通过，请咨询入学所在区教委。"
    code = items[0].code
    item = next((kind for prefix, kind in _ITEM_PREFIXES if code.startswith(prefix)),
                "child_identity")
    reason = "；".join(dict.fromkeys(found.reason.rstrip("。") for found in items)) + "。"
    if len(reason) > status.MAX_REASON:
        reason = reason[:status.MAX_REASON - 1] + "…"
    return item, reason


# Views ---------------------------------------------------------------------------------------

def registration_view(registration: Registration) -> dict:
    """As accounts' AccountView shows them: masked, and no birth date beside the masked
    document number (it would narrow the number to a few candidates)."""
    return {"account_no": registration.account_no, "district": registration.district,
            "district_name": district_name(registration.district),
            "hukou_type": registration.hukou_type,
            "child_name": mask_name(registration.child_name),
            "document_type": registration.document_type,
            "document_number": mask_id_number(registration.document_number),
            "sex": registration.sex}


def state_view(state: status.ApplicationState, season: Season) -> dict:
    verification = state.verification
    return {"details": state.details, "details_label": status.DETAILS_LABELS[state.details],
            "version": state.version,
            "verification": None if verification is None else {
                "version": verification.version, "status": verification.status,
                "label": status.VERIFICATION_LABELS[verification.status],
                "item": verification.item, "reason": verification.reason,
                "overridden": verification.overridden},
            "review": None if state.review is None else review_view(state.review, season)}


def review_view(review: status.Review, season: Season) -> dict:
    """The items named as the season names them, the undecided ones too: a page lists them
    all without knowing the season."""
    items = season.review_items
    decided = {result.item for result in review.results}
    return {"version": review.version, "status": review.status,
            "label": status.REVIEW_LABELS[review.status],
            "results": [{"item": result.item, "label": items[result.item],
                         "passed": result.passed, "reason": result.reason}
                        for result in review.results],
            "pending": [{"item": key, "label": label} for key, label in items.items()
                        if key not in decided]}


def application_view(application: Application, season: Season) -> dict:
    return {"account_no": application.account_no,
            "state": state_view(application.state, season),
            "revision": application.revision,
            "updated_at": application.updated_at.isoformat() if application.updated_at
            else None}


def row_view(listed: Listed) -> dict:
    """A district's list row: the registration masked, the statuses."""
    application = listed.application
    state = application.state
    return {"registration": registration_view(application.registration),
            "details": state.details, "version": state.version,
            "verification": state.verification.status if state.verification else None,
            "review": status.review_stage(state),
            "submitted_at": listed.submitted_at.isoformat() if listed.submitted_at else None,
            "school": state.placement.school if state.placement else None,
            "placement": state.placement.status if state.placement else None}


def placement_view(placed: placement.Placed) -> dict:
    state = placed.application.state
    return {"account_no": placed.application.account_no, "school": placed.school.code,
            "school_name": placed.school.name, "status": state.placement.status,
            "version": state.placement.version}


def school_view(school: School) -> dict:
    return {"code": school.code, "name": school.name, "kind": school.kind,
            "stage": school.stage, "address": school.address, "plan_seats": school.plan_seats,
            "demo": school.demo}


def bulk_outcome_view(key: str, outcomes: list[Outcome]) -> dict:
    succeeded = sum(outcome.ok for outcome in outcomes)
    return {"idempotency_key": key,
            "items": [{"index": outcome.index, "account_no": outcome.account_no,
                       "ok": outcome.ok, "code": outcome.code, "message": outcome.message}
                      for outcome in outcomes],
            "succeeded": succeeded, "failed": len(outcomes) - succeeded}


def district_application_view(application: Application, season: Season) -> dict:
    """Unmasked: a stated purpose's view, audited."""
    registration = application.registration
    return {"account_no": application.account_no, "district": registration.district,
            "hukou_type": registration.hukou_type,
            "registration": {"child_name": registration.child_name,
                             "document_type": registration.document_type,
                             "document_number": registration.document_number,
                             "birth_date": registration.birth_date.isoformat(),
                             "sex": registration.sex,
                             "guardian_phone": registration.guardian_phone},
            "state": state_view(application.state, season), "data": application.data}


def form_data_view(application: Application, submitted_at: datetime | None,
                   season: Season) -> dict:
    """The form's data as printed: each field labelled and its value in words, as the season
    gives them; the fields a `when` condition leaves out are left out."""
    registration, state = application.registration, application.state
    data = application.data or {}
    child = [("儿童姓名", registration.child_name),
             ("证件类型", accounts.DOCUMENT_TYPES[registration.document_type]),
             ("证件号码", registration.document_number),
             ("出生日期", registration.birth_date.isoformat()),
             ("性别", accounts.SEXES[registration.sex]),
             ("户籍类型", accounts.HUKOU_TYPES[registration.hukou_type]),
             ("入学区", district_name(registration.district))]
    sections = [{"key": "registration", "title": "儿童基本信息（注册信息）",
                 "entries": [[{"label": label, "text": text} for label, text in child]]}]
    for section in season.forms[registration.hukou_type].sections:
        found = data.get(section.key)
        entries = found if section.repeated else [found or {}]
        sections.append({"key": section.key, "title": section.title,
                         "entries": [_printed(section, entry or {}) for entry in entries or []]})
    return {"account_no": application.account_no, "season_name": season.name,
            "district": registration.district,
            "district_name": district_name(registration.district),
            "hukou_type": registration.hukou_type,
            "hukou_type_label": accounts.HUKOU_TYPES[registration.hukou_type],
            "version": state.version,
            "submitted_at": submitted_at.isoformat() if submitted_at else None,
            "sections": sections, "state": state_view(state, season),
            "may_print": status.may_print(state),
            "missing": status.print_missing(state, season)}


def _printed(section, entry: dict) -> list[dict]:
    """A section's entry as printed: its applicable fields, an empty text for one not filled."""
    return [{"label": spec.label, "text": _text(spec, entry.get(spec.key))}
            for spec in section.fields
            if all(entry.get(source) in values for source, values in spec.when)]


def _text(spec, value) -> str:
    if value is None or value == "":
        return ""
    if spec.type == "choice":
        return spec.choices.get(value, str(value))
    if spec.type == "yes_no":
        return "是" if value else "否"
    if spec.type == "district":
        return district_name(value)
    if spec.type == "months":
        return f"{value}个月"
    return str(value)


def form_view(form: Form) -> dict:
    """The season's form for the family's hukou type, as the page draws it."""
    def field(spec) -> dict:
        shown = {"key": spec.key, "label": spec.label, "type": spec.type,
                 "required": spec.required, "help": spec.help}
        if spec.choices:
            shown["choices"] = dict(spec.choices)
        if spec.when:
            shown["when"] = {source: sorted(values, key=str) for source, values in spec.when}
        if spec.max_length is not None:
            shown["max_length"] = spec.max_length
        return shown
    return {"hukou_type": form.hukou_type, "title": form.title,
            "sections": [{"key": section.key, "title": section.title, "help": section.help,
                          "min_entries": section.min_entries,
                          "max_entries": section.max_entries,
                          "fields": [field(spec) for spec in section.fields]}
                         for section in form.sections]}


_NAMES = {"name", "head_name"}
_DOCUMENTS = {"document_number"}
_PHONES = {"phone"}
_ADDRESSES = {"address"}


def masked(value, key: str | None = None):
    """Details with names, document numbers, phones and addresses masked, and the numbers in
    any other text (certificate and permit numbers)."""
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if not isinstance(value, str):
        return value
    if key in _NAMES:
        return mask_name(value)
    if key in _DOCUMENTS:
        return mask_id_number(value)
    if key in _PHONES:
        return mask_phone(value)
    if key in _ADDRESSES:  # the district and street stay: 朝阳区团结湖路****
        return value[:6] + "****"
    return mask_text(value)


def _operator(caller: Caller, staff_id: str) -> district.Operator:
    return district.Operator(caller.district.code, staff_id)


# A page's cursor: opaque to district systems (they pass it back as given).
_CURSOR_PREFIX = "after:"


def _cursor(account_no: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + account_no).encode()).decode()


def _after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        after = base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix(_CURSOR_PREFIX)
    except ValueError:
        after = ""
    if len(after) != 8 or not after.isdigit():
        raise DomainError("VALIDATION_ERROR", fields={"cursor": "格式不正确。"})
    return after


def _day(value: str | None, field: str) -> date | None:
    try:
        return None if value is None else date.fromisoformat(value)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", fields={field: "日期无效。"}) from None


def _account_no(value) -> str:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise DomainError("VALIDATION_ERROR", fields={"account_no": "格式不正确。"})
    return value


def build(settings, pool, publish: Callable | None = None,
          pause: Callable[[], None] = lambda: None) -> EnrollmentApp:
    """The enrollment use cases on `pool`, logged in as enrollment's role, for the season
    SEASON_YEAR (SEASON_PHASES). `publish` gets each committed transaction's outbox events
    (the service's relay; without it they wait in the outbox for a running relay's sweep);
    `pause` is the app's (EnrollmentApp)."""
    season = load_season(settings.SEASON_YEAR, phases=settings.SEASON_PHASES)
    return EnrollmentApp(Store(pool, Keys(settings.master_keys), publish), season,
                         demo_schools=not settings.production, pause=pause)
