"""A season's data (seasons/<year>.toml): phases, reference dates, the two field sets, the
review items and each district's parameters, loaded into typed, immutable objects.

The file is reviewed by people who do not program, and pages, API and validation are all
driven by it, so a malformed file fails loudly at load (SeasonFileError naming the place)
rather than as a wrong page in May. Phases are whole days in Beijing time, both ends included.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from common.districts import BY_CODE
from common.errors import DomainError
from common.identity import PROVINCES

BEIJING = timezone(timedelta(hours=8))
SEASONS_DIR = Path(__file__).resolve().parent.parent / "seasons"

PHASES = ("collection", "review", "print_form", "preregistration", "results")
HUKOU_TYPES = ("beijing", "non_beijing")
REVIEW_STATUSES = ("待审核", "已审核")
TODAY = "today"  # a date limit meaning the day the family fills the form in
# A date with district_min_months lies at least that many months before this reference date.
COUNTING_DATE = "counting_until"
# Fields the code reads by key, beyond what the file drives: the verification request
# (usecases/details.py) carries them. A season file must keep them.
VERIFICATION_FIELDS = {
    "beijing": ("household.head_name", "household.relation_to_head", "hukou_address.district",
                "hukou_address.address", "residence.district", "guardians.name",
                "guardians.relation", "guardians.document_type", "guardians.document_number"),
    "non_beijing": ("household.head_name", "household.relation_to_head", "hukou_origin.region",
                    "residence.district", "permit.holder", "permit.number",
                    "permit.valid_until", "permit.issuing_district", "guardians.name",
                    "guardians.relation", "guardians.document_type",
                    "guardians.document_number"),
}
# The reference date the verification request carries (the day permits must be valid on).
PERMIT_VALID_ON = "permit_valid_on"
# Registration data, shown read-only above the details: no section may take these names.
REGISTRATION_KEYS = ("child_name", "document_type", "document_number", "birth_date", "sex",
                     "hukou_type", "district")
_COMMON_OPTIONS = {"key", "label", "type", "required", "help", "when"}
_TYPE_OPTIONS = {
    "text": {"min_length", "max_length", "pattern", "pattern_message"},
    "choice": {"choices"},
    "date": {"earliest", "latest", "district_min_months"},
    "district": {"enrollment_district_only"},
    "region": {"exclude_provinces"},
    "id_number": {"document_type_field"},
    "phone": set(),
    "uscc": set(),
    "months": {"min", "max", "district_min_months"},
    "yes_no": set(),
}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_DISTRICT_REVIEW_KEYS = {"status", "reviewed_by", "reviewed_on"}


class SeasonFileError(ValueError):
    """A malformed season file; the message names the table and key."""


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Phase:
    key: str
    name: str
    start: date
    end: date
    # results only: when to report to the school and what to bring, shown with the result
    report: str = ""

    @property
    def period(self) -> str:
        """2027年5月6日至5月31日"""
        end = f"{self.end.month}月{self.end.day}日" if self.end.year == self.start.year \
            else chinese_date(self.end)
        return f"{chinese_date(self.start)}至{end}"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    type: str
    required: bool
    help: str = ""
    # Applies only when each named earlier field of the section holds one of the values.
    when: tuple[tuple[str, frozenset], ...] = ()
    min_length: int = 0
    max_length: int | None = None
    pattern: re.Pattern | None = None
    pattern_message: str = ""
    choices: Mapping[str, str] = field(default_factory=dict)
    earliest: date | str | None = None  # a date or TODAY
    latest: date | str | None = None
    min: int = 0
    max: int = 0
    district_min_months: str | None = None  # the name of a district parameter
    enrollment_district_only: bool = False
    exclude_provinces: frozenset[str] = frozenset()
    document_type_field: str | None = None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: tuple[FieldSpec, ...]
    help: str = ""
    min_entries: int | None = None  # set for a repeated group (a list of entries)
    max_entries: int | None = None

    @property
    def repeated(self) -> bool:
        return self.max_entries is not None


@dataclass(frozen=True)
class Form:
    hukou_type: str
    title: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class DistrictRules:
    code: str
    name: str
    params: Mapping[str, int]
    status: str
    reviewed_by: str
    reviewed_on: date | None


@dataclass(frozen=True)
class Season:
    year: int
    name: str
    status: str
    reviewed_by: str
    reviewed_on: date | None
    phases: Mapping[str, Phase]
    dates: Mapping[str, date]
    forms: Mapping[str, Form]
    review_items: Mapping[str, str]
    districts: Mapping[str, DistrictRules]
    all_phases_open: bool = False  # SEASON_PHASES=open: the demo and the tests

    def phase_state(self, key: str, now: datetime) -> str:
        """"before", "open" or "after" the phase (always "open" with SEASON_PHASES=open)."""
        if now.tzinfo is None:
            raise ValueError("now must carry its time zone")
        phase, today = self.phases[key], now.astimezone(BEIJING).date()
        if self.all_phases_open or phase.start <= today <= phase.end:
            return "open"
        return "before" if today < phase.start else "after"

    def phase_open(self, key: str, now: datetime) -> bool:
        return self.phase_state(key, now) == "open"

    def check_phase_open(self, key: str, now: datetime) -> None:
        """Raises PHASE_CLOSED with the phase's dates when it is not open."""
        state, phase = self.phase_state(key, now), self.phases[key]
        if state == "open":
            return
        if state == "before":
            message = (f"{phase.name}时间为{phase.period}，尚未开始，"
                       f"请于{chinese_date(phase.start)}起办理。")
        else:
            message = (f"{phase.name}时间为{phase.period}，已经结束。"
                       "如有疑问，请咨询入学所在区教委。")
        raise DomainError("PHASE_CLOSED", message, extra={
            "phase": key, "start": phase.start.isoformat(), "end": phase.end.isoformat()})

    def unreviewed(self) -> list[str]:
        """What still waits for its reviewer: "season" and district codes."""
        pending = ["season"] if self.status != "已审核" else []
        return pending + [code for code, rules in self.districts.items()
                          if rules.status != "已审核"]


