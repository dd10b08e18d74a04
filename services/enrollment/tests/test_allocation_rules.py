"""Rules of the draw, the instance and the generator, example by example."""

from __future__ import annotations

import pytest

from common.districts import DISTRICTS
from services.enrollment.allocation import synthetic
from services.enrollment.allocation.draw import (
    PublicDraw,
    derive_seed,
    lottery_numbers,
    make_commitment,
    winning_numbers,
)
from services.enrollment.allocation.instance import (
    AllocationError,
    Applicant,
    Choice,
    Instance,
    School,
)
from services.enrollment.allocation.mechanisms import allocate

DRAW = synthetic.DEMO_DRAW
SEED = "5e" * 32


def tiny() -> Instance:
    return Instance.build([School("S1", 2)], [Applicant("E1", (Choice("S1", 1),)),
                                              Applicant("E2", (Choice("S1", 2),))])


def test_a_lottery_number_depends_only_on_the_seed_and_the_entry_id():
    alone = lottery_numbers(SEED, ["E0042"])
    among_others = lottery_numbers(SEED, ["E0001", "E0042", "E9999"])
    assert alone[0] == among_others[1]
    assert len(alone[0]) == 16 and int(alone[0], 16) >= 0
    assert lottery_numbers("5f" * 32, ["E0042"]) != alone


