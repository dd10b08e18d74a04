from datetime import UTC, datetime, timedelta

import pytest

from common.errors import DomainError
from common.masking import mask_id_number, mask_name, mask_phone
from services.accounts.rules.accounts import after_failed_login, is_locked, new_account_no
from services.accounts.rules.audit import GENESIS, Head, entry_digest, make_anchor, verify_chain
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


def chain(entries, key=KEY):
    rows, previous = [], GENESIS
    for i, entry in enumerate(entries, 1):
        digest = entry_digest(key, previous, entry)
        rows.append((i, entry, previous, digest))
        previous = digest
    return rows


def broken(rows, anchor=None):
    return verify_chain(rows, KEY, anchor, ANCHOR_KEY).first_broken_id


def test_audit_chain_detects_an_edited_entry():
    rows = chain([{"action": "login", "n": i} for i in range(5)])
    assert verify_chain(rows, KEY).intact
    rows[2] = (3, {"action": "login", "n": 99}, rows[2][2], rows[2][3])
    assert broken(rows) == 3


def test_audit_chain_detects_a_removed_entry():
    rows = chain([{"action": "login", "n": i} for i in range(5)])
    del rows[1]
    assert broken(rows) == 3


def test_audit_chain_recomputed_without_the_key_does_not_verify():
    """Whoever rewrites the table cannot recompute the digests: they are keyed."""
    entries = [{"action": "login", "n": i} for i in range(3)]
    rows = chain(entries, key=b"someone else's key" + b"x" * 14)
    assert broken(rows) == 1


ANCHOR_KEY = b"a" * 32


def test_an_anchor_notices_the_newest_entries_cut_off_and_refuses_a_forged_one():
    rows = chain([{"action": "login", "n": i} for i in range(5)])
    anchor = make_anchor(ANCHOR_KEY, Head(5, rows[-1][3], "2027-05-06T08:00:00+00:00"),
                         "2027-05-06T08:05:00+00:00")
    assert verify_chain(rows, KEY, anchor, ANCHOR_KEY).intact
    cut = verify_chain(rows[:3], KEY, anchor, ANCHOR_KEY)  # still links, but shorter
    assert not cut.intact and cut.problem == "anchored entry 5 is missing"
    forged = {**anchor, "entry_id": 3, "digest": rows[2][3]}
    assert verify_chain(rows[:3], KEY, forged, ANCHOR_KEY).problem == (
        "the anchor's signature does not match")

