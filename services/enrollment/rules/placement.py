"""学校预登记 and 查看入学结果 (the guide's 四 and 五): pure functions of the application's state.

A school, through its district's system, records that the family came with its printed
学龄人口信息采集表: the form's version must be the current submission's (an older printout is
refused: the family prints the new one). The district approves the school's pre-registration;
once the district publishes its results, each family with an approved place sees its school
("学校预登记完成并提交区教委审核通过后，适龄儿童家长方可登录平台查看到入学情况"). Until
the district approves it, a family may be pre-registered again at another school; once approved,
the place is fixed, and once the district has published nothing changes any more.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from common.errors import DomainError
from services.enrollment.rules.season import Season
from services.enrollment.rules.status import (
    APPROVED,
    PREREGISTERED,
    ApplicationState,
    Placement,
    may_print,
)

NOT_PUBLISHED, PLACED, NOT_PLACED = "not_published", "placed", "not_placed"


def preregister(state: ApplicationState, season: Season, now: datetime, version: int,
                school: str, published: bool) -> ApplicationState:
    """The family came to `school` with the printout of `version`. Again at the same school:
    unchanged."""
    season.check_phase_open("preregistration", now)
    _check_not_published(published)
    if not may_print(state):
        raise DomainError("NOT_READY_FOR_PREREGISTRATION")
    if version != state.version:
        raise DomainError("FORM_SUPERSEDED", extra={"current_version": state.version})
    current = state.placement
    if current is not None and current.status == APPROVED:
        if current.school == school:
            return state
        raise DomainError("PLACEMENT_APPROVED")
    placement = Placement(school, PREREGISTERED, version)
    return state if current == placement else replace(state, placement=placement)


def approve(state: ApplicationState, school: str, published: bool) -> ApplicationState:
    """The district approves the family's pre-registration at `school`. Again: unchanged."""
    _check_not_published(published)
    placement = state.placement
    if placement is None or placement.school != school:
        raise DomainError("NOT_PREREGISTERED")
    if placement.status == APPROVED:
        return state
    return replace(state, placement=replace(placement, status=APPROVED))


def check_publishable(season: Season, now: datetime) -> None:
    """A district publishes within the season's 查看入学结果 phase."""
    season.check_phase_open("results", now)


def _check_not_published(published: bool) -> None:
    if published:
        raise DomainError("RESULTS_PUBLISHED")


@dataclass(frozen=True)
class Result:
    status: str  # NOT_PUBLISHED, PLACED or NOT_PLACED
    message: str
    schedule: str  # the results phase's dates
    school: str | None = None  # PLACED: the school's code
    report: str | None = None  # PLACED: when to report and what to bring


def result(state: ApplicationState | None, season: Season, published: bool) -> Result:
    """What the family reads on 查看入学结果; `state` None: no application (yet)."""
    phase = season.phases["results"]
    if not published:
        return Result(NOT_PUBLISHED, f"入学结果尚未公布。各区将于{phase.period}期间按区统一时间"
                                     "安排公布入学结果，请届时登录查看；已获得入学安排的家庭"
                                     "届时会收到短信提醒。采集顺序与入学次序、入学结果无关。",
                      phase.period)
    placement = state.placement if state is not None else None
    if placement is None or placement.status != APPROVED:
        return Result(NOT_PLACED, "本区入学结果已公布，平台上暂未查询到您子女的入学安排"
                                  "（须完成学校入学预登记并经区教委审核通过）。"
                                  "请尽快咨询入学所在区教委。", phase.period)
    return Result(PLACED, "入学结果已公布。请按下方要求到学校报到。", phase.period,
                  placement.school, phase.report or None)