def load_season(year: int, phases: str = "dates", directory: Path = SEASONS_DIR) -> Season:
    """`phases` is SEASON_PHASES: "dates" (the file's dates) or "open" (every phase open)."""
    path = directory / f"{year}.toml"
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SeasonFileError(f"{path}: {exc}") from None
    season = parse_season(document, phases)
    if season.year != year:
        raise SeasonFileError(f"{path}: season.year is {season.year}")
    return season


def parse_season(document: dict, phases: str = "dates") -> Season:
    if phases not in ("dates", "open"):
        raise SeasonFileError(f"SEASON_PHASES must be 'dates' or 'open', not {phases!r}")
    _only(document, {"season", "phases", "dates", "forms", "sections", "review_items",
                     "districts"}, "the file", required=True)
    head = _table(document, "season", "the file")
    _only(head, {"year", "name", "status", "reviewed_by", "reviewed_on"}, "season")
    status, reviewed_by, reviewed_on = _review(head, "season")
    dates = _dates(_table(document, "dates", "the file"))
    if PERMIT_VALID_ON not in dates:
        raise SeasonFileError(f"dates.{PERMIT_VALID_ON} is missing")
    sections = _table(document, "sections", "the file")
    districts = _districts(_table(document, "districts", "the file"))
    params = next(iter(districts.values())).params.keys()
    help_dates = {name: chinese_date(day) for name, day in dates.items()}
    parsed = {key: _section(key, _table(sections, key, "sections"), dates, params, help_dates)
              for key in sections}
    return Season(
        year=_get(head, "year", int, "season"),
        name=_text(head, "name", "season"),
        status=status, reviewed_by=reviewed_by, reviewed_on=reviewed_on,
        phases=_phases(_table(document, "phases", "the file")),
        dates=MappingProxyType(dates),
        forms=_forms(_table(document, "forms", "the file"), parsed),
        review_items=_labels(_table(document, "review_items", "the file"), "review_items"),
        districts=districts,
        all_phases_open=phases == "open")


