"""The details form (录入详细信息 / 录入相关审核材料信息) as the pages draw it, from enrollment's
form view (the season file), and what a browser posts turned back into the details.

A field's name is "section.field", in a repeated group "section.N.field": the keys of
enrollment's field errors, so each message goes next to its field. Details are
{section: {field: value}}, a group {section: [{field: value}, ...]}. A form posts strings:
yes/no fields become booleans and empty fields are left out (a draft may be half filled; a
group's wholly empty entry is no entry); the rest goes as typed, enrollment checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.districts import DISTRICTS, district_name
from services.enrollment.contract import FieldView, FormView, SectionView

YES_NO = {"yes": True, "no": False}
YES_NO_TEXT = {True: "是", False: "否"}
# Choices with this many options or fewer are radio buttons, longer lists a select.
MAX_RADIOS = 3
# How each type is typed in: (input type, inputmode, maxlength when the season gives none).
INPUTS = {"text": ("text", None, None), "date": ("date", None, None),
          "region": ("text", "numeric", 6), "id_number": ("text", None, 30),
          "phone": ("tel", "numeric", 11), "uscc": ("text", None, 18),
          "months": ("text", "numeric", 3)}
# Replaces the season's help where the page asks differently (a code, not three selects).
HINTS = {"region": "请填写户籍所在县（区）的6位行政区划代码，如山东省济南市历下区为370102。"}


@dataclass(frozen=True)
class Field:
    """One field of one entry, as the template draws it."""
    name: str
    label: str
    required: bool
    widget: str  # "input", "select" or "radios"
    hint: str | None = None
    input_type: str = "text"
    inputmode: str | None = None
    maxlength: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    # Shown only while each named field holds one of its values: "name=v1,v2;name2=v3"
    # (site.js hides it otherwise; enrollment drops it anyway).
    when: str | None = None


@dataclass(frozen=True)
class Block:
    """A section, or one entry of a repeated group, drawn as a fieldset."""
    title: str
    help: str | None
    fields: tuple[Field, ...]


def indexes(section: SectionView) -> list[int | None]:
    """The entries a page shows: every one a group may have; None for a plain section."""
    return list(range(section.max_entries)) if section.max_entries else [None]


def field_name(section: SectionView, index: int | None, key: str) -> str:
    return f"{section.key}.{key}" if index is None else f"{section.key}.{index}.{key}"


def entry_of(section: SectionView, data: dict | None, index: int | None) -> dict:
    stored = (data or {}).get(section.key)
    if index is None:
        return stored if isinstance(stored, dict) else {}
    return stored[index] if isinstance(stored, list) and index < len(stored) else {}


def applies(spec: FieldView, entry: dict) -> bool:
    """Whether the field's `when` holds in the entry (enrollment drops it otherwise)."""
    return all(entry.get(source) in values for source, values in (spec.when or {}).items())


def form_value(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def parse(form: FormView, posted) -> dict:
    """The details in a posted form (`posted`: the request's form)."""
    def entry(section: SectionView, index: int | None) -> dict:
        found = {}
        for spec in section.fields:
            text = posted.get(field_name(section, index, spec.key), "").strip()
            if text:
                found[spec.key] = YES_NO.get(text, text) if spec.type == "yes_no" else text
        return found
    data = {}
    for section in form.sections:
        entries = [entry(section, index) for index in indexes(section)]
        data[section.key] = entries if section.max_entries else entries[0]
    return data


def values(form: FormView, data: dict | None) -> dict[str, str]:
    """The details as form values by field name: to fill in the form, or carry in hidden
    fields."""
    found = {}
    for section in form.sections:
        for index in indexes(section):
            entry = entry_of(section, data, index)
            for spec in section.fields:
                if spec.key in entry:
                    found[field_name(section, index, spec.key)] = form_value(entry[spec.key])
    return found


def options(spec: FieldView) -> tuple[tuple[str, str], ...]:
    if spec.type == "district":
        return tuple((d.code, d.name) for d in DISTRICTS)
    if spec.type == "yes_no":
        return tuple((form_value(value), text) for value, text in YES_NO_TEXT.items())
    return tuple((spec.choices or {}).items())


def shown(spec: FieldView, value) -> str:
    """A value as the family reads it: a choice by its text."""
    if spec.type == "district":
        return district_name(value)
    if spec.type == "yes_no":
        return YES_NO_TEXT.get(value, str(value))
    return (spec.choices or {}).get(value, str(value))


def _field(section: SectionView, index: int | None, spec: FieldView) -> Field:
    name = field_name(section, index, spec.key)
    hint = HINTS.get(spec.type, spec.help) or None
    common = {"name": name, "label": spec.label, "required": spec.required, "hint": hint}
    if spec.when:
        sources = {s.key: s for s in section.fields}
        said = "且".join(f"{sources[source].label}选择“"
                        + "”或“".join(shown(sources[source], value) for value in wanted) + "”"
                        for source, wanted in spec.when.items())
        common.update(label=f"{spec.label}（{said}时填写）", when=";".join(
            field_name(section, index, source) + "=" + ",".join(map(form_value, wanted))
            for source, wanted in spec.when.items()))
    choices = options(spec)
    if spec.type in ("choice", "district", "yes_no"):
        widget = "radios" if len(choices) <= MAX_RADIOS else "select"
        return Field(widget=widget, options=choices, **common)
    input_type, inputmode, maxlength = INPUTS[spec.type]
    return Field(widget="input", input_type=input_type, inputmode=inputmode,
                 maxlength=spec.max_length or maxlength, **common)


def layout(form: FormView) -> list[Block]:
    """Every section's fieldsets; a group's entries beyond its minimum marked optional."""
    blocks = []
    for section in form.sections:
        for index in indexes(section):
            title = section.title
            if index is not None:
                title += f"（{index + 1}）"
                if index >= section.min_entries:
                    title += "（选填）"
            blocks.append(Block(title, section.help if not index else None,
                                tuple(_field(section, index, spec) for spec in section.fields)))
    return blocks


def summary(form: FormView, data: dict | None) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """What the details say, section by section (a group entry by entry), only the fields
    that apply: (title, ((label, text), ...))."""
    blocks = []
    for section in form.sections:
        for index in indexes(section):
            entry = entry_of(section, data, index)
            rows = tuple((spec.label, shown(spec, entry[spec.key]))
                         for spec in section.fields
                         if spec.key in entry and applies(spec, entry))
            if rows or index is None:
                title = section.title + ("" if index is None else f"（{index + 1}）")
                blocks.append((title, rows))
    return blocks
