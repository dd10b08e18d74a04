"""The two public steps of a draw, as the district runs them (and the tests and benchmark)."""

from __future__ import annotations

from pathlib import Path

from services.enrollment.allocation.draw import (
    PublicDraw,
    derive_seed,
    make_commitment,
    record_lines,
    records_text,
)
from services.enrollment.allocation.instance import (
    AllocationError,
    Instance,
    cyclic_gc_paused,
    sha256_hex,
)
from services.enrollment.allocation.mechanisms import Outcome, allocate
from services.enrollment.allocation.publication import (
    COMMITMENT,
    INSTANCE,
    read_json,
    write_commitment,
    write_results,
)


def commit(instance: Instance, directory: Path, mechanism: str, draw: PublicDraw,
           frozen_on: str) -> str:
    """Step 1, before the public draw: freeze and publish. Returns the commitment digest."""
    if (directory / COMMITMENT).exists():
        raise AllocationError("ALREADY_COMMITTED", f"{directory} 中已有承诺文件，不能覆盖")
    with cyclic_gc_paused():
        return write_commitment(directory, instance,
                                make_commitment(instance, mechanism, draw, frozen_on))


def draw(directory: Path, numbers: str) -> Outcome:
    """Step 2, after the public draw: seed from its winning numbers, allocate, publish."""
    with cyclic_gc_paused():
        return _draw(directory, numbers)


def _draw(directory: Path, numbers: str) -> Outcome:
    commitment = read_json(directory, COMMITMENT)
    instance = Instance.from_records(read_json(directory, INSTANCE))
    if sha256_hex(records_text(record_lines(instance))) != commitment["records_sha256"]:
        raise AllocationError("INSTANCE_CHANGED", "instance.json 与承诺不一致，不能开奖")
    public_draw = PublicDraw.from_record(commitment["draw"])
    outcome = allocate(instance, commitment["mechanism"], derive_seed(commitment, public_draw,
                                                                      numbers))
    write_results(directory, public_draw, numbers, outcome, commitment)
    return outcome
