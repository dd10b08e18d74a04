"""Properties of the allocation engine on random small instances (hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.enrollment.allocation.draw import lottery_numbers
from services.enrollment.allocation.instance import Applicant, Instance
from services.enrollment.allocation.mechanisms import allocate
from services.enrollment.tests.reference_matching import blocking_pairs, student_optimal_matching
from services.enrollment.tests.strategies import PROPERTIES, instances, seeds


def school_order(instance: Instance, seed: str):
    """rank_at(school, entry): what every school ranks by (class, lottery number, entry)."""
    lottery = dict(zip((a.id for a in instance.applicants),
                       lottery_numbers(seed, (a.id for a in instance.applicants)), strict=True))
    priority = {(c.school, a.id): c.priority for a in instance.applicants for c in a.choices}
    return lambda school, entry: (priority[(school, entry)], lottery[entry], entry)


def as_dicts(instance: Instance):
    preferences = {a.id: [c.school for c in a.choices] for a in instance.applicants}
    capacity = {s.id: s.seats for s in instance.schools}
    return preferences, capacity


def assignment(outcome) -> dict[str, str | None]:
    return {p.entry: p.school for p in outcome.placements}


@PROPERTIES
@given(instances(), seeds, st.sampled_from(["deferred_acceptance", "single_school_lottery"]),
       st.randoms(use_true_random=False))
def test_the_same_draw_gives_the_same_result_whatever_the_input_order(instance, seed,
                                                                      mechanism, rng):
    if mechanism == "single_school_lottery":
        instance = Instance.build(instance.schools, [
            Applicant(a.id, a.choices[:1], a.group) for a in instance.applicants])
    records = instance.records()
    rng.shuffle(records["schools"])
    rng.shuffle(records["applicants"])
    shuffled = Instance.from_records(records)
    assert allocate(shuffled, mechanism, seed) == allocate(instance, mechanism, seed)


@PROPERTIES
@given(instances(with_groups=False), seeds)
def test_without_groups_the_result_is_the_student_optimal_stable_matching(instance, seed):
    outcome = allocate(instance, "deferred_acceptance", seed)
    preferences, capacity = as_dicts(instance)
    rank_at = school_order(instance, seed)
    matched = assignment(outcome)
    assert blocking_pairs(preferences, capacity, rank_at, matched) == []
    assert matched == student_optimal_matching(preferences, capacity, rank_at)


@PROPERTIES
@given(instances(), seeds)
def test_groups_stay_together_and_no_school_is_over_capacity(instance, seed):
    outcome = allocate(instance, "deferred_acceptance", seed)
    matched = assignment(outcome)
    for members in instance.groups().values():
        assert len({matched[m.id] for m in members}) == 1
    for school, result in zip(instance.schools, outcome.schools, strict=True):
        assert len(result.admitted) <= school.seats
        assert {a.entry for a in result.admitted} == {e for e, s in matched.items()
                                                      if s == school.id}


@PROPERTIES
@given(instances(), seeds)
def test_no_single_applicant_sees_someone_ranked_below_them_admitted_where_they_wanted(
        instance, seed):
    outcome = allocate(instance, "deferred_acceptance", seed)
    rank_at = school_order(instance, seed)
    matched = assignment(outcome)
    group_key = _group_keys(instance, rank_at)
    admitted = {r.school: r.admitted for r in outcome.schools}
    for applicant in instance.applicants:
        if applicant.group is not None:
            continue
        schools = [c.school for c in applicant.choices]
        current = matched[applicant.id]
        wanted_more = schools if current is None else schools[:schools.index(current)]
        for school in wanted_more:
            mine = rank_at(school, applicant.id)
            for other in admitted[school]:
                theirs = group_key.get((school, other.entry)) or rank_at(school, other.entry)
                assert theirs < mine, (applicant.id, school, other.entry)


@PROPERTIES
@given(instances(), seeds)
def test_each_school_lists_its_admitted_in_ranking_order_with_the_cutoff_last(instance, seed):
    outcome = allocate(instance, "deferred_acceptance", seed)
    for result in outcome.schools:
        keys = [(a.priority, a.lottery) for a in result.admitted]
        assert keys == sorted(keys)
        if result.admitted:
            assert (result.cutoff.priority, result.cutoff.lottery) == keys[-1]


@PROPERTIES
@given(instances(single_choice=True), seeds)
def test_single_school_lottery_admits_by_class_then_lottery_and_skips_groups_that_do_not_fit(
        instance, seed):
    outcome = allocate(instance, "single_school_lottery", seed)
    rank_at = school_order(instance, seed)
    group_key = _group_keys(instance, rank_at)
    lottery = {p.entry: p.lottery for p in outcome.placements}
    for school, result in zip(instance.schools, outcome.schools, strict=True):
        applied = [a for a in instance.applicants if a.choices[0].school == school.id]
        units: dict[str, list[str]] = {}
        for a in applied:
            units.setdefault(("group", a.group) if a.group else ("entry", a.id), []).append(a.id)
        ranked = sorted(units.values(), key=lambda ids: group_key.get((school.id, ids[0]))
                        or rank_at(school.id, ids[0]))
        expected, seats = [], school.seats
        for ids in ranked:  # the rule, written out plainly; twins listed in lottery order
            if len(ids) <= seats:
                expected.extend(sorted(ids, key=lottery.__getitem__))
                seats -= len(ids)
        assert [a.entry for a in result.admitted] == expected


def _group_keys(instance: Instance, rank_at) -> dict[tuple[str, str], tuple]:
    """(school, member) -> the group's ranking: its best member's."""
    keys = {}
    for members in instance.groups().values():
        for choice in members[0].choices:
            best = min(rank_at(choice.school, m.id) for m in members)
            for m in members:
                keys[(choice.school, m.id)] = best
    return keys