# Readers: each checks one table and names it in its error. -----------------------------------

def _get(table: dict, key: str, kind: type | tuple, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise SeasonFileError(f"{where}: {key} is missing")
        return default
    value = table[key]
    # Python's bool is an int and its datetime a date: TOML keeps them apart, so do we.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)) or (
            kind is date and isinstance(value, datetime)):
        raise SeasonFileError(f"{where}.{key}: {value!r} has the wrong type")
    return value


def _table(table: dict, key: str, where: str) -> dict:
    return _get(table, key, dict, where)


def _text(table: dict, key: str, where: str, default: Any = ...) -> str:
    value = _get(table, key, str, where, default)
    if default is ... and not value.strip():
        raise SeasonFileError(f"{where}.{key} is empty")
    return value


def _only(table: dict, allowed: set[str], where: str, required: bool | set[str] = False) -> None:
    """`required`: every allowed key (True), or these keys."""
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SeasonFileError(f"{where}: unknown keys {', '.join(unknown)}")
    needed = allowed if required is True else (required or set())
    if needed - set(table):
        raise SeasonFileError(f"{where}: missing {', '.join(sorted(needed - set(table)))}")


def _review(table: dict, where: str) -> tuple[str, str, date | None]:
    status = _text(table, "status", where)
    if status not in REVIEW_STATUSES:
        raise SeasonFileError(f"{where}.status must be one of {', '.join(REVIEW_STATUSES)}")
    reviewed_by = _get(table, "reviewed_by", str, where)
    reviewed_on = _get(table, "reviewed_on", date, where, None)
    if status == "已审核" and (not reviewed_by.strip() or reviewed_on is None):
        raise SeasonFileError(f"{where}: 已审核 needs reviewed_by and reviewed_on")
    return status, reviewed_by, reviewed_on


def _labels(table: dict, where: str) -> Mapping[str, str]:
    if not table:
        raise SeasonFileError(f"{where} is empty")
    for key in table:
        if not _KEY.match(key):
            raise SeasonFileError(f"{where}: {key!r} is not a valid key")
        _text(table, key, where)
    return MappingProxyType(dict(table))


def _phases(table: dict) -> Mapping[str, Phase]:
    _only(table, set(PHASES), "phases", required=True)
    phases = {}
    for key in PHASES:
        where = f"phases.{key}"
        entry = _table(table, key, "phases")
        allowed = {"name", "start", "end"} | ({"report"} if key == "results" else set())
        _only(entry, allowed, where, required={"name", "start", "end"})
        start, end = _get(entry, "start", date, where), _get(entry, "end", date, where)
        if end < start:
            raise SeasonFileError(f"{where}: ends before it starts")
        phases[key] = Phase(key, _text(entry, "name", where), start, end,
                            _text(entry, "report", where, ""))
    return MappingProxyType(phases)


def _dates(table: dict) -> dict[str, date]:
    for name, value in table.items():
        if not _KEY.match(name) or name == TODAY:
            raise SeasonFileError(f"dates: {name!r} is not a valid name")
        if not isinstance(value, date) or isinstance(value, datetime):
            raise SeasonFileError(f"dates.{name} must be a date")
    return dict(table)


def _districts(table: dict) -> Mapping[str, DistrictRules]:
    _only(table, set(BY_CODE), "districts", required=True)
    districts, names = {}, None
    for code in BY_CODE:  # the platform's order
        where = f"districts.{code}"
        entry = _table(table, code, "districts")
        status, reviewed_by, reviewed_on = _review(entry, where)
        params = {key: _get(entry, key, int, where) for key in entry
                  if key not in _DISTRICT_REVIEW_KEYS}
        if names is None:
            names = set(params)
        if set(params) != names or any(value < 0 for value in params.values()):
            raise SeasonFileError(f"{where}: every district needs the same parameters "
                                  f"({', '.join(sorted(names))}), none negative")
        districts[code] = DistrictRules(code, BY_CODE[code].name, MappingProxyType(params),
                                        status, reviewed_by, reviewed_on)
    return MappingProxyType(districts)


