"""The enrollment service's public contract: its events and RPC methods, the families' (through
the gateway: EnrollmentRpc) and the district systems' (DistrictRpc, services/enrollment/
district_client.py).

This module (with `common`) is the only part of the enrollment service that other services,
the gateway and district systems may import.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.contract_base import ContractModel, Cost, Event, RpcContract, RpcMethod
from services.accounts.contract import (
    ACCOUNT_NO_PATTERN,
    PHONE_PATTERN,
    DocumentType,
    HukouType,
    Sex,
)

SERVICE_NAME = "enrollment"

Text = Field(min_length=1, max_length=100)


class Child(ContractModel):
    """As registered (accounts), unchanged since."""
    name: str = Text
    document_type: DocumentType
    document_number: str = Field(min_length=1, max_length=32)
    birth_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    sex: Sex


class Household(ContractModel):
    """The child's hukou: a Beijing district and address, or a GB/T 2260 county elsewhere."""
    head_name: str = Text
    relation_to_head: str = Field(min_length=1, max_length=32)
    hukou_district: str | None = Field(default=None, max_length=32)  # 本市户籍
    hukou_address: str | None = Field(default=None, max_length=200)  # 本市户籍
    hukou_region: str | None = Field(default=None, pattern=r"^\d{6}$")  # 非本市户籍


class Guardian(ContractModel):
    name: str = Text
    relation: str = Field(min_length=1, max_length=32)
    document_type: str = Field(min_length=1, max_length=32)
    document_number: str = Field(min_length=1, max_length=32)


class ResidencePermit(ContractModel):
    """A guardian's 北京市居住证 (非本市户籍), its holder named as in the guardians' list."""
    holder_name: str = Text
    holder_document_number: str = Field(min_length=1, max_length=32)
    permit_number: str = Field(min_length=1, max_length=30)
    valid_until: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    issuing_district: str = Field(min_length=1, max_length=32)


# Events published by enrollment (exchange "enrollment.events").
DETAILS_SUBMITTED = "details_submitted"


class DetailsSubmitted(ContractModel):
    """A family submitted version `version` of its details. The verification service checks
    the child's identity and hukou and the guardians' documents, and answers with a result for
    this account and version; a result for any other version is ignored."""
    event_id: str
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    district: str = Field(min_length=1, max_length=32)
    hukou_type: HukouType
    child: Child
    household: Household
    guardians: list[Guardian] = Field(min_length=1, max_length=10)
    residence_district: str = Field(min_length=1, max_length=32)
    # 非本市户籍 only (empty for 本市户籍): the permits the family entered.
    residence_permits: list[ResidencePermit] = Field(default_factory=list, max_length=2)
    # The day the permits must be valid on (the season's permit_valid_on), YYYY-MM-DD.
    reference_date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")


DETAILS_WITHDRAWN = "details_withdrawn"


class DetailsWithdrawn(ContractModel):
    """The family withdrew version `version` to change it: its check, if still pending, is
    cancelled (a result sent anyway is ignored)."""
    event_id: str
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)


VERIFICATION_OUTCOME = "verification_outcome"


class VerificationOutcome(Event):
    """The 身份证及户籍信息核验 of the current version `version` is over (a result for an older
    version sends none): notify texts the guardian the outcome once. Only the phone it is sent
    to; the failed items stay on the family's page."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    status: Literal["verified", "failed"]
    guardian_phone: str = Field(pattern=PHONE_PATTERN)


REVIEW_OUTCOME = "review_outcome"


class ReviewOutcome(Event):
    """The district decided the 入学资格审核 of version `version` (every item has a result):
    notify texts the guardian once. The items and reasons stay on the family's page."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    status: Literal["approved", "returned"]
    guardian_phone: str = Field(pattern=PHONE_PATTERN)


RESULT_PUBLISHED = "result_published"


