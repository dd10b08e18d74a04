from datetime import date

import pytest

from common.errors import DomainError
from services.accounts.rules.age import check_primary_entry_age, primary_entry_window
from services.accounts.rules.passwords import check_password_policy, make_hasher, verify_password


def test_window_for_2027_is_september_2020_to_august_2021():
    assert primary_entry_window(2027) == (date(2020, 9, 1), date(2021, 8, 31))


@pytest.mark.parametrize("birth", [date(2020, 9, 1), date(2021, 2, 28), date(2021, 8, 31)])
def test_children_six_by_31_august_are_admitted(birth):
    check_primary_entry_age(birth, 2027)


@pytest.mark.parametrize("birth, words", [(date(2021, 9, 1), "年满6周岁"),
                                          (date(2020, 8, 31), "超龄")])
def test_under_and_over_age_get_a_clear_message(birth, words):
    with pytest.raises(DomainError) as caught:
        check_primary_entry_age(birth, 2027)
    assert caught.value.code == "AGE_OUT_OF_RANGE"
    assert words in caught.value.message


@pytest.mark.parametrize("password", ["Abcdefg1", "Abcdefghijklmnopqr12", "aB3!@#$%^&*()"])
def test_good_passwords_pass(password):
    check_password_policy(password, password)


@pytest.mark.parametrize("password", [
    "Abcdef1",                 # 7 characters
    "Abcdefghijklmnopqrs12",   # 21 characters: refused, never truncated
    "abcdefg1", "ABCDEFG1", "Abcdefgh",  # a class missing
    "Abcd efg1",               # space
    "Abcdefg1密",              # not ASCII
])
def test_weak_passwords_are_refused(password):
    with pytest.raises(DomainError) as caught:
        check_password_policy(password, password)
    assert caught.value.code == "WEAK_PASSWORD"


def test_confirmation_must_match():
    with pytest.raises(DomainError) as caught:
        check_password_policy("Abcdefg1", "Abcdefg2")
    assert caught.value.code == "PASSWORD_MISMATCH"
    assert "password_confirm" in caught.value.fields


def test_an_account_without_a_password_matches_none():
    hasher = make_hasher(1024, 1, 1)
    assert verify_password(hasher, hasher.hash("Spring2027a"), "Spring2027a")
    assert not verify_password(hasher, None, "Spring2027a")