def _forms(table: dict, sections: dict[str, Section]) -> Mapping[str, Form]:
    _only(table, set(HUKOU_TYPES), "forms", required=True)
    forms = {}
    for hukou_type in HUKOU_TYPES:
        where = f"forms.{hukou_type}"
        entry = _table(table, hukou_type, "forms")
        _only(entry, {"title", "sections"}, where, required=True)
        keys = _get(entry, "sections", list, where)
        if not keys or not all(isinstance(key, str) and key in sections for key in keys) or \
                len(set(keys)) != len(keys):
            raise SeasonFileError(f"{where}.sections must name defined sections, each once")
        form = Form(hukou_type, _text(entry, "title", where),
                    tuple(sections[key] for key in keys))
        present = {f"{s.key}.{f.key}": (s, f) for s in form.sections for f in s.fields}
        missing = [path for path in VERIFICATION_FIELDS[hukou_type] if path not in present
                   or not present[path][1].required or present[path][1].when
                   or (present[path][0].repeated and present[path][0].min_entries < 1)]
        if missing:
            raise SeasonFileError(f"{where}: the code needs {', '.join(missing)}, "
                                  "always required")
        forms[hukou_type] = form
    unused = set(sections) - {s.key for form in forms.values() for s in form.sections}
    if unused:
        raise SeasonFileError(f"sections {', '.join(sorted(unused))}: in no form")
    return MappingProxyType(forms)


def _section(key: str, table: dict, dates: dict[str, date], params, help_dates) -> Section:
    where = f"sections.{key}"
    if not _KEY.match(key) or key in REGISTRATION_KEYS:
        raise SeasonFileError(f"{where}: not a valid section key")
    _only(table, {"title", "help", "fields", "min_entries", "max_entries"}, where)
    min_entries = _get(table, "min_entries", int, where, None)
    max_entries = _get(table, "max_entries", int, where, None)
    if (min_entries is None) != (max_entries is None):
        raise SeasonFileError(f"{where}: a repeated group needs min_entries and max_entries")
    if max_entries is not None and not (0 <= min_entries <= max_entries and max_entries >= 1):
        raise SeasonFileError(f"{where}: needs 0 <= min_entries <= max_entries, "
                              "max_entries >= 1")
    raw = _get(table, "fields", list, where)
    if not raw:
        raise SeasonFileError(f"{where}.fields is empty")
    fields: dict[str, FieldSpec] = {}
    for index, entry in enumerate(raw):
        spec = _field(entry, f"{where}.fields[{index}]", fields, dates, params, help_dates)
        if spec.key in fields:
            raise SeasonFileError(f"{where}: field {spec.key} appears twice")
        fields[spec.key] = spec
    return Section(key, _text(table, "title", where), tuple(fields.values()),
                   _help(table, where, help_dates), min_entries, max_entries)


def _help(table: dict, where: str, help_dates: dict[str, str]) -> str:
    """Help may name a reference date, as {counting_until}: shown as 2027年4月30日."""
    try:
        return _text(table, "help", where, "").format_map(help_dates)
    except (KeyError, ValueError, IndexError) as exc:
        raise SeasonFileError(f"{where}.help: unknown placeholder {exc}") from None


