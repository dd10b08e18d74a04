"""The directory of publishable files, written in two steps and read back by the verifier.

Before the public draw (`commit`): 说明.txt, commitment.json, records.sha256, instance.json.
After it (`draw`): seed.json, results.csv, admissions.csv, schools.csv, unassigned.csv and
results.json. The CSV files are UTF-8 with a byte-order mark so that spreadsheet programs show
the Chinese headers. Every file is rendered deterministically (same inputs, same bytes), which
lets the verifier demand the published bytes exactly, on top of its item-by-item comparison.
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
    check_commitment,
    commitment_digest,
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


def commitment_files(instance: Instance, commitment: dict) -> dict[str, bytes]:
    """What is published before the draw, file name -> exact bytes."""
    lines = [b'{"format":"' + FORMAT.encode() + b'",']  # instance.json: one record per line
    for name, records in zip(("schools", "applicants"), instance.canonical_records, strict=True):
        lines.append(b'"' + name.encode() + b'":[')
        lines.append(b",\n".join(records))
        lines.append(b"]," if name == "schools" else b"]}")
    return {
        COMMITMENT: _json_bytes(commitment),
        RECORDS: records_text(instance),
        INSTANCE: b"\n".join(line for line in lines if line) + b"\n",
        GUIDE: _GUIDE.format(digest=commitment_digest(commitment),
                             **commitment["draw"]).encode(),
    }


def result_files(draw: PublicDraw, numbers: str, outcome: Outcome,
                 commitment: dict) -> dict[str, bytes]:
    """What is published after the draw, file name -> exact bytes."""
    files = {SEED_INPUTS: _json_bytes({"draw": draw.record(),
                                       "winning_numbers": winning_numbers(numbers, draw)})}
    for table in result_tables(outcome):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(table.header)
        writer.writerows(table.rows)
        files[table.name] = buffer.getvalue().encode("utf-8-sig")
    files[RESULTS_JSON] = _json_bytes(results_document(outcome, commitment), compact=True)
    return files


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (directory / name).write_bytes(content)
    except OSError as exc:
        raise AllocationError("FILE_WRITE_FAILED", f"无法写入 {directory}：{exc}") from None


class PublishedFiles:
    """A publication directory, each file read once."""

    def __init__(self, directory: Path):
        if not directory.is_dir():
            raise AllocationError("FILE_MISSING", f"{directory} 不是公示文件目录")
        self.directory = directory
        self._read: dict[str, bytes] = {}

    def bytes(self, name: str) -> bytes:
        if name not in self._read:
            try:
                self._read[name] = (self.directory / name).read_bytes()
            except FileNotFoundError:
                raise AllocationError("FILE_MISSING", f"缺少文件 {name}") from None
            except OSError as exc:
                raise AllocationError("FILE_MALFORMED", f"无法读取 {name}：{exc}") from None
        return self._read[name]

    def json(self, name: str):
        """Refuses anything but plain JSON: duplicate keys, NaN, huge or deep values included."""
        try:
            return json.loads(self.bytes(name).decode("utf-8"),
                              object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise AllocationError("FILE_MALFORMED", f"{name} 不是有效的 JSON：{exc}") from None

    def table(self, expected: Table) -> list[dict]:
        """Rows as dicts; a row with more or fewer cells than the header keeps them under '…'."""
        try:
            rows = list(csv.reader(io.StringIO(self.bytes(expected.name).decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise AllocationError("FILE_MALFORMED",
                                  f"{expected.name} 不是有效的 CSV：{exc}") from None
        if not rows or tuple(rows[0]) != expected.header:
            raise AllocationError("FILE_MALFORMED",
                                  f"{expected.name} 的表头应为 {','.join(expected.header)}")
        width = len(expected.header)
        return [{**dict(zip(expected.header, row, strict=False)),
                 **({"…": ",".join(row[width:]) or "（缺少字段）"} if len(row) != width else {})}
                for row in rows[1:]]

    def committed(self) -> tuple[dict, PublicDraw, Instance]:
        """The commitment (checked), the draw it announced, and the instance it froze."""
        commitment = self.json(COMMITMENT)
        announced = check_commitment(commitment)
        return commitment, announced, Instance.from_records(self.json(INSTANCE))


def _no_duplicate_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"重复的键 {sorted(k for k in keys if keys.count(k) > 1)[0]}")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"不允许 {name}")


def _json_bytes(value, compact: bool = False) -> bytes:
    # Indented for the small files people read; compact (and C-encoded) for the large one.
    text = json.dumps(value, ensure_ascii=False, sort_keys=True,
                      **({"separators": (",", ":")} if compact else {"indent": 1}))
    return (text + "\n").encode()


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
