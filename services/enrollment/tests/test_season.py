"""The season file: what 2027 says, phases in Beijing time, and malformed files refused."""

from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime

import pytest

from common.districts import BY_CODE
from common.errors import DomainError
from services.enrollment.rules.season import (
    SEASONS_DIR,
    SeasonFileError,
    load_season,
    parse_season,
)
from services.enrollment.tests.samples import ALWAYS_OPEN, SEASON, at

DOCUMENT = tomllib.loads((SEASONS_DIR / "2027.toml").read_text(encoding="utf-8"))


def test_the_2027_season():
    assert SEASON.year == 2027
    collection = SEASON.phases["collection"]
    assert (collection.start, collection.end) == (date(2027, 5, 6), date(2027, 5, 31))
    assert collection.period == "2027年5月6日至5月31日"
    assert SEASON.dates == {"counting_until": date(2027, 4, 30),
                            "permit_valid_on": date(2027, 5, 6)}
    assert list(SEASON.districts) == list(BY_CODE)
    assert SEASON.forms["beijing"].title == "录入详细信息"
    assert SEASON.forms["non_beijing"].title == "录入相关审核材料信息"
    assert SEASON.districts["chaoyang"].params == {"social_insurance_months": 12,
                                                   "residence_months": 12}


def test_the_draft_waits_for_its_reviewers():
    assert SEASON.unreviewed() == ["season", *BY_CODE]


def test_a_reviewed_district_is_no_longer_listed():
    document = copy.deepcopy(DOCUMENT)
    document["districts"]["haidian"].update(status="已审核", reviewed_by="海淀区教委 王老师",
                                            reviewed_on=date(2027, 4, 15))
    assert "haidian" not in parse_season(document).unreviewed()


def test_help_texts_name_the_reference_dates():
    sections = {s.key: s for s in SEASON.forms["non_beijing"].sections}
    assert sections["permit"].help == "居住证须在2027年5月6日仍在有效期内。"
    months = [f for f in sections["employment"].fields if f.key == "insurance_months"][0]
    assert "2027年4月30日" in months.help


@pytest.mark.parametrize("now, state", [
    (at(2027, 5, 5, 23, 59), "before"),
    (at(2027, 5, 6, 0, 0), "open"),
    (datetime.fromisoformat("2027-05-05T16:00:00+00:00"), "open"),  # midnight in Beijing
    (at(2027, 5, 31, 23, 59), "open"),
    (at(2027, 6, 1, 0, 0), "after"),
    (datetime.fromisoformat("2027-05-31T16:00:00+00:00"), "after"),
])
def test_phases_are_whole_days_in_beijing_time(now, state):
    assert SEASON.phase_state("collection", now) == state
    assert SEASON.phase_open("collection", now) == (state == "open")


def test_season_phases_open_opens_every_phase_at_any_time():
    for phase in SEASON.phases:
        assert ALWAYS_OPEN.phase_open(phase, at(2026, 1, 1))
        ALWAYS_OPEN.check_phase_open(phase, at(2030, 1, 1))


def test_only_dates_or_open_are_known_phase_settings():
    with pytest.raises(SeasonFileError):
        load_season(2027, phases="closed")


def test_a_time_without_its_zone_is_refused():
    with pytest.raises(ValueError):
        SEASON.phase_open("collection", datetime(2027, 5, 10, 10))


def closed(now: datetime, phase: str = "collection") -> DomainError:
    with pytest.raises(DomainError) as caught:
        SEASON.check_phase_open(phase, now)
    assert caught.value.code == "PHASE_CLOSED" and caught.value.http_status == 409
    return caught.value


def test_a_closed_window_says_when_it_opens():
    error = closed(at(2027, 5, 1))
    assert error.message == ("入学信息采集时间为2027年5月6日至5月31日，尚未开始，"
                             "请于2027年5月6日起办理。")
    assert error.extra == {"phase": "collection", "start": "2027-05-06", "end": "2027-05-31"}


def test_a_closed_window_says_when_it_closed():
    assert closed(at(2027, 6, 1)).message == (
        "入学信息采集时间为2027年5月6日至5月31日，已经结束。如有疑问，请咨询入学所在区教委。")


def test_load_refuses_a_file_that_is_not_toml_or_not_its_year(tmp_path):
    (tmp_path / "2027.toml").write_text("[season\nyear = 2027", encoding="utf-8")
    with pytest.raises(SeasonFileError, match="2027.toml"):
        load_season(2027, directory=tmp_path)
    (tmp_path / "2028.toml").write_bytes((SEASONS_DIR / "2027.toml").read_bytes())
    with pytest.raises(SeasonFileError, match="season.year is 2027"):
        load_season(2028, directory=tmp_path)
    with pytest.raises(SeasonFileError):
        load_season(2029, directory=tmp_path)


