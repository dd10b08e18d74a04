"""The application's status machine, transition by transition, and the navigation page."""

from __future__ import annotations

import pytest

from common.errors import DomainError
from services.enrollment.rules import status
from services.enrollment.rules.status import (
    APPROVED,
    DRAFT,
    EMPTY,
    FAILED,
    IN_REVIEW,
    PENDING,
    RETURNED,
    SUBMITTED,
    VERIFIED,
    ApplicationState,
    ItemResult,
    Review,
    Verification,
)
from services.enrollment.tests.samples import ALWAYS_OPEN, IN_COLLECTION, SEASON, at

NOW = IN_COLLECTION
BEFORE, AFTER = at(2027, 5, 5), at(2027, 6, 1)
ITEMS = list(SEASON.review_items)


def refused(code: str, transition, *args) -> DomainError:
    with pytest.raises(DomainError) as caught:
        transition(*args)
    assert caught.value.code == code
    return caught.value


def submitted(hukou_type="beijing", version=1) -> ApplicationState:
    state = ApplicationState(hukou_type, details=DRAFT, version=version - 1)
    return status.submit(state, SEASON, NOW)


def verified(hukou_type="non_beijing") -> ApplicationState:
    return status.apply_verification(submitted(hukou_type), 1, True)


def in_review() -> ApplicationState:
    return status.start_review(verified(), SEASON, NOW, 1)


def reviewed(*failed: str) -> ApplicationState:
    state = in_review()
    for item in ITEMS:
        passed = item not in failed
        state = status.record_review_result(state, SEASON, NOW, 1, item, passed,
                                            None if passed else "材料不全")
    return state


# The family: draft, submit, withdraw -------------------------------------------------------

def test_a_new_application_is_empty():
    state = ApplicationState("beijing")
    assert (state.details, state.version, state.verification, state.review) == (
        EMPTY, 0, None, None)


@pytest.mark.parametrize("details", [EMPTY, DRAFT])
def test_saving_a_draft_keeps_it_editable(details):
    state = status.save_draft(ApplicationState("beijing", details=details), SEASON, NOW)
    assert state.details == DRAFT and state.version == 0 and state.verification is None


@pytest.mark.parametrize("details", [EMPTY, DRAFT])
def test_submitting_creates_version_one_and_starts_its_check(details):
    state = status.submit(ApplicationState("beijing", details=details), SEASON, NOW)
    assert state.details == SUBMITTED and state.version == 1
    assert state.verification == Verification(1, PENDING)


@pytest.mark.parametrize("transition", [status.save_draft, status.submit])
def test_a_submission_cannot_be_changed_before_it_is_withdrawn(transition):
    error = refused("ALREADY_SUBMITTED", transition, submitted(), SEASON, NOW)
    assert error.http_status == 409 and "撤回" in error.message


@pytest.mark.parametrize("details", [EMPTY, DRAFT])
def test_only_a_submission_can_be_withdrawn(details):
    refused("NOT_SUBMITTED", status.withdraw, ApplicationState("beijing", details=details),
            SEASON, NOW)


def test_withdrawing_cancels_the_pending_check():
    state = status.withdraw(submitted(), SEASON, NOW)
    assert state.details == DRAFT and state.version == 1 and state.verification is None


def test_a_new_submission_is_the_next_version_and_is_checked_again():
    state = status.withdraw(status.apply_verification(submitted(), 1, True), SEASON, NOW)
    state = status.submit(state, SEASON, NOW)
    assert state.version == 2 and state.verification == Verification(2, PENDING)


@pytest.mark.parametrize("now, words", [(BEFORE, "尚未开始"), (AFTER, "已经结束")])
@pytest.mark.parametrize("transition, state", [
    (status.save_draft, ApplicationState("beijing")),
    (status.submit, ApplicationState("beijing", details=DRAFT)),
    (status.withdraw, submitted()),
])
def test_outside_the_window_nothing_changes_and_the_dates_are_given(transition, state, now,
                                                                     words):
    error = refused("PHASE_CLOSED", transition, state, SEASON, now)
    assert "2027年5月6日至5月31日" in error.message and words in error.message


