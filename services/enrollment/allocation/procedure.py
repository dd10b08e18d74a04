"""The two public steps of a draw, as the district runs them (and the tests and benchmark)."""

from __future__ import annotations

from pathlib import Path

from services.enrollment.allocation.draw import (
    PublicDraw,
    commitment_digest,
    derive_seed,
    make_commitment,
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
    SEED_INPUTS,
    PublishedFiles,
    commitment_files,
    result_files,
    write_files,
)


def commit(instance: Instance, directory: Path, mechanism: str, draw: PublicDraw,
           frozen_on: str) -> str:
    """Step 1, before the public draw: freeze and publish. Returns the commitment digest."""
    if (directory / COMMITMENT).exists():
        raise AllocationError("ALREADY_COMMITTED", f"{directory} 中已有承诺文件，不能覆盖")
    with cyclic_gc_paused():
        commitment = make_commitment(instance, mechanism, draw, frozen_on)
        write_files(directory, commitment_files(instance, commitment))
    return commitment_digest(commitment)


def draw(directory: Path, numbers: str) -> Outcome:
    """Step 2, after the public draw: seed from its winning numbers, allocate, publish.
    A draw is run once: its results are never overwritten."""
    if (directory / SEED_INPUTS).exists():
        raise AllocationError("ALREADY_DRAWN", f"{directory} 中已有开奖结果，不能重新开奖")
    with cyclic_gc_paused():
        commitment, public_draw, instance = PublishedFiles(directory).committed()
        if sha256_hex(records_text(instance)) != commitment["records_sha256"]:
            raise AllocationError("INSTANCE_CHANGED", "instance.json 与承诺不一致，不能开奖")
        outcome = allocate(instance, commitment["mechanism"],
                           derive_seed(commitment, public_draw, numbers))
        write_files(directory, result_files(public_draw, numbers, outcome, commitment))
    return outcome
