"""What an account view shows together may not narrow a document number below 10^4
candidates: counted by walking every region and birth date the view leaves possible."""

from collections import Counter
from datetime import date, timedelta

from common.identity import _CHECK, _WEIGHTS, PROVINCES, check_character
from common.masking import mask_id_number
from services.accounts.contract import AccountView
from services.accounts.rules.age import primary_entry_window

SEASON = 2027
NUMBER = "11010820200901002" + check_character("11010820200901002")  # female, 2020-09-01
MIN_CANDIDATES = 10**4


def fits(masked: str, start: int, digits: str) -> bool:
    return all(m in ("*", d) for m, d in zip(masked[start:start + len(digits)], digits,
                                              strict=True))


def weighted(digits: str, start: int) -> int:
    return sum(int(d) * w for d, w in zip(digits, _WEIGHTS[start:start + len(digits)],
                                          strict=True))


def candidates(masked: str, sex: str, birth: date | None) -> int:
    """Every valid GB 11643 number (a real province, the check character right, a birth
    date in the season's age window, the sequence's parity the sex) that `masked` and, if
    shown, `birth` allow. Sequences are grouped by their weighted sum mod 11, which is all
    the check character depends on."""
    earliest, latest = primary_entry_window(SEASON)
    dates = [birth] if birth else [earliest + timedelta(days=n)
                                   for n in range((latest - earliest).days + 1)]
    regions = [f"{r:06d}" for r in range(10**6) if f"{r:06d}"[:2] in PROVINCES
               and fits(masked, 0, f"{r:06d}")]
    parity = 1 if sex == "male" else 0
    sequences = Counter(weighted(f"{q:03d}", 14) % 11 for q in range(parity, 1000, 2)
                        if fits(masked, 14, f"{q:03d}"))
    checks = [i for i, c in enumerate(_CHECK) if masked[17] in ("*", c)]
    total = 0
    for region in regions:
        for day in dates:
            born = f"{day:%Y%m%d}"
            if not fits(masked, 6, born):
                continue
            head = weighted(region + born, 0)
            total += sum(sequences[(i - head) % 11] for i in checks)
    return total


def shown_by_the_view() -> tuple[str, date | None]:
    """The masked number and, if the view carries it, the birth date beside it."""
    birth = date(2020, 9, 1) if "birth_date" in AccountView.model_fields else None
    return mask_id_number(NUMBER), birth


def test_the_counting_agrees_with_plain_enumeration_on_a_small_case():
    masked = "11010*20200901***7"  # ten regions, one birth date, the check character shown
    plain = sum(1 for r in range(10) for q in range(0, 1000, 2)
                if check_character(f"11010{r}20200901{q:03d}") == "7")
    assert candidates(masked, "female", date(2020, 9, 1)) == plain > 0


def test_the_account_view_leaves_at_least_ten_thousand_document_numbers():
    masked, birth = shown_by_the_view()
    assert candidates(masked, "female", birth) >= MIN_CANDIDATES


def test_the_old_mask_beside_the_birth_date_gave_the_number_away():
    """Why the mask changed: region, sequence and check character shown, the birth date
    beside them: one candidate."""
    assert candidates(NUMBER[:6] + "*" * 8 + NUMBER[14:], "female", date(2020, 9, 1)) == 1
