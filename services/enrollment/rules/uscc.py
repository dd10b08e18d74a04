"""统一社会信用代码 (GB 32100-2015): the 18-character code of every employer and business.

Positions: 1 registration authority, 2 organisation category, 3-8 the GB/T 2260 region of
registration (digits), 9-17 the organisation code, 18 a check character. Characters come from
a 31-symbol alphabet without I, O, Z, S and V (they read like 1, 0, 2, 5 and U); the check
character makes the weighted sum of all 18 values a multiple of 31, weights 3^i mod 31.
Since 31 is prime and no weight is 0 mod 31, changing any single character breaks the check.
"""

from __future__ import annotations

import re

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1 3 9 27 19 26 16 ... 28
_SHAPE = re.compile(rf"^[{ALPHABET}]{{2}}\d{{6}}[{ALPHABET}]{{10}}$")


class InvalidUscc(ValueError):
    """Not a code that can have been issued; the message says why, in Chinese."""


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[-total % 31]


def normalize_uscc(code: str) -> str:
    """The code in upper case, or InvalidUscc."""
    code = code.strip().upper()
    if not _SHAPE.match(code):
        raise InvalidUscc("统一社会信用代码应为18位，由数字和大写字母组成（不含I、O、Z、S、V），"
                          "第3至8位为数字。")
    if check_character(code[:17]) != code[17]:
        raise InvalidUscc("统一社会信用代码校验位不正确，请对照营业执照核对后重新输入。")
    return code