class ResultPublished(Event):
    """The district published its results and this family has a place: notify texts the
    guardian once to look at 查看入学结果. The school stays on the family's page."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    guardian_phone: str = Field(pattern=PHONE_PATTERN)


DOCUMENT_MOVED = "document_moved"


class DocumentMoved(Event):
    """The district settled a dispute over the child's document number: the child's account
    (its number, its registration) now belongs to the claimant, the real guardian, whose phone
    it is now. Accounts moves the account to that phone, ends its sessions and requires a new
    password; notify texts both phones. What the former holder entered is deleted."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    district: str = Field(min_length=1, max_length=32)
    former_phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    claimant_phone: str = Field(pattern=PHONE_PATTERN)


EVENTS = {DETAILS_SUBMITTED: DetailsSubmitted, DETAILS_WITHDRAWN: DetailsWithdrawn,
          VERIFICATION_OUTCOME: VerificationOutcome, REVIEW_OUTCOME: ReviewOutcome,
          RESULT_PUBLISHED: ResultPublished, DOCUMENT_MOVED: DocumentMoved}


class AccountRef(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)


Details = dict[str, Any]  # {section: {field: value}}; a repeated group {section: [{...}]}


class JourneyRequest(AccountRef):
    # The account's (accounts'), for the journey of an application not opened yet: accounts'
    # `family_registered` opens it a moment after registration.
    hukou_type: HukouType


class DetailsBody(ContractModel):
    """Details as a family sends them through the gateway, which adds the session's account."""
    data: Details  # checked against the season's field set by the rules (rules/fields.py)


class DetailsChange(DetailsBody):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)


# The answers (built by bootstrap.py's view functions). Personal values in them are masked,
# except `DetailsView.data`: the family's own form, shown to that family to edit it.

DetailsStatus = Literal["empty", "draft", "submitted"]


class JourneyStep(ContractModel):
    """One step of the 信息采集导航页."""
    key: str
    title: str
    status: str  # the step's own states, e.g. "pending"; "not_started" before it applies
    label: str  # the status in words
    open: bool  # the family can act on it (or read it) now
    period: str | None = None  # its dates, when it has a phase
    note: str | None = None  # what went wrong, in words


class Journey(ContractModel):
    steps: list[JourneyStep]
    next_step: str


