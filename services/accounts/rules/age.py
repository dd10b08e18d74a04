"""Primary-school entry age: six full years by 31 August of the season's year."""

from __future__ import annotations

from datetime import date

from common.errors import DomainError


def primary_entry_window(season_year: int) -> tuple[date, date]:
    """Earliest and latest birth dates admitted to first grade in `season_year`."""
    return date(season_year - 7, 9, 1), date(season_year - 6, 8, 31)


def check_primary_entry_age(birth_date: date, season_year: int) -> None:
    earliest, latest = primary_entry_window(season_year)
    if birth_date > latest:
        message = (f"儿童须在{season_year}年8月31日前（含）年满6周岁，"
                   f"即出生日期不晚于{latest:%Y年%m月%d日}，请于适龄年度再行登记。")
    elif birth_date < earliest:
        message = (f"出生日期早于{earliest:%Y年%m月%d日}，属超龄儿童，"
                   "入学信息采集事宜请咨询入学所在区教委。")
    else:
        return
    raise DomainError("AGE_OUT_OF_RANGE", message, fields={"birth_date": message})