def field(document: dict, section: str, key: str) -> dict:
    return next(f for f in document["sections"][section]["fields"] if f["key"] == key)


def _drop(table: dict, key: str) -> None:
    del table[key]


BREAKAGES = {
    "an unknown top-level table": lambda d: d.update(extra={}),
    "a phase missing": lambda d: _drop(d["phases"], "results"),
    "a phase ending before it starts":
        lambda d: d["phases"]["review"].update(end=date(2027, 5, 1)),
    "a phase with a time": lambda d: d["phases"]["review"].update(
        start=datetime(2027, 5, 6, 9)),
    "an unknown field type": lambda d: field(d, "household", "head_name").update(type="name"),
    "a misspelt option": lambda d: field(d, "household", "head_name").update(requird=True),
    "an option of another type": lambda d: field(d, "household", "head_name").update(
        choices={"a": "甲"}),
    "a text without max_length": lambda d: _drop(field(d, "household", "head_name"),
                                                 "max_length"),
    "required as text": lambda d: field(d, "household", "head_name").update(required="是"),
    "a bad field key": lambda d: field(d, "household", "head_name").update(key="户主"),
    "a field twice": lambda d: d["sections"]["household"]["fields"].append(
        dict(field(d, "household", "head_name"))),
    "a broken pattern": lambda d: field(d, "housing", "lease_registration_no").update(
        pattern="^[0-9"),
    "a pattern without its message": lambda d: _drop(
        field(d, "housing", "lease_registration_no"), "pattern_message"),
    "a condition on a later field": lambda d: field(d, "housing", "kind").update(
        when={"certificate_kind": "real_estate"}),
    "a condition on an unknown value": lambda d: field(d, "housing", "lease_start").update(
        when={"kind": "hotel"}),
    "a yes/no condition on a choice value": lambda d: field(
        d, "no_guardianship", "issuer").update(when={"has_certificate": "yes"}),
    "an empty choice list": lambda d: field(d, "housing", "kind").update(choices={}),
    "a date limit that names nothing": lambda d: field(d, "permit", "valid_until").update(
        earliest="collection_start"),
    "months without max": lambda d: _drop(field(d, "employment", "insurance_months"), "max"),
    "months with min above max": lambda d: field(d, "employment", "insurance_months").update(
        min=700),
    "an unknown district parameter": lambda d: field(d, "dwelling", "since").update(
        district_min_months="rent_months"),
    "a counting date missing": lambda d: _drop(d["dates"], "counting_until") or _drop(
        field(d, "employment", "insurance_months"), "help"),
    "a province that does not exist": lambda d: field(d, "hukou_origin", "region").update(
        exclude_provinces=["99"]),
    "a document number without its type": lambda d: field(
        d, "guardians", "document_number").update(document_type_field="phone"),
    "a form naming an unknown section": lambda d: d["forms"]["beijing"]["sections"].append(
        "pets"),
    "a section in no form": lambda d: d["forms"]["beijing"]["sections"].remove("housing"),
    "a section named like registration data": lambda d: d["sections"].update(
        district=d["sections"].pop("residence")) or d["forms"]["beijing"]["sections"].append(
        "district"),
    "a field the code needs, removed": lambda d: d["sections"]["household"]["fields"].remove(
        field(d, "household", "head_name")),
    "a field the code needs, made optional": lambda d: field(
        d, "guardians", "document_number").update(required=False),
    "no guardian required": lambda d: d["sections"]["guardians"].update(min_entries=0),
    "a group without max_entries": lambda d: _drop(d["sections"]["guardians"], "max_entries"),
    "a district missing": lambda d: _drop(d["districts"], "yanshan"),
    "a district without a parameter": lambda d: _drop(d["districts"]["miyun"],
                                                      "residence_months"),
    "a negative parameter": lambda d: d["districts"]["miyun"].update(residence_months=-3),
    "a parameter that is not a number": lambda d: d["districts"]["miyun"].update(
        residence_months="三"),
    "reviewed without a reviewer": lambda d: d["season"].update(status="已审核"),
    "an unknown review status": lambda d: d["districts"]["miyun"].update(status="done"),
    "a help text with an unknown date": lambda d: d["sections"]["permit"].update(
        help="须在{reference}前有效"),
    "no review items": lambda d: d.update(review_items={}),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_malformed_file_is_refused_at_load(breakage):
    document = copy.deepcopy(DOCUMENT)
    BREAKAGES[breakage](document)
    with pytest.raises(SeasonFileError):
        parse_season(document)


def test_the_error_names_the_place():
    document = copy.deepcopy(DOCUMENT)
    field(document, "housing", "lease_start").update(when={"kind": "hotel"})
    with pytest.raises(SeasonFileError, match=r"sections\.housing\.fields\[5\]\.when"):
        parse_season(document)
