"""统一社会信用代码 (GB 32100-2015): the check character and the shape."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.rules.uscc import (
    ALPHABET,
    WEIGHTS,
    InvalidUscc,
    check_character,
    normalize_uscc,
)

# Published codes (the standard's example and well-known companies), each recomputed here.
KNOWN = ["91350100M000100Y43", "914403001922038216", "91330100799655058B",
         "9144030071526726XG", "91110000802100433B", "91110108551385082Q",
         "12100000400000624D"]


def test_the_alphabet_and_weights_are_the_standards():
    assert ALPHABET == "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert not set("IOZSV") & set(ALPHABET)
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", KNOWN)
def test_known_codes_are_valid(code):
    assert check_character(code[:17]) == code[17]
    assert normalize_uscc(code) == code


def test_lower_case_and_surrounding_spaces_are_accepted():
    assert normalize_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"


def refused(code: str) -> str:
    with pytest.raises(InvalidUscc) as caught:
        normalize_uscc(code)
    return str(caught.value)


@pytest.mark.parametrize("code", KNOWN)
def test_every_single_character_change_is_refused(code):
    for position in range(18):
        for other in ALPHABET:
            if other != code[position]:
                changed = code[:position] + other + code[position + 1:]
                assert refused(changed), (position, other)


@pytest.mark.parametrize("code", ["91350100M000100Y4", "91350100M000100Y433", "",
                                  "91350100M000100I43", "91350100M00010OY43",
                                  "9135010AM000100Y43", "91350100M000100Y4Z",
                                  "S1350100M000100Y43", "91350100M000100Y4-"])
def test_wrong_shapes_are_refused(code):
    assert "18位" in refused(code)


def test_a_wrong_check_character_says_so():
    assert "校验位" in refused("91350100M000100Y44")


body = st.tuples(st.text(ALPHABET, min_size=2, max_size=2),
                 st.text("0123456789", min_size=6, max_size=6),
                 st.text(ALPHABET, min_size=9, max_size=9)).map("".join)


@given(body)
def test_a_computed_check_character_makes_a_valid_code(first17):
    assert normalize_uscc(first17 + check_character(first17)) == first17 + \
        check_character(first17)


@given(body, st.integers(0, 17), st.sampled_from(ALPHABET))
def test_changing_any_one_character_of_a_valid_code_fails(first17, position, other):
    code = first17 + check_character(first17)
    if code[position] == other:
        other = ALPHABET[(ALPHABET.index(other) + 1) % len(ALPHABET)]
    with pytest.raises(InvalidUscc):
        normalize_uscc(code[:position] + other + code[position + 1:])
