"""The SMS code lifecycle, driven by a fake clock."""

from datetime import UTC, datetime, timedelta

import pytest

from common.crypto import LookupHasher
from common.errors import DomainError
from services.accounts.rules.sms_codes import (
    CodePolicy,
    IssuedCode,
    beijing_day_start,
    check_can_issue,
    check_code,
    code_subject,
    new_code,
    replay_subject,
)

POLICY = CodePolicy(ttl_s=300, cooldown_s=180, daily_limit_per_phone=10, daily_limit_per_ip=50,
                    max_wrong_tries=5)
T0 = datetime(2027, 5, 6, 1, 0, tzinfo=UTC)
digest = LookupHasher(b"k" * 32)


def issued(code="123456", at=T0, wrong=0, used=False, phone="13800138000", purpose="register",
           code_id=1, replay=None):
    return [(code_id, IssuedCode(digest("sms", code_subject(phone, purpose, code)),
                                 at + timedelta(seconds=POLICY.ttl_s), wrong, used, replay))]


def replay_of(subject="13800138000|110108202009010024", code="123456", key=""):
    return digest("replay", replay_subject("register", subject, code, key))


def submitted(code, phone="13800138000", purpose="register"):
    return digest("sms", code_subject(phone, purpose, code))


def test_codes_are_six_digits_and_vary():
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_right_code_within_five_minutes_is_ok():
    assert check_code(POLICY, issued(), submitted("123456"),
                      T0 + timedelta(seconds=299)) == ("ok", 1)


def test_code_expires_after_five_minutes():
    assert check_code(POLICY, issued(), submitted("123456"),
                      T0 + timedelta(seconds=300)) == ("dead", None)


def test_code_is_single_use():
    assert check_code(POLICY, issued(used=True), submitted("123456"), T0) == ("wrong", 1)
    assert check_code(POLICY, issued(used=True, replay=replay_of()), submitted("123456"), T0,
                      replay_of(key="another")) == ("wrong", 1)


def test_a_spent_code_replayed_for_what_it_completed_is_a_replay_within_its_validity():
    spent = issued(used=True, replay=replay_of(key="k1"))
    assert check_code(POLICY, spent, submitted("123456"), T0 + timedelta(seconds=299),
                      replay_of(key="k1")) == ("replay", 1)
    assert check_code(POLICY, spent, submitted("123456"), T0 + timedelta(seconds=300),
                      replay_of(key="k1")) == ("dead", None)


def test_a_replay_must_repeat_the_code_and_what_it_acted_on():
    spent = issued(used=True, replay=replay_of())
    other_document = replay_of("13800138000|110108202009010032")
    assert check_code(POLICY, spent, submitted("123456"), T0, other_document) == ("wrong", 1)
    assert check_code(POLICY, spent, submitted("654321"), T0, replay_of()) == ("wrong", 1)
    assert check_code(POLICY, spent, submitted("123456", phone="13900139000"), T0,
                      replay_of()) == ("wrong", 1)
    assert check_code(POLICY, spent, submitted("123456"), T0) == ("wrong", 1)  # none given
    # A code spent by an action that did not complete (nothing recorded) is never replayed.
    assert check_code(POLICY, issued(used=True), submitted("123456"), T0,
                      replay_of()) == ("wrong", 1)


def test_wrong_tries_on_a_spent_code_end_its_replays():
    spent = issued(used=True, replay=replay_of(), wrong=5)
    assert check_code(POLICY, spent, submitted("123456"), T0, replay_of()) == ("dead", None)


def test_wrong_code_counts_and_five_wrong_tries_kill_it():
    assert check_code(POLICY, issued(wrong=4), submitted("000000"), T0) == ("wrong", 1)
    assert check_code(POLICY, issued(wrong=5), submitted("123456"), T0) == ("dead", None)


def test_code_is_bound_to_phone_and_purpose():
    assert check_code(POLICY, issued(), submitted("123456", phone="13900139000"),
                      T0)[0] == "wrong"
    assert check_code(POLICY, issued(), submitted("123456", purpose="cancel_account"),
                      T0)[0] == "wrong"


def test_no_code_at_all_is_dead():
    assert check_code(POLICY, [], submitted("123456"), T0) == ("dead", None)


def test_a_new_code_supersedes_the_earlier_ones_and_wrong_tries_hit_it():
    codes = issued("111111", code_id=2) + issued("222222", code_id=1)  # newest first
    assert check_code(POLICY, codes, submitted("222222"), T0) == ("wrong", 2)
    assert check_code(POLICY, codes, submitted("111111"), T0) == ("ok", 2)
    assert check_code(POLICY, codes, submitted("333333"), T0) == ("wrong", 2)


def test_an_earlier_code_does_not_come_back_when_the_newest_dies():
    codes = issued("111111", code_id=2, wrong=5) + issued("222222", code_id=1)
    assert check_code(POLICY, codes, submitted("222222"), T0) == ("dead", None)


def test_resend_is_refused_during_cooldown_with_the_wait():
    with pytest.raises(DomainError) as caught:
        check_can_issue(POLICY, T0 + timedelta(seconds=100), T0, 1, 1)
    assert caught.value.code == "SMS_COOLDOWN"
    assert caught.value.extra["retry_after_s"] == 80
    check_can_issue(POLICY, T0 + timedelta(seconds=180), T0, 1, 1)


@pytest.mark.parametrize("phone_count, ip_count", [(10, 0), (0, 50)])
def test_daily_caps_per_phone_and_per_ip(phone_count, ip_count):
    with pytest.raises(DomainError) as caught:
        check_can_issue(POLICY, T0, None, phone_count, ip_count)
    assert caught.value.code == "SMS_DAILY_LIMIT"


def test_the_day_starts_at_midnight_beijing_time():
    start = beijing_day_start(datetime(2027, 5, 6, 17, 30, tzinfo=UTC))
    assert start == datetime(2027, 5, 6, 16, 0, tzinfo=UTC)  # 00:00 on 5/7 in Beijing
