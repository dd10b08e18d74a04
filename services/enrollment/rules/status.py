"""The application's status machine: pure functions from an immutable state to the next one.

Details (录入详细信息): 未填写 → 已暂存 → 已提交 (信息待审核). Each submission is version n+1 and
starts its 身份证及户籍信息核验 (pending → verified, or failed with an item and a reason). The
family may withdraw a submission and change it while the collection window is open and the
district has not started reviewing; a withdrawal cancels a pending check, and a result that is
not for the pending check of the current version is ignored. 非本市户籍 applications are then
reviewed by the district item by item (通过 / 不通过 with a reason); once every item has a
result the review is approved, or returned: the family may then correct and resubmit while the
window is open. Every refused transition is a DomainError with a stable code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from common.errors import DomainError
from services.enrollment.rules.season import Season, chinese_date

EMPTY, DRAFT, SUBMITTED = "empty", "draft", "submitted"
PENDING, VERIFIED, FAILED = "pending", "verified", "failed"
IN_REVIEW, APPROVED, RETURNED = "in_review", "approved", "returned"

DETAILS_LABELS = {EMPTY: "未填写", DRAFT: "已暂存", SUBMITTED: "已提交（信息待审核）"}
VERIFICATION_LABELS = {PENDING: "身份证及户籍信息待验证", VERIFIED: "身份证及户籍信息已验证",
                       FAILED: "身份证及户籍信息未通过"}
REVIEW_LABELS = {IN_REVIEW: "审核中", APPROVED: "审核通过", RETURNED: "审核未通过"}
# What the verification service can find wrong (its results name one).
VERIFICATION_ITEMS = {"child_identity": "儿童身份证件信息", "hukou": "户籍信息",
                      "guardian_identity": "监护人身份证件信息"}
MAX_REASON = 200


@dataclass(frozen=True)
class Verification:
    version: int
    status: str  # PENDING, VERIFIED or FAILED
    item: str | None = None  # FAILED: a VERIFICATION_ITEMS key
    reason: str | None = None  # FAILED: in words the family understands; or the district's
    overridden: bool = False  # decided by the district (override_verification), not the registry


@dataclass(frozen=True)
class ItemResult:
    item: str  # a key of the season's review_items
    passed: bool
    reason: str | None = None  # required when not passed


@dataclass(frozen=True)
class Review:
    version: int
    status: str = IN_REVIEW  # IN_REVIEW, APPROVED or RETURNED
    results: tuple[ItemResult, ...] = ()  # in the season's item order


@dataclass(frozen=True)
class Placement:
    """学校预登记 (rules/placement.py): the school the family came to with its printed form."""
    school: str  # the school's code in the district's reference data
    status: str  # PREREGISTERED, then APPROVED by the district
    version: int  # the form's version the school saw


PREREGISTERED = "preregistered"
PLACEMENT_LABELS = {PREREGISTERED: "已预登记，待区教委审核", APPROVED: "预登记已审核通过"}


@dataclass(frozen=True)
class ApplicationState:
    hukou_type: str
    details: str = EMPTY
    version: int = 0  # the latest submitted version (0: none yet)
    # Of `version`. A withdrawal drops a pending check and keeps a given result, so that the
    # family still reads why while correcting; the next submission replaces both.
    verification: Verification | None = None
    review: Review | None = None
    placement: Placement | None = None  # of `version`: a new submission needs a new form


# The family's transitions ------------------------------------------------------------------

def save_draft(state: ApplicationState, season: Season, now: datetime) -> ApplicationState:
    season.check_phase_open("collection", now)
    if state.details == SUBMITTED:
        raise DomainError("ALREADY_SUBMITTED")
    return replace(state, details=DRAFT)


def submit(state: ApplicationState, season: Season, now: datetime) -> ApplicationState:
    """Version n+1, checked again from the start."""
    season.check_phase_open("collection", now)
    if state.details == SUBMITTED:
        raise DomainError("ALREADY_SUBMITTED")
    version = state.version + 1
    return replace(state, details=SUBMITTED, version=version,
                   verification=Verification(version, PENDING), review=None, placement=None)


def withdraw(state: ApplicationState, season: Season, now: datetime) -> ApplicationState:
    season.check_phase_open("collection", now)
    if state.details != SUBMITTED:
        raise DomainError("NOT_SUBMITTED")
    if state.review is not None and state.review.status == APPROVED:
        raise DomainError("UNDER_REVIEW", "入学资格审核已通过，信息不能再撤回或修改。")
    if state.review is not None and state.review.status == IN_REVIEW:
        raise DomainError("UNDER_REVIEW")
    pending = state.verification is not None and state.verification.status == PENDING
    return replace(state, details=DRAFT, verification=None if pending else state.verification,
                   placement=None)


def available_actions(state: ApplicationState, season: Season, now: datetime) -> frozenset:
    """The family's transitions allowed now: the page's buttons."""
    allowed = set()
    for name, transition in (("save_draft", save_draft), ("submit", submit),
                             ("withdraw", withdraw)):
        try:
            transition(state, season, now)
        except DomainError:
            continue
        allowed.add(name)
    return frozenset(allowed)


# The verification service's result ---------------------------------------------------------

def apply_verification(state: ApplicationState, version: int, verified: bool,
                       item: str | None = None,
                       reason: str | None = None) -> ApplicationState | None:
    """The state with the result, or None when it is not for the pending check of the current
    submitted version (an older version's, a withdrawn one's, or a repeat): ignored."""
    if verified and (item or reason):
        raise DomainError("VALIDATION_ERROR", fields={"reason": "验证通过的结果不应有原因。"})
    if not verified:
        problems = {}
        if item not in VERIFICATION_ITEMS:
            problems["item"] = "未知的核验项目。"
        if not reason or not reason.strip() or len(reason) > MAX_REASON:
            problems["reason"] = f"请填写未通过的原因（不超过{MAX_REASON}字）。"
        if problems:
            raise DomainError("VALIDATION_ERROR", fields=problems)
    current = state.verification
    if state.details != SUBMITTED or current is None or current.version != version or \
            current.status != PENDING:
        return None
    if verified:
        return replace(state, verification=Verification(version, VERIFIED))
    return replace(state, verification=Verification(version, FAILED, item, reason.strip()))


def override_verification(state: ApplicationState, version: int, verified: bool,
                          item: str | None, reason: str) -> ApplicationState:
    """The district's own checks decide the check of the current version, with the reason the
    family reads: while the check is pending, or before the review is finished and the family
    pre-registered. A failure ends a review in progress (the family corrects and resubmits)."""
    current = state.verification
    if state.details != SUBMITTED or current is None or current.version != version or \
            version != state.version or state.placement is not None or (
                state.review is not None and state.review.status != IN_REVIEW):
        raise DomainError("VERIFICATION_NOT_OVERRIDABLE")
    reason = reason.strip()
    problems = {}
    if not reason or len(reason) > MAX_REASON:
        problems["reason"] = f"请填写原因（不超过{MAX_REASON}字）。"
    if not verified and item not in VERIFICATION_ITEMS:
        problems["item"] = "请选择未通过的核验项目。"
    if verified and item is not None:
        problems["item"] = "验证通过时不应填写核验项目。"
    if problems:
        raise DomainError("VALIDATION_ERROR", fields=problems)
    if verified:
        return replace(state, verification=Verification(version, VERIFIED, reason=reason,
                                                        overridden=True))
    return replace(state, verification=Verification(version, FAILED, item, reason, True),
                   review=None)


# The district's review (非本市户籍) ----------------------------------------------------------

def start_review(state: ApplicationState, season: Season, now: datetime,
                 version: int) -> ApplicationState:
    """From here the family can no longer withdraw. Starting twice changes nothing."""
    _check_reviewable(state, season, now, version)
    if state.review is None:
        return replace(state, review=Review(version))
    if state.review.status == IN_REVIEW:
        return state
    raise DomainError("REVIEW_FINISHED")


def record_review_result(state: ApplicationState, season: Season, now: datetime, version: int,
                         item: str, passed: bool, reason: str | None = None) -> ApplicationState:
    """One item's 通过 / 不通过; a result may be changed until every item has one."""
    _check_reviewable(state, season, now, version)
    if state.review is None:
        raise DomainError("REVIEW_NOT_STARTED")
    if state.review.status != IN_REVIEW:
        raise DomainError("REVIEW_FINISHED")
    if item not in season.review_items:
        raise DomainError("VALIDATION_ERROR", fields={"item": "没有该审核项目。"})
    reason = (reason or "").strip() or None
    if (not passed and reason is None) or (reason is not None and len(reason) > MAX_REASON):
        raise DomainError("VALIDATION_ERROR", fields={
            "reason": f"请填写不通过的原因（不超过{MAX_REASON}字）。"})
    results = {result.item: result for result in state.review.results}
    results[item] = ItemResult(item, passed, reason)
    ordered = tuple(results[key] for key in season.review_items if key in results)
    status = IN_REVIEW
    if len(ordered) == len(season.review_items):
        status = APPROVED if all(result.passed for result in ordered) else RETURNED
    return replace(state, review=Review(version, status, ordered))


