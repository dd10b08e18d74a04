"""The draw: commit to the frozen instance, then derive the seed and the lottery numbers.

The order is what makes the draw checkable:
1. The district freezes the instance and publishes the commitment: the SHA-256 of every record
   (one line per school and per applicant, so each family can find its own), the SHA-256 of that
   list, the counts, the mechanism, and the public draw whose numbers will make the seed: a named
   public lottery, its issue number and date, which must come after the freezing date.
2. After that public draw, its winning numbers and the commitment's digest give the seed.
   Nobody knew the seed when the instance was frozen, and nobody can change the instance after.
3. Each applicant's lottery number is HMAC-SHA256(seed, entry id): it depends on nothing else,
   so neither the input order nor any other applicant can move it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

from services.enrollment.allocation.instance import (
    MECHANISMS,
    AllocationError,
    Instance,
    canonical_json,
    sha256_hex,
)

FORMAT = "bj-allocation/1"
_SEED_DOMAIN = b"bj-allocation-seed/1\n"
LOTTERY_DIGITS = 16  # hex digits of the HMAC kept as the lottery number (64 bits)


@dataclass(frozen=True)
class PublicDraw:
    """The public lottery draw whose winning numbers will make the seed."""

    lottery: str  # e.g. 中国福利彩票双色球
    issue: str  # e.g. 2027071
    date: str  # YYYY-MM-DD of that draw
    numbers: int  # how many winning numbers it draws (双色球: 6 red + 1 blue = 7)

    def record(self) -> dict:
        return {"lottery": self.lottery, "issue": self.issue, "date": self.date,
                "numbers": self.numbers}

    @classmethod
    def from_record(cls, record) -> PublicDraw:
        texts = ("lottery", "issue", "date")
        if not isinstance(record, dict) or set(record) != {*texts, "numbers"} \
                or not all(isinstance(record[k], str) and record[k].strip() for k in texts) \
                or type(record["numbers"]) is not int or not 1 <= record["numbers"] <= 50:
            raise AllocationError("DRAW_INVALID", "公开开奖信息应含 lottery、issue、date 三项文字"
                                                  "和 numbers（开奖号码个数，1–50）")
        _iso_date(record["date"], "开奖日期")
        return cls(record["lottery"], record["issue"], record["date"], record["numbers"])


def records_text(instance: Instance) -> bytes:
    """records.sha256: one line per school and per applicant, as sha256sum prints them."""
    return "".join(f"{digest}  {kind} {ident}\n"
                   for digest, kind, ident in instance.record_digests).encode()


def make_commitment(instance: Instance, mechanism: str, draw: PublicDraw, frozen_on: str) -> dict:
    instance.check_mechanism(mechanism)
    commitment = {
        "format": FORMAT,
        "mechanism": mechanism,
        "frozen_on": frozen_on,
        "draw": draw.record(),
        "counts": instance.counts(),
        "records_sha256": sha256_hex(records_text(instance)),
    }
    check_commitment(commitment)
    return commitment


def commitment_digest(commitment: dict) -> str:
    return sha256_hex(canonical_json(commitment))


def winning_numbers(text, draw: PublicDraw) -> str:
    """The winning numbers in their one canonical spelling: exactly as many as the commitment
    announced, sorted, two digits each. Sorting and the fixed count leave whoever runs the draw
    no choice of order or subset, hence no choice of seed."""
    numbers = re.findall(r"\d+", text) if isinstance(text, str) else []
    if len(numbers) != draw.numbers or any(not 0 <= int(n) <= 99 for n in numbers):
        raise AllocationError("SEED_INPUTS_INVALID",
                              f"开奖号码应为 {draw.numbers} 个 0–99 的数，实为 {text!r}")
    return " ".join(f"{n:02d}" for n in sorted(int(n) for n in numbers))


def check_commitment(commitment) -> PublicDraw:
    """The commitment's shape, before anything else is read from it; returns its draw."""
    keys = {"format", "mechanism", "frozen_on", "draw", "counts", "records_sha256"}
    if not isinstance(commitment, dict) or set(commitment) != keys \
            or commitment["format"] != FORMAT or commitment["mechanism"] not in MECHANISMS \
            or not isinstance(commitment["counts"], dict) \
            or not re.fullmatch(r"[0-9a-f]{64}", str(commitment["records_sha256"])):
        raise AllocationError("FILE_MALFORMED",
                              f"承诺文件应恰好含 {'、'.join(sorted(keys))}，格式为 {FORMAT}")
    draw = PublicDraw.from_record(commitment["draw"])
    if _iso_date(draw.date, "开奖日期") <= _iso_date(commitment["frozen_on"], "冻结日期"):
        raise AllocationError("DRAW_NOT_AFTER_FREEZE",
                              "公开开奖日期必须晚于数据冻结（承诺公布）日期")
    return draw


def derive_seed(commitment: dict, draw: PublicDraw, numbers: str) -> str:
    """Refuses numbers from any draw other than the one the commitment named in advance."""
    if draw.record() != commitment["draw"]:
        raise AllocationError(
            "SEED_DRAW_MISMATCH",
            f"种子所用的开奖（{draw.lottery} 第 {draw.issue} 期 {draw.date}）"
            f"不是承诺中事先声明的开奖（{_describe(commitment['draw'])}）")
    material = b"\n".join([commitment_digest(commitment).encode(),
                           canonical_json(draw.record()),
                           winning_numbers(numbers, draw).encode()])
    return hashlib.sha256(_SEED_DOMAIN + material).hexdigest()


def lottery_numbers(seed: str, entry_ids) -> list[str]:
    """HMAC-SHA256(seed, entry id), first 64 bits in hex, for each entry id."""
    keyed = hmac.new(bytes.fromhex(seed), digestmod=hashlib.sha256)
    numbers = []
    for entry_id in entry_ids:
        mac = keyed.copy()
        mac.update(entry_id.encode())
        numbers.append(mac.hexdigest()[:LOTTERY_DIGITS])
    return numbers


def _describe(draw: dict) -> str:
    return f"{draw['lottery']} 第 {draw['issue']} 期 {draw['date']}"


def _iso_date(value, label: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise AllocationError("DRAW_INVALID", f"{label} {value!r} 应为 YYYY-MM-DD") from None