def test_season_phases_open_allows_the_family_at_any_time():
    state = status.submit(ApplicationState("beijing"), ALWAYS_OPEN, AFTER)
    assert status.withdraw(state, ALWAYS_OPEN, at(2028, 1, 1)).details == DRAFT


@pytest.mark.parametrize("state, actions", [
    (ApplicationState("beijing"), {"save_draft", "submit"}),
    (ApplicationState("beijing", details=DRAFT), {"save_draft", "submit"}),
    (submitted(), {"withdraw"}),
])
def test_available_actions_are_the_allowed_transitions(state, actions):
    assert status.available_actions(state, SEASON, NOW) == actions
    assert status.available_actions(state, SEASON, AFTER) == frozenset()


# The verification result ------------------------------------------------------------------

def test_a_result_for_the_pending_version_is_applied():
    assert status.apply_verification(submitted(), 1, True).verification == Verification(
        1, VERIFIED)
    failed = status.apply_verification(submitted(), 1, False, "hukou", " 户籍地址与登记不符 ")
    assert failed.verification == Verification(1, FAILED, "hukou", "户籍地址与登记不符")


def test_a_result_for_an_older_version_is_ignored():
    state = status.submit(status.withdraw(submitted(), SEASON, NOW), SEASON, NOW)
    assert status.apply_verification(state, 1, True) is None
    assert status.apply_verification(state, 1, False, "hukou", "不符") is None
    assert status.apply_verification(state, 3, True) is None


def test_a_result_for_a_withdrawn_version_is_ignored():
    state = status.withdraw(submitted(), SEASON, NOW)
    assert status.apply_verification(state, 1, True) is None


def test_a_second_result_for_the_same_version_is_ignored():
    state = status.apply_verification(submitted(), 1, True)
    assert status.apply_verification(state, 1, False, "hukou", "不符") is None


def test_a_result_before_any_submission_is_ignored():
    assert status.apply_verification(ApplicationState("beijing", details=DRAFT), 1,
                                     True) is None


@pytest.mark.parametrize("verified_, item, reason, field", [
    (False, "shoe_size", "不符", "item"),
    (False, "hukou", "", "reason"),
    (False, "hukou", None, "reason"),
    (False, "hukou", "长" * 201, "reason"),
    (True, None, "多余的原因", "reason"),
])
def test_a_malformed_result_is_refused(verified_, item, reason, field):
    error = refused("VALIDATION_ERROR", status.apply_verification, submitted(), 1, verified_,
                    item, reason)
    assert field in error.fields


def test_a_failed_check_stays_readable_after_withdrawal_until_the_next_submission():
    failed = status.apply_verification(submitted(), 1, False, "child_identity", "证件号码有误")
    state = status.withdraw(failed, SEASON, NOW)
    assert state.details == DRAFT and state.verification.status == FAILED
    assert status.submit(state, SEASON, NOW).verification == Verification(2, PENDING)


# The district's review --------------------------------------------------------------------

def test_a_beijing_application_is_not_reviewed_here():
    refused("REVIEW_NOT_APPLICABLE", status.start_review, verified("beijing"), SEASON, NOW, 1)


@pytest.mark.parametrize("state", [
    submitted("non_beijing"),  # pending
    status.apply_verification(submitted("non_beijing"), 1, False, "hukou", "不符"),
    ApplicationState("non_beijing", details=DRAFT),
    status.withdraw(verified(), SEASON, NOW),
])
def test_only_a_verified_submission_can_be_reviewed(state):
    refused("REVIEW_NOT_READY", status.start_review, state, SEASON, NOW, state.version or 1)


def test_the_review_names_the_version_it_reviews():
    refused("VERSION_MISMATCH", status.start_review, verified(), SEASON, NOW, 2)
    error = refused("VERSION_MISMATCH", status.record_review_result, in_review(), SEASON, NOW,
                    2, "permit", True)
    assert "第1版" in error.message