def review_stage(state: ApplicationState) -> str | None:
    """Where the review stands, as districts filter on it: None for 本市户籍 (never
    reviewed), "not_started" before the district starts, else the review's status."""
    if state.hukou_type != "non_beijing":
        return None
    return state.review.status if state.review is not None else "not_started"


# Who reviews which item: the employment material 人力社保, the dwelling 住建, the residence
# permit 公安, every other item 街道.
REVIEWING_AGENCIES = {"employment": "人力社保", "dwelling": "住建", "permit": "公安"}
OTHER_ITEMS_AGENCY = "街道"


def check_agency(item: str, agency: str) -> None:
    """WRONG_AGENCY unless `agency` reviews `item`."""
    expected = REVIEWING_AGENCIES.get(item, OTHER_ITEMS_AGENCY)
    if agency != expected:
        raise DomainError("WRONG_AGENCY", f"该审核项目应由{expected}审核。",
                          fields={"agency": f"应为{expected}。"})


def _check_reviewable(state: ApplicationState, season: Season, now: datetime,
                      version: int) -> None:
    season.check_phase_open("review", now)
    if state.hukou_type != "non_beijing":
        raise DomainError("REVIEW_NOT_APPLICABLE")
    if state.details != SUBMITTED:
        raise DomainError("REVIEW_NOT_READY")
    if version != state.version:
        raise DomainError("VERSION_MISMATCH",
                          f"该申请已更新为第{state.version}版，请刷新后重新审核。")
    if state.verification is None or state.verification.status != VERIFIED:
        raise DomainError("REVIEW_NOT_READY")


