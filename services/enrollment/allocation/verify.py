"""Re-derives a published draw from its files and compares everything, item by item.

Checks, in this order, so that the first discrepancy names the applicant whose data was
changed rather than someone whose result merely moved because of it:
1. the seed inputs name the very draw the commitment announced (otherwise: refused);
2. every record of instance.json against its line in records.sha256, and both against the
   commitment (records digest, counts);
3. the whole allocation, recomputed from the instance and the re-derived seed, against every
   row of results.csv, admissions.csv, schools.csv, unassigned.csv and against results.json;
4. every file byte for byte against what the engine renders from the same inputs.
Files that cannot be read, malformed JSON (duplicate keys included) and a commitment of the
wrong shape (or whose draw is not after its freezing date) are refused, not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from services.enrollment.allocation.draw import (
    PublicDraw,
    commitment_digest,
    derive_seed,
    make_commitment,
)
from services.enrollment.allocation.instance import (
    AllocationError,
    Instance,
    cyclic_gc_paused,
)
from services.enrollment.allocation.mechanisms import Outcome, allocate
from services.enrollment.allocation.publication import (
    COMMITMENT,
    RECORDS,
    RESULTS_JSON,
    SEED_INPUTS,
    PublishedFiles,
    commitment_files,
    result_files,
    result_tables,
    results_document,
)

_KINDS = {"entry": "报名号", "school": "学校"}
_KEPT = 20  # discrepancies kept in full; all are counted


@dataclass(frozen=True)
class Discrepancy:
    file: str
    subject: str  # e.g. 报名号 E00012345
    item: str
    expected: str
    published: str
    where: str = ""  # e.g. 第 3 条

    def describe(self) -> str:
        place = f"{self.file} {self.where}" if self.where else self.file
        return (f"{place}：{self.subject} 的{self.item}"
                f"应为 {self.expected or '（空）'}，公布为 {self.published or '（空）'}")


@dataclass
class Report:
    commitment_sha256: str = ""
    seed: str = ""
    counts: dict = field(default_factory=dict)
    found: list[Discrepancy] = field(default_factory=list)
    total: int = 0
    files: set[str] = field(default_factory=set)  # files with a discrepancy

    @property
    def matches(self) -> bool:
        return self.total == 0

    def add(self, discrepancy: Discrepancy) -> None:
        self.total += 1
        self.files.add(discrepancy.file)
        if len(self.found) < _KEPT:
            self.found.append(discrepancy)


def verify(directory: Path) -> Report:
    """Raises AllocationError when the files cannot be checked at all (refusal)."""
    with cyclic_gc_paused():
        return _verify(directory)


def _verify(directory: Path) -> Report:
    files = PublishedFiles(directory)
    commitment, announced, instance = files.committed()
    seed_inputs = files.json(SEED_INPUTS)
    if not isinstance(seed_inputs, dict) or set(seed_inputs) != {"draw", "winning_numbers"}:
        raise AllocationError("FILE_MALFORMED", f"{SEED_INPUTS} 应恰好含 draw 与 winning_numbers")
    draw = PublicDraw.from_record(seed_inputs["draw"])
    seed = derive_seed(commitment, draw, seed_inputs["winning_numbers"])

    report = Report(commitment_digest(commitment), seed, instance.counts())
    _check_records(files, instance, commitment, announced, report)
    outcome = allocate(instance, commitment["mechanism"], seed)
    _check_tables(files, outcome, report)
    _check_results_json(files, outcome, commitment, report)
    expected = {**commitment_files(instance, commitment),
                **result_files(draw, seed_inputs["winning_numbers"], outcome, commitment)}
    _check_bytes(files, expected, report)
    return report


def _check_records(files: PublishedFiles, instance: Instance, commitment: dict,
                   announced: PublicDraw, report: Report):
    published: dict[tuple[str, str], str] = {}
    for line in files.bytes(RECORDS).decode("utf-8", "replace").splitlines():
        digest, _, rest = line.partition("  ")
        kind, _, ident = rest.partition(" ")
        published[(kind, ident)] = digest
    for digest, kind, ident in instance.record_digests:
        found = published.pop((kind, ident), "")
        if found != digest:
            report.add(Discrepancy(RECORDS, f"{_KINDS[kind]} {ident}",
                                   "记录摘要（与 instance.json 不符）", digest, found))
    for (kind, ident), digest in sorted(published.items()):
        report.add(Discrepancy(RECORDS, f"{_KINDS.get(kind, kind)} {ident}",
                               "记录（instance.json 中没有）", "", digest))
    remade = make_commitment(instance, commitment["mechanism"], announced,
                             commitment["frozen_on"])
    for item in ("records_sha256", "counts"):
        if remade[item] != commitment[item]:
            report.add(Discrepancy(COMMITMENT, "承诺", item, _show(remade[item]),
                                   _show(commitment[item])))


def _check_tables(files: PublishedFiles, outcome: Outcome, report: Report) -> None:
    for table in result_tables(outcome):
        _compare_rows(table.name, table.subject, table.as_dicts(), files.table(table), report)


def _check_results_json(files: PublishedFiles, outcome: Outcome, commitment: dict,
                        report: Report):
    expected = results_document(outcome, commitment)
    published = files.json(RESULTS_JSON)
    if not isinstance(published, dict):
        raise AllocationError("FILE_MALFORMED", f"{RESULTS_JSON} 应为 JSON 对象")
    for name in ("format", "commitment_sha256", "seed"):
        if published.get(name) != expected[name]:
            report.add(Discrepancy(RESULTS_JSON, "结果", name, expected[name],
                                   str(published.get(name, ""))))
    _compare_rows(RESULTS_JSON, "entry", expected["placements"],
                  _rows(published.get("placements")), report)
    _compare_rows(RESULTS_JSON, "school", expected["schools"], _rows(published.get("schools")),
                  report)


def _compare_rows(file: str, subject: str, expected: list[dict], published: list[dict],
                  report: Report) -> None:
    label = _KINDS.get(subject, subject)  # results.json names its subjects entry / school
    for number, (want, got) in enumerate(zip(expected, published, strict=False), start=1):
        for item in dict.fromkeys([*want, *got]):  # extra items in a row count too
            value, found = want.get(item), got.get(item)
            # type() too: JSON true, 1 and 1.0 are equal in Python but not the same value
            if found != value or type(found) is not type(value):
                report.add(Discrepancy(file, f"{label} {want[subject]}", item, _show(value),
                                       _show(found), where=f"第 {number} 条"))
    if len(expected) != len(published):
        report.add(Discrepancy(file, "全部", "条数", str(len(expected)), str(len(published))))


def _check_bytes(files: PublishedFiles, expected: dict[str, bytes], report: Report) -> None:
    """Every file, byte for byte as the engine renders it: catches what the item-by-item
    comparison cannot see (extra cells or keys, duplicate or reordered lines, other spellings)."""
    for name, content in expected.items():
        published = files.bytes(name)
        if published == content or name in report.files:
            continue
        want, got = content.split(b"\n"), published.split(b"\n")
        pairs = zip(want, got, strict=False)
        line = next((i for i, (w, g) in enumerate(pairs) if w != g), min(len(want), len(got)))
        report.add(Discrepancy(name, f"第 {line + 1} 行", "内容（逐字节比对）",
                               _line(want, line), _line(got, line)))


def _line(lines: list[bytes], index: int) -> str:
    if index >= len(lines):
        return "（文件结束）"
    text = lines[index].decode("utf-8", "replace").lstrip("\ufeff")
    return text if len(text) <= 120 else text[:117] + "..."


def _rows(value) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        return []
    return value


def _show(value) -> str:
    if isinstance(value, dict):
        return "，".join(f"{k}={value[k]}" for k in sorted(value))
    return "" if value is None else str(value)
