"""The QR code's token: what it binds, and one answer for every token not signed by us."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from services.documents.rules.token import TOKEN_LENGTH, FormToken, InvalidToken, sign, verify

KEY = bytes(range(32))
TOKEN = FormToken("27123456", 3, datetime(2027, 5, 10, 2, 30, 15, tzinfo=UTC))


def test_a_token_binds_the_account_the_version_and_the_issue_time_compactly():
    text = sign(KEY, TOKEN)
    assert len(text) == TOKEN_LENGTH and verify(KEY, text) == TOKEN
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_a_token_signed_under_another_key_is_refused():
    with pytest.raises(InvalidToken):
        verify(KEY, sign(bytes(32), TOKEN))


@pytest.mark.parametrize("position", range(TOKEN_LENGTH))
def test_any_character_altered_is_refused(position):
    text = sign(KEY, TOKEN)
    altered = text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1:]
    with pytest.raises(InvalidToken):
        verify(KEY, altered)


def test_another_account_version_or_time_under_the_same_mac_is_refused():
    raw = bytearray(base64.urlsafe_b64decode(sign(KEY, TOKEN)))
    for index in range(1, 11):  # the fields after the format byte
        forged = bytearray(raw)
        forged[index] ^= 1
        with pytest.raises(InvalidToken):
            verify(KEY, base64.urlsafe_b64encode(bytes(forged)).decode())


@pytest.mark.parametrize("text", ["", "A" * TOKEN_LENGTH, "短" * TOKEN_LENGTH, "!" * 36,
                                  "A" * (TOKEN_LENGTH + 4)])
def test_garbage_and_truncated_tokens_are_refused(text):
    with pytest.raises(InvalidToken):
        verify(KEY, text)
    with pytest.raises(InvalidToken):
        verify(KEY, sign(KEY, TOKEN)[:-1])
