"""The directory of publishable files, written in two steps and read back by the verifier.

Before the public draw (`commit`): 说明.txt, commitment.json, records.sha256, instance.json.
After it (`draw`): seed.json, results.csv, admissions.csv, schools.csv, unassigned.csv and
results.json. The CSV files are UTF-8 with a byte-order mark so that spreadsheet programs show
the Chinese headers; every file is written deterministically (same inputs, same bytes).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from services.enrollment.allocation.draw import (
    FORMAT,
    PublicDraw,
    commitment_digest,
    record_lines,
    records_text,
    winning_numbers,
)
from services.enrollment.allocation.instance import AllocationError, Instance
from services.enrollment.allocation.mechanisms import Outcome

COMMITMENT = "commitment.json"
RECORDS = "records.sha256"
INSTANCE = "instance.json"
SEED_INPUTS = "seed.json"
RESULTS_JSON = "results.json"
GUIDE = "说明.txt"


@dataclass(frozen=True)
class Table:
    """A CSV file: its header and rows, and which column names the applicant (or school)."""

    name: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    subject: str

    def as_dicts(self) -> list[dict]:
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


def _text(value) -> str:
    return "" if value is None else str(value)


def result_tables(outcome: Outcome) -> list[Table]:
    placements = [(p.entry, _text(p.group), p.lottery, _text(p.school), _text(p.rank))
                  for p in outcome.placements]
    admissions = [(s.school, str(pos), a.entry, _text(a.group), str(a.priority), a.lottery)
                  for s in outcome.schools for pos, a in enumerate(s.admitted, start=1)]
    schools = [(s.school, str(s.seats), str(len(s.admitted)), str(s.seats - len(s.admitted)),
                _text(s.cutoff and s.cutoff.priority), _text(s.cutoff and s.cutoff.lottery))
               for s in outcome.schools]
    unassigned = [(p.entry, _text(p.group), p.lottery) for p in outcome.unassigned]
    return [
        Table("results.csv", ("报名号", "多胞胎组", "随机号", "录取学校", "志愿序号"),
              placements, "报名号"),
        Table("admissions.csv",
              ("学校", "录取顺序", "报名号", "多胞胎组", "排序类别", "排序随机号"),
              admissions, "报名号"),
        Table("schools.csv", ("学校", "学位数", "录取人数", "空余学位", "末位类别", "末位随机号"),
              schools, "学校"),
        Table("unassigned.csv", ("报名号", "多胞胎组", "随机号"), unassigned, "报名号"),
    ]


def results_document(outcome: Outcome, commitment: dict) -> dict:
    return {
        "format": FORMAT,
        "commitment_sha256": commitment_digest(commitment),
        "seed": outcome.seed,
        "placements": [{"entry": p.entry, "group": p.group, "lottery": p.lottery,
                        "school": p.school, "rank": p.rank} for p in outcome.placements],
        "schools": [{"school": s.school, "seats": s.seats,
                     "admitted": [[a.entry, a.priority, a.lottery] for a in s.admitted]}
                    for s in outcome.schools],
    }


def write_commitment(directory: Path, instance: Instance, commitment: dict) -> str:
    """Writes what is published before the draw; returns the commitment's digest."""
    directory.mkdir(parents=True, exist_ok=True)
    _write_json(directory / COMMITMENT, commitment)
    (directory / RECORDS).write_bytes(records_text(record_lines(instance)))
    with open(directory / INSTANCE, "wb") as out:  # one canonical record per line
        out.write(b'{"format":"' + FORMAT.encode() + b'",\n')
        for name, records in zip(("schools", "applicants"), instance.canonical_records,
                                 strict=True):
            out.write(b'"' + name.encode() + b'":[\n')
            out.write(b",\n".join(records))
            out.write(b"\n]" + (b",\n" if name == "schools" else b"}\n"))
    digest = commitment_digest(commitment)
    (directory / GUIDE).write_text(_GUIDE.format(digest=digest, **commitment["draw"]),
                                   encoding="utf-8")
    return digest


def write_results(directory: Path, draw: PublicDraw, numbers: str, outcome: Outcome,
                  commitment: dict) -> None:
    _write_json(directory / SEED_INPUTS,
                {"draw": draw.record(), "winning_numbers": winning_numbers(numbers)})
    for table in result_tables(outcome):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.header)
        writer.writerows(table.rows)
        (directory / table.name).write_text(buffer.getvalue(), encoding="utf-8-sig")
    _write_json(directory / RESULTS_JSON, results_document(outcome, commitment), compact=True)


def read_json(directory: Path, name: str):
    try:
        return json.loads((directory / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AllocationError("FILE_MISSING", f"缺少文件 {name}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AllocationError("FILE_MALFORMED", f"{name} 不是有效的 JSON：{exc}") from None


def read_bytes(directory: Path, name: str) -> bytes:
    try:
        return (directory / name).read_bytes()
    except FileNotFoundError:
        raise AllocationError("FILE_MISSING", f"缺少文件 {name}") from None


def read_table(directory: Path, expected: Table) -> list[dict]:
    try:
        text = read_bytes(directory, expected.name).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AllocationError("FILE_MALFORMED", f"{expected.name} 不是 UTF-8 文本") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != expected.header:
        raise AllocationError("FILE_MALFORMED",
                              f"{expected.name} 的表头应为 {','.join(expected.header)}")
    return [dict(zip(expected.header, row, strict=False)) for row in rows[1:]]


def _write_json(path: Path, value, compact: bool = False) -> None:
    # Indented for the small files people read; compact (and C-encoded) for the large one.
    text = json.dumps(value, ensure_ascii=False, sort_keys=True,
                      **({"separators": (",", ":")} if compact else {"indent": 1}))
    path.write_text(text + "\n", encoding="utf-8")


_GUIDE = """\
本目录是一次入学派位（摇号）的公示文件，任何人都可以用公开的程序复核。

一、开奖前公布（承诺）
  commitment.json  承诺：分配方式、数据冻结日期、各类数量、全部记录摘要的 SHA-256，
                   以及用来生成随机种子的公开开奖：{lottery} 第 {issue} 期（{date}）。
  records.sha256   每所学校、每名申请人一行：记录的 SHA-256 摘要。家长可核对自己的一行。
  instance.json    去标识化的报名数据：学校学位数；每名申请人的报名号、志愿及类别、多胞胎组。
  承诺摘要（commitment.json 规范化内容的 SHA-256）：{digest}

二、开奖后公布（结果）
  seed.json        上述公开开奖的中奖号码。种子 = SHA-256(承诺摘要、开奖信息、中奖号码)。
  results.csv      每名申请人的随机号、录取学校及其志愿序号（空白表示待区教委统筹安排）。
  admissions.csv   各校录取名单，按录取顺序，附排序所用的类别与随机号。
  schools.csv      各校学位数、录取人数、空余学位和末位录取的类别与随机号（分数线）。
  unassigned.csv   未被任何志愿录取、由区教委统筹安排的申请人。
  results.json     以上结果的机器可读版本。

三、复核
  python -m services.enrollment.allocation verify <本目录>
  程序从开奖号码重新计算种子、每名申请人的随机号和全部录取结果，与公布的文件逐项比对，
  输出“全部一致”或第一处不一致（哪位申请人、应为何值、公布为何值）。
"""