# Where the family stands: the guide's 信息采集导航页 -----------------------------------------

@dataclass(frozen=True)
class Step:
    key: str
    title: str
    status: str
    label: str  # the status in words
    open: bool  # the family can act on it (or read it) now
    period: str | None = None  # its dates, when it has a phase
    note: str | None = None  # what went wrong, in words


@dataclass(frozen=True)
class Journey:
    steps: tuple[Step, ...]
    next_step: str


def journey(state: ApplicationState, season: Season, now: datetime,
            published: bool = False) -> Journey:
    """`published`: the family's district has published its results."""
    form_title = season.forms[state.hukou_type].title
    submitted = state.details == SUBMITTED
    problem = _problem(state, season)
    steps = [Step("details", form_title, state.details, DETAILS_LABELS[state.details],
                  bool(available_actions(state, season, now)),
                  season.phases["collection"].period)]
    if submitted:
        check = state.verification.status
        overridden = "（经区教委核实）" if state.verification.overridden else ""
        steps.append(Step("verification", "身份证及户籍信息核验", check,
                          VERIFICATION_LABELS[check] + overridden, True,
                          note=problem if check == FAILED else None))
    else:
        steps.append(Step("verification", "身份证及户籍信息核验", "not_submitted", "未提交",
                          False))
    if state.hukou_type == "non_beijing":
        review = state.review if submitted else None
        steps.append(Step(
            "review", "入学资格审核", review.status if review else "not_started",
            REVIEW_LABELS[review.status] if review else "未开始",
            submitted and season.phase_open("review", now), season.phases["review"].period,
            problem if review and review.status == RETURNED else None))
    eligible = may_print(state)
    locked = ("入学资格审核通过后可办理" if state.hukou_type == "non_beijing"
              else "身份证及户籍信息验证通过后可办理")
    steps.append(_later_step("print_form", season, now, eligible, locked))
    placement = state.placement
    if placement is not None:
        steps.append(Step("preregistration", season.phases["preregistration"].name,
                          placement.status, PLACEMENT_LABELS[placement.status], True,
                          season.phases["preregistration"].period))
    else:
        steps.append(_later_step("preregistration", season, now, eligible, locked))
    if published:
        steps.append(Step("results", season.phases["results"].name, "published", "已公布", True,
                          season.phases["results"].period))
    else:
        steps.append(_later_step("results", season, now, eligible, locked))
    return Journey(tuple(steps), _next_step(state, season, now, form_title, problem, published))


def may_print(state: ApplicationState) -> bool:
    """The guide: 非本市户籍 children once every review item passed, the others once
    verified."""
    if state.details != SUBMITTED or state.verification.status != VERIFIED:
        return False
    return state.hukou_type != "non_beijing" or (
        state.review is not None and state.review.status == APPROVED)


