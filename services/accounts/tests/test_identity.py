from datetime import date

import pytest

from common.errors import DomainError
from services.accounts.rules.identity import check_character, normalize_id_number


def test_the_standard_example_is_valid():
    assert check_character("11010519491231002") == "X"
    assert normalize_id_number("resident_id", "11010519491231002X", date(1949, 12, 31),
                               "female") == "11010519491231002X"


def test_lower_case_x_is_accepted_as_upper_case():
    assert normalize_id_number("resident_id", "11010519491231002x", date(1949, 12, 31),
                               "female") == "11010519491231002X"


@pytest.mark.parametrize("first17, expected", [
    ("11010820200901001", "9"),  # weighted sum 157, mod 11 = 3 -> 9
    ("44052418800101001", "4"),
    ("11010519491231002", "X"),
])
def test_check_character_follows_mod_11_2(first17, expected):
    assert check_character(first17) == expected


def refusal(number, birth=date(2020, 9, 1), sex="male", document_type="resident_id"):
    with pytest.raises(DomainError) as caught:
        normalize_id_number(document_type, number, birth, sex)
    assert caught.value.code == "INVALID_ID_NUMBER"
    assert "document_number" in caught.value.fields
    return caught.value.message


def valid(first17):
    return first17 + check_character(first17)


def test_wrong_check_character_is_refused():
    number = valid("11010820200901001")
    wrong = number[:17] + ("1" if number[17] != "1" else "2")
    assert "校验位" in refusal(wrong)


@pytest.mark.parametrize("number", ["1101082020090100", "1101082020090100111", "11010820200901001Y",
                                    "A10108202009010011", ""])
def test_wrong_shape_is_refused(number):
    assert "18位" in refusal(number)


def test_impossible_birth_date_is_refused_even_with_a_correct_check_character():
    assert "出生日期无效" in refusal(valid("11010820210230001"))


def test_birth_date_must_equal_the_entered_one():
    assert "出生日期" in refusal(valid("11010820200902001"), birth=date(2020, 9, 1))


def test_sex_digit_must_equal_the_entered_sex():
    assert "性别" in refusal(valid("11010820200901002"), sex="male")  # even = female


def test_residence_permits_start_with_81_82_or_83():
    permit = valid("81000020200901001")
    assert normalize_id_number("hkmt_residence_permit", permit, date(2020, 9, 1), "male") == permit
    assert "港澳台" in refusal(valid("11010820200901001"), document_type="hkmt_residence_permit")
    assert "港澳台" in refusal(permit, document_type="resident_id")


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "30", "38", "47", "55", "60",
                                      "66", "70", "72", "80", "84", "91", "99"])
def test_a_region_no_province_has_is_refused(province):
    """GB/T 2260: these province codes do not exist, so no such number was ever issued."""
    message = refusal(valid(f"{province}010820200901001"))
    assert "地区码" in message


@pytest.mark.parametrize("province", ["11", "15", "21", "23", "31", "37", "41", "46", "50", "54",
                                      "61", "65", "71"])
def test_every_real_province_is_accepted(province):
    number = valid(f"{province}010820200901001")
    assert normalize_id_number("resident_id", number, date(2020, 9, 1), "male") == number


def test_residence_permit_prefixes_are_provinces_too():
    number = valid("8100002020090100" + "1")
    assert normalize_id_number("hkmt_residence_permit", number, date(2020, 9, 1),
                               "male") == number