def test_once_the_review_started_the_family_cannot_withdraw():
    state = in_review()
    assert state.review == Review(1, IN_REVIEW, ())
    error = refused("UNDER_REVIEW", status.withdraw, state, SEASON, NOW)
    assert "区教委已开始审核" in error.message
    assert status.available_actions(state, SEASON, NOW) == frozenset()


def test_starting_a_review_twice_changes_nothing():
    state = in_review()
    assert status.start_review(state, SEASON, NOW, 1) is state


def test_results_need_a_started_review_and_a_known_item():
    refused("REVIEW_NOT_STARTED", status.record_review_result, verified(), SEASON, NOW, 1,
            "permit", True)
    error = refused("VALIDATION_ERROR", status.record_review_result, in_review(), SEASON, NOW,
                    1, "passport", True)
    assert error.fields == {"item": "没有该审核项目。"}


@pytest.mark.parametrize("reason", [None, "  ", "长" * 201])
def test_a_failed_item_needs_a_reason(reason):
    error = refused("VALIDATION_ERROR", status.record_review_result, in_review(), SEASON, NOW,
                    1, "permit", False, reason)
    assert "reason" in error.fields


def test_items_are_reviewed_one_by_one_and_may_be_changed_until_all_have_a_result():
    state = status.record_review_result(in_review(), SEASON, NOW, 1, "permit", False, "已过期")
    state = status.record_review_result(state, SEASON, NOW, 1, "employment", True)
    state = status.record_review_result(state, SEASON, NOW, 1, "permit", True)
    assert state.review.status == IN_REVIEW
    assert state.review.results == (ItemResult("employment", True),
                                    ItemResult("permit", True))


def test_every_item_passed_approves_and_closes_the_application():
    state = reviewed()
    assert state.review.status == APPROVED and len(state.review.results) == len(ITEMS)
    assert "已通过" in refused("UNDER_REVIEW", status.withdraw, state, SEASON, NOW).message
    refused("REVIEW_FINISHED", status.start_review, state, SEASON, NOW, 1)
    refused("REVIEW_FINISHED", status.record_review_result, state, SEASON, NOW, 1, "permit",
            False, "已过期")


def test_a_failed_item_returns_the_application_for_correction_while_the_window_is_open():
    state = reviewed("dwelling")
    assert state.review.status == RETURNED
    draft = status.withdraw(state, SEASON, NOW)
    assert draft.details == DRAFT and draft.review.status == RETURNED  # still readable
    again = status.submit(draft, SEASON, NOW)
    assert again.version == 2 and again.review is None
    assert again.verification == Verification(2, PENDING)
    refused("PHASE_CLOSED", status.withdraw, state, SEASON, AFTER)


def test_the_review_has_its_own_phase():
    error = refused("PHASE_CLOSED", status.start_review, verified(), SEASON, at(2027, 6, 11),
                    1)
    assert "入学资格审核" in error.message


# The navigation page ----------------------------------------------------------------------

def steps(journey) -> dict:
    return {step.key: step for step in journey.steps}


def test_a_beijing_family_starts_with_its_details():
    journey = status.journey(ApplicationState("beijing"), SEASON, NOW)
    found = steps(journey)
    assert list(found) == ["details", "verification", "print_form", "preregistration",
                           "results"]
    assert (found["details"].title, found["details"].label) == ("录入详细信息", "未填写")
    assert found["details"].open and found["details"].period == "2027年5月6日至5月31日"
    assert (found["verification"].label, found["verification"].open) == ("未提交", False)
    assert found["print_form"].status == "locked" and not found["print_form"].open
    assert journey.next_step.startswith("请点击“录入详细信息”")
    assert "2027年5月31日" in journey.next_step and "入学结果无关" in journey.next_step


def test_a_non_beijing_family_has_the_review_step():
    journey = status.journey(ApplicationState("non_beijing"), SEASON, NOW)
    assert list(steps(journey))[:3] == ["details", "verification", "review"]
    assert steps(journey)["details"].title == "录入相关审核材料信息"
    assert "录入相关审核材料信息" in journey.next_step