def print_missing(state: ApplicationState, season: Season) -> str | None:
    """What keeps the family from printing its 学龄人口信息采集表, in words it can act on; None
    once it may (may_print)."""
    if may_print(state):
        return None
    if state.details != SUBMITTED:
        return "信息尚未提交：请先提交详细信息。"
    if state.verification.status != VERIFIED:
        return "身份证及户籍信息尚未验证通过。"
    review = state.review
    passed = {result.item for result in review.results if result.passed} if review else set()
    waiting = "、".join(label for key, label in season.review_items.items() if key not in passed)
    return f"入学资格审核尚未全部通过（{waiting}）。"


def _later_step(key: str, season: Season, now: datetime, eligible: bool, locked: str) -> Step:
    phase = season.phases[key]
    where = season.phase_state(key, now)
    if not eligible:
        status, label = "locked", locked
    elif where == "open":
        status, label = "open", "可以办理"
    elif where == "before":
        status, label = "not_yet", f"{chinese_date(phase.start)}开始"
    else:
        status, label = "closed", "已结束"
    return Step(key, phase.name, status, label, status == "open", phase.period)


def _problem(state: ApplicationState, season: Season) -> str | None:
    """Why the last submission was refused, if it was."""
    verification, review = state.verification, state.review
    if verification is not None and verification.status == FAILED:
        return (f"身份证及户籍信息未通过（{VERIFICATION_ITEMS[verification.item]}："
                f"{verification.reason}）")
    if review is not None and review.status == RETURNED:
        failed = "；".join(f"{season.review_items[r.item]}：{r.reason}"
                          for r in review.results if not r.passed)
        return f"入学资格审核未通过（{failed}）"
    return None


def _next_step(state: ApplicationState, season: Season, now: datetime, form_title: str,
               problem: str | None, published: bool) -> str:
    collection = season.phases["collection"]
    end = chinese_date(collection.end)
    if state.details != SUBMITTED:
        where = season.phase_state("collection", now)
        if where == "before":
            return f"信息采集时间为{collection.period}，届时请点击“{form_title}”填写。"
        if where == "after":
            return f"信息采集已于{end}结束，您未提交信息。如有疑问，请咨询入学所在区教委。"
        if problem:
            return f"{problem}。请点击“{form_title}”修改后重新提交。"
        if state.details == EMPTY:
            return (f"请点击“{form_title}”，如实填写并提交信息（截止到{end}）。"
                    "采集顺序与入学次序、入学结果无关。")
        return "您的信息已暂存，尚未提交。请核对无误后点击“提交信息”。"
    may_withdraw = "withdraw" in available_actions(state, season, now)
    correct = (f"请撤回后修改信息并重新提交（截止到{end}）。" if may_withdraw
               else "如有疑问，请咨询入学所在区教委。")
    if state.verification.status == PENDING:
        return "信息已提交，正在进行身份证及户籍信息核验，请耐心等待。" + (
            f"如发现填写错误，可在{end}前撤回修改。" if may_withdraw else "")
    if problem:
        return f"{problem}。{correct}"
    if published:
        return "本区入学结果已公布，请点击“查看入学结果”查看入学情况。"
    if state.placement is not None:
        results = season.phases["results"]
        if state.placement.status == PREREGISTERED:
            return "已完成学校入学预登记，请等待区教委审核。"
        return (f"学校入学预登记已审核通过。入学结果将于{results.period}期间按区统一时间安排"
                "公布，请届时点击“查看入学结果”查看。")
    if not may_print(state):  # 非本市户籍, verified, review not finished
        if state.review is None:
            return "身份证及户籍信息已验证，请等待区教委进行入学资格审核。"
        return "区教委正在进行入学资格审核，审核结果将根据各区时间安排陆续公布，请耐心等待。"
    for key, text in (
            ("print_form", "请点击“打印信息采集表”，下载并打印学龄人口信息采集表，"
                           "学校入学预登记时须携带。"),
            ("preregistration", "请按学校通知，携带学龄人口信息采集表参加学校入学预登记。"),
            ("results", "请点击“查看入学结果”查看入学情况。")):
        if season.phase_open(key, now):
            return text
    for key in ("print_form", "preregistration", "results"):
        phase = season.phases[key]
        if season.phase_state(key, now) == "before":
            return f"{phase.name}将于{chinese_date(phase.start)}开始，请届时登录办理。"
    return "本年度入学服务已结束。如有疑问，请咨询入学所在区教委。"


# A dispute over the child's document settled by the district ---------------------------------

def handed_over(state: ApplicationState) -> ApplicationState:
    """The application as the real guardian finds it once the district moved the child's
    account to them: 未填写, none of the former holder's checks or review. The version count
    stays, so that the guardian's first submission is a version the verification service has
    not seen (it checks each version of an account once)."""
    return ApplicationState(state.hukou_type, version=state.version)
