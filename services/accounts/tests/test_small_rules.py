from datetime import UTC, datetime, timedelta

import pytest

from common.errors import DomainError
from common.masking import mask_id_number, mask_name, mask_phone
from services.accounts.rules.accounts import after_failed_login, is_locked, new_account_no
from services.accounts.rules.audit import GENESIS, entry_digest, first_broken_link
from services.accounts.rules.notice import check_notice_token, notice_token

NOW = datetime(2027, 5, 6, 8, 0, tzinfo=UTC)
KEY = b"n" * 32


def test_masking_shows_only_what_identifies_nothing():
    assert mask_id_number("11010519491231002X") == "1101*************X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number("E1234567") == "*******7"


def test_account_numbers_carry_the_season_and_are_not_sequential():
    numbers = [new_account_no(2027) for _ in range(50)]
    assert all(len(n) == 8 and n.startswith("27") and n.isdigit() for n in numbers)
    assert len(set(numbers)) > 45
    assert sorted(numbers) != numbers


def test_fifth_consecutive_failure_locks_for_thirty_minutes():
    failures, locked = 0, None
    for _ in range(4):
        failures, locked = after_failed_login(failures, NOW, 5, 30)
        assert locked is None
    failures, locked = after_failed_login(failures, NOW, 5, 30)
    assert locked == NOW + timedelta(minutes=30)
    assert is_locked(locked, NOW + timedelta(minutes=29))
    assert not is_locked(locked, NOW + timedelta(minutes=30))


def test_notice_must_be_read_long_enough():
    token = notice_token(KEY, NOW)
    check_notice_token(KEY, token, NOW + timedelta(seconds=10), 10)
    with pytest.raises(DomainError) as caught:
        check_notice_token(KEY, token, NOW + timedelta(seconds=9), 10)
    assert caught.value.code == "NOTICE_NOT_READ"


@pytest.mark.parametrize("token", ["", "abc", "123.deadbeef", "x.y"])
def test_forged_notice_tokens_are_refused(token):
    with pytest.raises(DomainError):
        check_notice_token(KEY, token, NOW, 0)


def test_backdated_notice_token_is_refused():
    issued, _, signature = notice_token(KEY, NOW).partition(".")
    with pytest.raises(DomainError):
        check_notice_token(KEY, f"{int(issued) - 60}.{signature}", NOW, 10)


def chain(entries):
    rows, previous = [], GENESIS
    for i, entry in enumerate(entries, 1):
        digest = entry_digest(previous, entry)
        rows.append((i, entry, previous, digest))
        previous = digest
    return rows


def test_audit_chain_detects_an_edited_entry():
    rows = chain([{"action": "login", "n": i} for i in range(5)])
    assert first_broken_link(rows) is None
    rows[2] = (3, {"action": "login", "n": 99}, rows[2][2], rows[2][3])
    assert first_broken_link(rows) == 3


def test_audit_chain_detects_a_removed_entry():
    rows = chain([{"action": "login", "n": i} for i in range(5)])
    del rows[1]
    assert first_broken_link(rows) == 3