def test_the_seed_comes_from_the_commitment_and_the_announced_draw_only():
    commitment = make_commitment(tiny(), "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    seed = derive_seed(commitment, DRAW, "03 08 15 21 27 33 12")
    assert seed == derive_seed(commitment, DRAW, "3,8,15,21,27,33,12")
    assert seed == derive_seed(commitment, DRAW, "12 33 27 21 15 8 3")  # no order to choose
    assert seed != derive_seed(commitment, DRAW, "03 08 15 21 27 33 13")
    other_day = PublicDraw(DRAW.lottery, "2027072", "2027-06-26", 7)
    with pytest.raises(AllocationError) as refused:
        derive_seed(commitment, other_day, "03 08 15 21 27 33 12")
    assert refused.value.code == "SEED_DRAW_MISMATCH"


def test_winning_numbers_are_spelt_one_way_and_leave_no_choice():
    four = PublicDraw("快乐8", "2027001", "2027-06-24", 4)
    assert winning_numbers(" 15, 8 ,3+12", four) == "03 08 12 15"
    for wrong in ("3 8 15", "3 8 15 12 1", "  ", 3, ["03"], None, "3 8 15 100"):
        with pytest.raises(AllocationError) as refused:
            winning_numbers(wrong, four)
        assert refused.value.code == "SEED_INPUTS_INVALID"


def test_the_draw_must_come_after_the_instance_is_frozen():
    with pytest.raises(AllocationError) as refused:
        make_commitment(tiny(), "deferred_acceptance", DRAW, "2027-06-24")
    assert refused.value.code == "DRAW_NOT_AFTER_FREEZE"


def test_a_single_school_lottery_takes_one_school_per_applicant():
    two_choices = Instance.build([School("S1", 1), School("S2", 1)],
                                 [Applicant("E1", (Choice("S1", 1), Choice("S2", 1)))])
    with pytest.raises(AllocationError):
        make_commitment(two_choices, "single_school_lottery", DRAW, synthetic.DEMO_FROZEN_ON)
    with pytest.raises(AllocationError):
        make_commitment(two_choices, "boston", DRAW, synthetic.DEMO_FROZEN_ON)


def test_the_commitment_names_counts_draw_and_a_digest_of_every_record():
    commitment = make_commitment(tiny(), "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    assert commitment["counts"] == {"schools": 1, "seats": 2, "applicants": 2, "groups": 0,
                                    "choices": 2}
    assert commitment["draw"] == DRAW.record()
    assert len(commitment["records_sha256"]) == 64


@pytest.mark.parametrize("records, fragment", [
    ({"schools": [{"id": "S1", "seats": 1}, {"id": "S1", "seats": 2}], "applicants": []},
     "学校编号 S1 重复出现"),
    ({"schools": [{"id": "S1", "seats": -1}], "applicants": []}, "学位数 -1"),
    ({"schools": [{"id": "S1", "seats": True}], "applicants": []}, "学位数 True"),
    ({"schools": [{"id": "S 1", "seats": 1}], "applicants": []}, "学校编号 'S 1'"),
    ({"schools": [{"id": "S1", "seats": 1}],
      "applicants": [{"id": "E1", "choices": [["S2", 1]]}]}, "不存在的学校 S2"),
    ({"schools": [{"id": "S1", "seats": 1}],
      "applicants": [{"id": "E1", "choices": [["S1", 1], ["S1", 2]]}]}, "重复的学校"),
    ({"schools": [{"id": "S1", "seats": 1}],
      "applicants": [{"id": "E1", "choices": [["S1", 0]]}]}, "类别 0"),
    ({"schools": [{"id": "S1", "seats": 1}],
      "applicants": [{"id": "E1", "choices": []}]}, "没有填报任何学校"),
    ({"schools": [{"id": "S1", "seats": 1}],
      "applicants": [{"id": "E1", "choices": [["S1", 1]], "group": "G1"}]}, "只有一名成员"),
    ({"schools": [{"id": "S1", "seats": 1}, {"id": "S2", "seats": 1}],
      "applicants": [{"id": "E1", "choices": [["S1", 1]], "group": "G1"},
                     {"id": "E2", "choices": [["S2", 1]], "group": "G1"}]}, "相同顺序"),
    ({"schools": [], "applicants": [{"id": "E1", "choices": [["S1", 1]], "name": "x"}]},
     "应含 id 与 choices"),
    ({"schools": [{"id": "S1\n", "seats": 1}], "applicants": []}, "学校编号 'S1\\n'"),
    ([], "JSON 对象"),
])
def test_a_malformed_instance_is_refused_with_a_clear_message(records, fragment):
    with pytest.raises(AllocationError) as refused:
        Instance.from_records(records)
    assert refused.value.code == "INSTANCE_INVALID"
    assert fragment in refused.value.message


def test_in_a_lottery_twins_that_do_not_fit_are_skipped_whole_and_the_next_admitted():
    # Classes fix the order whatever the lottery: E1, then the twins, then E4.
    instance = Instance.build([School("P1", 2)], [
        Applicant("E1", (Choice("P1", 1),)),
        Applicant("E2", (Choice("P1", 2),), "G1"),
        Applicant("E3", (Choice("P1", 2),), "G1"),
        Applicant("E4", (Choice("P1", 3),)),
    ])
    outcome = allocate(instance, "single_school_lottery", SEED)
    assert [a.entry for a in outcome.schools[0].admitted] == ["E1", "E4"]
    assert [p.entry for p in outcome.unassigned] == ["E2", "E3"]
    assert outcome.schools[0].cutoff.entry == "E4"


def test_twins_rank_with_their_better_member_and_are_admitted_together():
    instance = Instance.build([School("P1", 2)], [
        Applicant("E1", (Choice("P1", 2),)),
        Applicant("E2", (Choice("P1", 1),), "G1"),
        Applicant("E3", (Choice("P1", 3),), "G1"),
    ])
    outcome = allocate(instance, "single_school_lottery", SEED)
    assert sorted(a.entry for a in outcome.schools[0].admitted) == ["E2", "E3"]
    assert {a.priority for a in outcome.schools[0].admitted} == {1}


def test_deferred_acceptance_reports_each_applicants_lottery_number_school_and_rank():
    instance = Instance.build([School("S1", 1), School("S2", 1)], [
        Applicant("E1", (Choice("S1", 1), Choice("S2", 1))),
        Applicant("E2", (Choice("S1", 2), Choice("S2", 2))),
        Applicant("E3", (Choice("S1", 3),)),
    ])
    outcome = allocate(instance, "deferred_acceptance", SEED)
    placed = {p.entry: (p.school, p.rank) for p in outcome.placements}
    assert placed == {"E1": ("S1", 1), "E2": ("S2", 2), "E3": (None, None)}
    assert [p.entry for p in outcome.unassigned] == ["E3"]
    assert [p.lottery for p in outcome.placements] == lottery_numbers(SEED, ["E1", "E2", "E3"])


def test_the_generator_is_deterministic_and_beijing_like():
    first = synthetic.generate(3000, 60, seed=11)
    assert first == synthetic.generate(3000, 60, seed=11)
    assert first != synthetic.generate(3000, 60, seed=12)
    assert {s.district for s in first.schools} == {d.code for d in DISTRICTS}
    assert all(6 <= len(a.choices) <= 12 for a in first.applicants)
    assert {c.priority for a in first.applicants for c in a.choices} == {1, 2, 3}
    counts = first.counts()
    assert 0.95 * 3000 * 1.05 <= counts["seats"] <= 1.05 * 3000 * 1.05
    assert 15 <= counts["groups"] <= 60
    wanted = {}
    for applicant in first.applicants:
        wanted[applicant.choices[0].school] = wanted.get(applicant.choices[0].school, 0) + 1
    first_choices = sorted(wanted.values())
    assert first_choices[-1] > 5 * first_choices[len(first_choices) // 2]  # uneven popularity