def test_before_and_after_the_window():
    before = status.journey(ApplicationState("beijing"), SEASON, BEFORE)
    assert not steps(before)["details"].open
    assert before.next_step.startswith("信息采集时间为2027年5月6日至5月31日")
    after = status.journey(ApplicationState("beijing", details=DRAFT), SEASON, AFTER)
    assert after.next_step.startswith("信息采集已于2027年5月31日结束，您未提交信息")


def test_a_draft():
    journey = status.journey(ApplicationState("beijing", details=DRAFT), SEASON, NOW)
    assert steps(journey)["details"].label == "已暂存"
    assert "尚未提交" in journey.next_step


def test_a_pending_check():
    journey = status.journey(submitted(), SEASON, NOW)
    assert steps(journey)["details"].label == "已提交（信息待审核）"
    assert steps(journey)["verification"].label == "身份证及户籍信息待验证"
    assert "正在进行身份证及户籍信息核验" in journey.next_step
    assert "2027年5月31日前撤回修改" in journey.next_step


def test_a_failed_check_says_why_and_how_to_correct():
    state = status.apply_verification(submitted(), 1, False, "hukou", "户籍地址与户籍登记不符")
    journey = status.journey(state, SEASON, NOW)
    assert steps(journey)["verification"].label == "身份证及户籍信息未通过"
    assert steps(journey)["verification"].note == \
        "身份证及户籍信息未通过（户籍信息：户籍地址与户籍登记不符）"
    assert journey.next_step.endswith("请撤回后修改信息并重新提交（截止到2027年5月31日）。")
    withdrawn = status.journey(status.withdraw(state, SEASON, NOW), SEASON, NOW)
    assert "户籍地址与户籍登记不符" in withdrawn.next_step and "重新提交" in withdrawn.next_step
    late = status.journey(state, SEASON, AFTER)
    assert late.next_step.endswith("如有疑问，请咨询入学所在区教委。")


def test_a_verified_beijing_family_prints_the_form():
    journey = status.journey(verified("beijing"), SEASON, NOW)
    assert steps(journey)["verification"].label == "身份证及户籍信息已验证"
    assert steps(journey)["print_form"].open
    assert steps(journey)["preregistration"].label == "2027年6月15日开始"
    assert journey.next_step.startswith("请点击“打印信息采集表”")


def test_a_verified_non_beijing_family_waits_for_the_review():
    journey = status.journey(verified(), SEASON, NOW)
    assert steps(journey)["review"].label == "未开始"
    assert steps(journey)["print_form"].label == "入学资格审核通过后可办理"
    assert "等待区教委进行入学资格审核" in journey.next_step
    journey = status.journey(in_review(), SEASON, NOW)
    assert steps(journey)["review"].label == "审核中"
    assert "正在进行入学资格审核" in journey.next_step


def test_a_returned_review_names_the_failed_items():
    journey = status.journey(reviewed("dwelling", "permit"), SEASON, NOW)
    review = steps(journey)["review"]
    assert review.label == "审核未通过"
    assert review.note == "入学资格审核未通过（实际住所居住材料：材料不全；北京市居住证：材料不全）"
    assert "请撤回后修改信息并重新提交" in journey.next_step


def test_an_approved_family_prints_the_form():
    journey = status.journey(reviewed(), SEASON, NOW)
    assert steps(journey)["review"].label == "审核通过" and steps(journey)["print_form"].open


def test_later_stages_follow_their_dates():
    state = verified("beijing")
    june = status.journey(state, SEASON, at(2027, 6, 20))
    assert steps(june)["print_form"].status == "closed"
    assert steps(june)["results"].status == "not_yet"
    assert june.next_step == "查看入学结果将于2027年7月5日开始，请届时登录办理。"
    prereg = status.journey(state, SEASON, at(2027, 6, 15))
    assert prereg.next_step.startswith("请点击“打印信息采集表”")  # both open: print first
    july = status.journey(state, SEASON, at(2027, 7, 10))
    assert steps(july)["results"].open and july.next_step.startswith("请点击“查看入学结果”")
    autumn = status.journey(state, SEASON, at(2027, 9, 1))
    assert autumn.next_step.startswith("本年度入学服务已结束")