class RegistrationFacts(ContractModel):
    """What registration gave, read-only, masked (no birth date beside the masked number)."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    district: str
    district_name: str
    hukou_type: HukouType
    child_name: str
    document_type: DocumentType
    document_number: str
    sex: Sex


class VerificationState(ContractModel):
    version: int = Field(ge=1)
    status: Literal["pending", "verified", "failed"]
    label: str
    item: str | None = None  # failed: child_identity, hukou or guardian_identity
    reason: str | None = None  # failed: what is wrong and what to do, in words; or the district's
    overridden: bool = False  # decided by the district's own checks, not the registry


class ReviewItem(ContractModel):
    """A material item of the 入学资格审核 (the season's review_items)."""
    item: str  # its key, as district systems name it
    label: str  # its name, as the family reads it


class ReviewResult(ReviewItem):
    passed: bool
    reason: str | None = None


class ReviewState(ContractModel):
    version: int = Field(ge=1)
    status: Literal["in_review", "approved", "returned"]
    label: str
    results: list[ReviewResult]  # the items decided, in the season's order
    pending: list[ReviewItem]  # the items not decided yet, in the season's order


class ApplicationState(ContractModel):
    details: DetailsStatus
    details_label: str
    version: int = Field(ge=0)  # the latest submission's number; 0 before the first
    verification: VerificationState | None = None
    review: ReviewState | None = None


class FieldView(ContractModel):
    """One field of the season's form (seasons/<year>.toml)."""
    key: str
    label: str
    type: Literal["text", "choice", "date", "district", "region", "id_number", "phone",
                  "uscc", "months", "yes_no"]
    required: bool
    help: str | None = None
    choices: dict[str, str] | None = None  # value -> its text
    # Applies only when each named sibling field has one of the values.
    when: dict[str, list[str | bool]] | None = None
    max_length: int | None = None


class SectionView(ContractModel):
    key: str
    title: str
    help: str | None = None
    min_entries: int | None = None  # a repeated group (a list of entries) when set
    max_entries: int | None = None
    fields: list[FieldView]


class FormView(ContractModel):
    hukou_type: HukouType
    title: str
    sections: list[SectionView]


class DetailsView(ContractModel):
    """The 录入详细信息 page: the registration read-only, the state, the form and the family's
    details (as entered), and what it may do now."""
    registration: RegistrationFacts
    state: ApplicationState
    form: FormView
    data: Details | None
    actions: list[Literal["save_draft", "submit", "withdraw"]]
    collection_period: str


class ApplicationView(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    state: ApplicationState
    revision: int = Field(ge=0)
    updated_at: str | None


class Submission(ContractModel):
    """A submitted version, kept for good; its personal values masked."""
    version: int = Field(ge=1)
    current: bool  # the submission in force; every other one was withdrawn
    submitted_at: str
    data: Details


class Access(ContractModel):
    """A district's look at the family's data, as the family sees it: never the staff id."""
    district_name: str
    agency: str | None  # the reviewing agency of a review item (人力社保, 住建, 公安, 街道)
    at: str  # ISO-8601
    purpose: str


class SchoolView(ContractModel):
    """A school of the district's reference data (nothing personal)."""
    code: str
    name: str
    kind: Literal["公办", "民办", "公办寄宿"]
    stage: Literal["小学", "初中"]
    address: str
    plan_seats: int = Field(ge=0)
    demo: bool  # demo data (`make run`), not a real school


class ResultView(ContractModel):
    """查看入学结果 as the family sees it."""
    # not_published: the district has not published yet; placed: a school; not_placed:
    # published, and the family has no approved place (what to do is in `message`)
    status: Literal["not_published", "placed", "not_placed"]
    message: str  # in words: the district's schedule before, what to do after
    schedule: str  # the results phase's dates
    published_at: str | None = None  # ISO-8601, once published
    school: SchoolView | None = None  # placed
    report: str | None = None  # placed: when to report to the school and what to bring


# The documents service's own calls (services/documents/): the 学龄人口信息采集表 and the check
# of a printout. Its broker user may call these two only; the gateway may call neither.

class FormDataRequest(AccountRef):
    """The family's data unmasked, for one purpose only: printing the family's own form."""
    purpose: Literal["print_form"]


class FormEntry(ContractModel):
    """One printed field: the season's label and the value as the family reads it (a choice's
    text, a district's name)."""
    label: str
    text: str


class FormSection(ContractModel):
    """A section of the form: one entry of fields, or one per member of a repeated group (the
    guardians)."""
    key: str
    title: str
    entries: list[list[FormEntry]]


class FormData(ContractModel):
    """What the 学龄人口信息采集表 prints: the registration and the current version's details,
    unmasked (the family's own form), labelled as the season labels them; the states."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    season_name: str
    district: str
    district_name: str
    hukou_type: HukouType
    hukou_type_label: str  # 本市户籍 / 非本市户籍
    version: int = Field(ge=0)  # the current submission's; 0 before the first
    submitted_at: str | None  # ISO-8601, the current version's
    sections: list[FormSection]  # the registration first, then the season's sections
    state: ApplicationState  # the verification's, and the review's item by item
    may_print: bool  # rules/status.py may_print
    missing: str | None = None  # not may_print: what is missing, in words


class FormStanding(ContractModel):
    """Where the family's application stands, for the status of its form and the check of a
    printout: nothing personal beyond the masked name."""
    version: int = Field(ge=0)  # the latest submission's
    submitted: bool  # that version is in force (not withdrawn)
    child_name: str  # masked
    district_name: str
    may_print: bool
    missing: str | None = None


class EnrollmentRpc(RpcContract):
    """The enrollment service's RPC methods; each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME
    expensive_apart = True

    get_journey = RpcMethod(JourneyRequest, Journey)
    get_details = RpcMethod(AccountRef, DetailsView)
    save_draft = RpcMethod(DetailsChange, ApplicationView)
    submit = RpcMethod(DetailsChange, ApplicationView)
    withdraw = RpcMethod(AccountRef, ApplicationView)
    get_history = RpcMethod(AccountRef, list[Submission])
    # who among the districts opened the family's data: newest first
    get_accesses = RpcMethod(AccountRef, list[Access])
    get_result = RpcMethod(AccountRef, ResultView)
    # The documents service's (audited, shown to nobody as a district's look):
    get_form_data = RpcMethod(FormDataRequest, FormData)
    # None: no application (never opened, or deleted with the cancelled account)
    get_form_standing = RpcMethod(AccountRef, FormStanding | None)


# District systems (services/enrollment/district_client.py). The service knows the calling
# district from its broker user, never from the request; every call names the operator (a
# staff id) and is audited.

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
StaffId = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
Agency = Literal["人力社保", "住建", "公安", "街道"]
VerificationStatus = Literal["pending", "verified", "failed"]
ReviewStatus = Literal["not_started", "in_review", "approved", "returned"]
PlacementStatus = Literal["preregistered", "approved"]
SCHOOL_CODE_PATTERN = r"^\d{10}$"  # the school's 学校标识码 (rules/schools.py)
SchoolCode = Field(pattern=SCHOOL_CODE_PATTERN)
MAX_PAGE = 500
MAX_BULK = 5000


class ApplicationQuery(ContractModel):
    """A page of the district's applications, filtered; `cursor` is the previous page's
    `next_cursor` (the same filters)."""
    operator: str = StaffId
    purpose: str | None = Field(default=None, max_length=200)
    details: DetailsStatus | None = None
    hukou_type: HukouType | None = None
    verification: VerificationStatus | None = None
    review: ReviewStatus | None = None  # not_started: 非本市户籍 not yet in review
    submitted_from: str | None = Field(default=None, pattern=DATE_PATTERN)  # inclusive
    submitted_to: str | None = Field(default=None, pattern=DATE_PATTERN)  # inclusive
    school: str | None = Field(default=None, pattern=SCHOOL_CODE_PATTERN)  # its pupils
    placement: Literal["none", "preregistered", "approved"] | None = None
    cursor: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)


class ApplicationRow(ContractModel):
    """One application of the list, masked."""
    registration: RegistrationFacts
    details: DetailsStatus
    version: int = Field(ge=0)
    verification: VerificationStatus | None
    review: ReviewStatus | None  # None: 本市户籍 (no review)
    submitted_at: str | None  # the current version's
    school: str | None = None  # the school it is pre-registered at
    placement: PlacementStatus | None = None


class ApplicationPage(ContractModel):
    rows: list[ApplicationRow]
    next_cursor: str | None  # None: the last page


class ApplicationLookup(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    purpose: str = Field(min_length=1, max_length=200)  # why the operator opens it, audited
    operator: str = StaffId


class RegisteredChild(ContractModel):
    """What registration gave, unmasked (a stated purpose's view only)."""
    child_name: str
    document_type: DocumentType
    document_number: str
    birth_date: str
    sex: Sex
    guardian_phone: str | None


class DistrictApplication(ContractModel):
    """One application unmasked: opened with a stated purpose, audited, shown to the family."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    district: str
    hukou_type: HukouType
    registration: RegisteredChild
    state: ApplicationState
    data: Details | None


class ItemDecision(ContractModel):
    """入学资格审核 (非本市户籍): one material item of version `version` 通过 / 不通过 (with a
    reason the family can act on), by `agency` (the item's: 人力社保 employment, 住建 dwelling,
    公安 permit, 街道 the rest)."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    item: str = Field(min_length=1, max_length=32)
    passed: bool
    reason: str | None = Field(default=None, max_length=200)
    operator: str = StaffId
    agency: Agency


class VerificationOverride(ContractModel):
    """The district overrides the 身份证及户籍信息核验 of version `version` after its own
    checks (the registry was wrong, or missed something), with the reason the family reads."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    verified: bool
    item: Literal["child_identity", "hukou", "guardian_identity"] | None = None  # not verified
    reason: str = Field(min_length=1, max_length=200)
    operator: str = StaffId


class DocumentDispute(ContractModel):
    """A dispute over a child's document number settled by the district's checks: the account
    holding it (registered by someone else) moves to the real guardian's phone."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)  # the account holding the document
    claimant_phone: str = Field(pattern=PHONE_PATTERN)  # the real guardian's
    reason: str = Field(min_length=1, max_length=200)  # the district's checks, audited
    operator: str = StaffId


class DisputeSettled(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    claimant_phone: str  # masked


class Preregistration(ContractModel):
    """学校预登记: the school saw the family's printed 学龄人口信息采集表, whose account number
    (its barcode) and version are as printed; a form of an older version is refused."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    version: int = Field(ge=1)
    school: str = SchoolCode
    operator: str = StaffId


class Approval(ContractModel):
    """The district approves the school's pre-registration of the family."""
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    school: str = SchoolCode
    operator: str = StaffId


class Placement(ContractModel):
    account_no: str = Field(pattern=ACCOUNT_NO_PATTERN)
    school: str
    school_name: str
    status: PlacementStatus
    version: int = Field(ge=1)  # the form's the school saw


class OperatorRef(ContractModel):
    operator: str = StaffId


class Publication(ContractModel):
    """The district's results, visible to its families from `published_at`."""
    district: str
    published_at: str  # ISO-8601
    placed: int = Field(ge=0)  # families with an approved place, each texted once


IdempotencyKey = Field(pattern=r"^[A-Za-z0-9._:-]{8,64}$")


class BulkReview(ContractModel):
    """Up to MAX_BULK decisions in one call. Repeating the call with the same key (after a
    timeout, say) changes nothing more and answers the same outcomes; the same key with other
    items is refused."""
    idempotency_key: str = IdempotencyKey
    items: list[ItemDecision] = Field(min_length=1, max_length=MAX_BULK)


class BulkPreregistration(ContractModel):
    idempotency_key: str = IdempotencyKey
    items: list[Preregistration] = Field(min_length=1, max_length=MAX_BULK)


class BulkApproval(ContractModel):
    idempotency_key: str = IdempotencyKey
    items: list[Approval] = Field(min_length=1, max_length=MAX_BULK)


class ItemOutcome(ContractModel):
    index: int = Field(ge=0)  # the item's place in the request
    account_no: str
    ok: bool
    code: str | None = None  # the refusal's (common/errors.py), when not ok
    message: str | None = None


class BulkOutcome(ContractModel):
    idempotency_key: str
    items: list[ItemOutcome]  # in the request's order
    succeeded: int = Field(ge=0)
    failed: int = Field(ge=0)


class SchoolQuery(ContractModel):
    operator: str = StaffId
    stage: Literal["小学", "初中"] | None = None


class SchoolsImport(ContractModel):
    """The district's schools as CSV (rules/schools.py CSV_COLUMNS, UTF-8); a row of another
    district is refused. `replace`: the district's schools the file does not hold are
    removed."""
    operator: str = StaffId
    csv_text: str = Field(min_length=1, max_length=2_000_000)
    replace: bool = False


class SchoolsImported(ContractModel):
    added: int = Field(ge=0)
    changed: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    removed: int = Field(ge=0)


class DistrictRpc(RpcContract):
    """The enrollment service's methods for district systems (their broker users may call
    nothing else); each refusal is a common.errors.DomainError."""
    service = SERVICE_NAME
    expensive_apart = True  # the bulk calls, a publication, an import of schools

    district_list_applications = RpcMethod(ApplicationQuery, ApplicationPage)
    district_show_application = RpcMethod(ApplicationLookup, DistrictApplication)
    district_review_item = RpcMethod(ItemDecision, ApplicationState)
    district_override_verification = RpcMethod(VerificationOverride, ApplicationState)
    district_move_document = RpcMethod(DocumentDispute, DisputeSettled)
    district_preregister = RpcMethod(Preregistration, Placement)
    district_approve = RpcMethod(Approval, Placement)
    # a district's whole list at once: seconds of work each
    district_publish = RpcMethod(OperatorRef, Publication, Cost.EXPENSIVE)
    district_bulk_review = RpcMethod(BulkReview, BulkOutcome, Cost.EXPENSIVE)
    district_bulk_preregister = RpcMethod(BulkPreregistration, BulkOutcome, Cost.EXPENSIVE)
    district_bulk_approve = RpcMethod(BulkApproval, BulkOutcome, Cost.EXPENSIVE)
    district_list_schools = RpcMethod(SchoolQuery, list[SchoolView])
    district_import_schools = RpcMethod(SchoolsImport, SchoolsImported, Cost.EXPENSIVE)