def _field(entry: Any, where: str, earlier: dict[str, FieldSpec], dates: dict[str, date],
           params, help_dates) -> FieldSpec:
    if not isinstance(entry, dict):
        raise SeasonFileError(f"{where} must be a table")
    kind = _text(entry, "type", where)
    if kind not in _TYPE_OPTIONS:
        raise SeasonFileError(f"{where}.type: unknown type {kind!r}")
    _only(entry, _COMMON_OPTIONS | _TYPE_OPTIONS[kind], where)
    key = _text(entry, "key", where)
    if not _KEY.match(key):
        raise SeasonFileError(f"{where}.key: {key!r} is not a valid key")
    options: dict[str, Any] = {}
    if kind == "text":
        options["max_length"] = _get(entry, "max_length", int, where)
        options["min_length"] = _get(entry, "min_length", int, where, 0)
        if not 0 <= options["min_length"] <= options["max_length"]:
            raise SeasonFileError(f"{where}: needs 0 <= min_length <= max_length")
        if "pattern" in entry:
            try:
                options["pattern"] = re.compile(_text(entry, "pattern", where))
            except re.error as exc:
                raise SeasonFileError(f"{where}.pattern: {exc}") from None
            options["pattern_message"] = _text(entry, "pattern_message", where)
        elif "pattern_message" in entry:
            raise SeasonFileError(f"{where}: pattern_message without a pattern")
    elif kind == "choice":
        options["choices"] = _labels(_table(entry, "choices", where), f"{where}.choices")
    elif kind == "date":
        for limit in ("earliest", "latest"):
            options[limit] = _date_limit(entry, limit, where, dates)
    elif kind == "months":
        options["min"] = _get(entry, "min", int, where)
        options["max"] = _get(entry, "max", int, where)
        if not 0 <= options["min"] <= options["max"]:
            raise SeasonFileError(f"{where}: needs 0 <= min <= max")
    elif kind == "district":
        options["enrollment_district_only"] = _get(entry, "enrollment_district_only", bool,
                                                   where, False)
    elif kind == "region":
        excluded = _get(entry, "exclude_provinces", list, where, [])
        if not set(excluded) <= PROVINCES:
            raise SeasonFileError(f"{where}.exclude_provinces: not GB/T 2260 province codes")
        options["exclude_provinces"] = frozenset(excluded)
    elif kind == "id_number":
        source = _text(entry, "document_type_field", where)
        if source not in earlier or earlier[source].type != "choice":
            raise SeasonFileError(f"{where}.document_type_field must name an earlier choice")
        options["document_type_field"] = source
    if "district_min_months" in entry:
        param = _text(entry, "district_min_months", where)
        if param not in params:
            raise SeasonFileError(f"{where}.district_min_months: no district parameter {param}")
        if kind == "date" and COUNTING_DATE not in dates:
            raise SeasonFileError(f"{where}.district_min_months: dates.{COUNTING_DATE} is "
                                  "missing")
        options["district_min_months"] = param
    return FieldSpec(key=key, label=_text(entry, "label", where), type=kind,
                     required=_get(entry, "required", bool, where),
                     help=_help(entry, where, help_dates),
                     when=_when(entry, where, earlier), **options)


def _date_limit(entry: dict, name: str, where: str, dates: dict[str, date]):
    value = entry.get(name)
    if value is None or value == TODAY:
        return value
    if isinstance(value, str) and value in dates:
        return dates[value]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise SeasonFileError(f"{where}.{name}: a date, {TODAY!r} or one of "
                          f"{', '.join(dates)}")


def _when(entry: dict, where: str, earlier: dict[str, FieldSpec]):
    conditions = _get(entry, "when", dict, where, {})
    parsed = []
    for source, wanted in conditions.items():
        spec = earlier.get(source)
        if spec is None or spec.type not in ("choice", "yes_no"):
            raise SeasonFileError(f"{where}.when: {source} is not an earlier choice or yes/no")
        values = wanted if isinstance(wanted, list) else [wanted]
        kind = bool if spec.type == "yes_no" else str
        allowed = set(spec.choices) if spec.type == "choice" else {True, False}
        if not values or any(type(v) is not kind or v not in allowed for v in values):
            raise SeasonFileError(f"{where}.when: {source} cannot hold {wanted!r}")
        parsed.append((source, frozenset(values)))
    return tuple(parsed)
