"""The two mechanisms: single-school lottery and student-proposing deferred acceptance.

Every school ranks applicants by priority class (1 first), then by lottery number (smaller
first), then by entry id: one lottery number per applicant, used at every school (single
tie-breaking). A group (twins, triplets) is one unit: it needs as many seats as it has members
and ranks at each school with its best member's class and lottery number, so twins are never
worse off than the luckier of them.

Filling seats (`fill_seats`) walks the ranked units and admits each one that still fits; a group
that does not fit is skipped whole and the walk goes on. The single-school lottery is exactly
this walk over everyone who applied to the school.

Deferred acceptance: each unassigned unit proposes to its next school; the school keeps the
best units that fit (the same walk over what it holds plus the newcomer) and refuses the rest,
who move on. Without groups this is the classic algorithm and its result is the student-optimal
stable matching: no applicant and school would both rather be matched to each other, and no
stable matching gives any applicant a school they rank higher.

With groups no stable matching need exist (groups make seats lumpy), so the engine keeps these
guarantees, each checked by the property tests:
1. a group is placed whole, at one school, or not at all; no school exceeds its seats;
2. an applicant outside a group is never refused by a school that admits anyone ranked below
   them there (no justified envy): once a school refuses a single applicant for want of seats,
   it never again admits anyone ranked below that applicant, even if a later change frees a
   seat; such a seat stays empty and is reported for manual placement rather than filled unfairly;
3. a group is refused by a school only when, at that moment, fewer seats than its members were
   left after the units ranked above it, or when that school has already refused a single
   applicant ranked above the group (guarantee 2's cut-off); a group may therefore see a
   lower-ranked single admitted where it did not fit, and a seat freed later may stay empty;
4. without groups, the result is the student-optimal stable matching.
The order in which units propose is fixed (by lottery order), so the result never depends on
the input order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from heapq import heappop, heappush, heappushpop
from typing import NamedTuple

from services.enrollment.allocation.draw import lottery_numbers
from services.enrollment.allocation.instance import (
    MAX_PRIORITY_CLASS,
    Instance,
    cyclic_gc_paused,
)


class Placement(NamedTuple):  # tuples: 300,000 of them are built per Beijing-size draw
    entry: str
    lottery: str
    school: str | None
    rank: int | None  # position of the school in the applicant's list, 1-based
    group: str | None


class Admission(NamedTuple):
    """One admitted applicant, with the class and lottery number the school ranked them by
    (for a group member: the group's, i.e. its best member's)."""

    entry: str
    group: str | None
    priority: int
    lottery: str


@dataclass(frozen=True)
class SchoolResult:
    school: str
    seats: int
    admitted: tuple[Admission, ...]  # in ranking order

    @property
    def cutoff(self) -> Admission | None:
        return self.admitted[-1] if self.admitted else None


@dataclass(frozen=True)
class Outcome:
    seed: str
    placements: tuple[Placement, ...]  # in entry id order
    schools: tuple[SchoolResult, ...]  # in school id order

    @property
    def unassigned(self) -> tuple[Placement, ...]:
        return tuple(p for p in self.placements if p.school is None)


def fill_seats(ranked, seats: int, size) -> tuple[list, list]:
    """Walks (key, unit) pairs in ranking order, admitting each unit that still fits.

    Returns (admitted, refused), both in ranking order."""
    admitted, refused = [], []
    for item in ranked:
        need = size[item[1]]
        if need <= seats:
            admitted.append(item)
            seats -= need
        else:
            refused.append(item)
    return admitted, refused


def allocate(instance: Instance, mechanism: str, seed: str) -> Outcome:
    instance.check_mechanism(mechanism)
    with cyclic_gc_paused():
        return _allocate(instance, mechanism, seed)


def _allocate(instance: Instance, mechanism: str, seed: str) -> Outcome:
    applicants = instance.applicants
    lottery = lottery_numbers(seed, (a.id for a in applicants))
    n = max(len(applicants), 1)
    # Position in lottery order; applicants are sorted by id, so the index breaks exact ties.
    by_lottery = sorted(range(len(applicants)), key=lottery.__getitem__)
    position = [0] * len(applicants)
    for place, index in enumerate(by_lottery):
        position[index] = place

    units = _Units(instance, position, n)
    seats = [s.seats for s in instance.schools]
    if mechanism == "single_school_lottery":
        held, rank = _single_school_lottery(units, seats)
    else:
        held, rank = _deferred_acceptance(units, seats)

    school_of: list[str | None] = [None] * len(applicants)
    rank_of: list[int | None] = [None] * len(applicants)
    results = []
    for school, kept in zip(instance.schools, held, strict=True):
        admitted = []
        for key, unit in sorted(kept):
            ranked_by = lottery[by_lottery[key % n]]
            for member in units.members[unit]:
                school_of[member] = school.id
                rank_of[member] = rank[unit]
                admitted.append(Admission(applicants[member].id, applicants[member].group,
                                          key // n, ranked_by))
        results.append(SchoolResult(school.id, school.seats, tuple(admitted)))
    placements = tuple(Placement(a.id, lottery[i], school_of[i], rank_of[i], a.group)
                       for i, a in enumerate(applicants))
    return Outcome(seed, placements, tuple(results))


class _Units:
    """Applicants folded into units (a single applicant or a whole group), as flat lists.

    A unit's key at a school is priority * n + lottery position: one integer that orders by
    class, then lottery number (smaller is better)."""

    def __init__(self, instance: Instance, position: list[int], n: int):
        school_index = {s.id: j for j, s in enumerate(instance.schools)}
        index_of = {a.id: i for i, a in enumerate(instance.applicants)}
        self.members: list[tuple[int, ...]] = []
        self.choices: list[list[int]] = []
        self.keys: list[list[int]] = []
        for i, applicant in enumerate(instance.applicants):
            if applicant.group is None:
                at = position[i]
                self.members.append((i,))
                self.choices.append([school_index[school] for school, _ in applicant.choices])
                self.keys.append([priority * n + at for _, priority in applicant.choices])
        for group in sorted(instance.groups().values(), key=lambda ms: ms[0].id):
            indices = sorted((index_of[m.id] for m in group), key=position.__getitem__)
            self.members.append(tuple(indices))
            self.choices.append([school_index[school] for school, _ in group[0].choices])
            self.keys.append([min(m.choices[j].priority * n + position[index_of[m.id]]
                                  for m in group)
                              for j in range(len(group[0].choices))])
        self.size = [len(m) for m in self.members]
        self.no_cutoff = (MAX_PRIORITY_CLASS + 1) * n  # above every key
        self._first_position = [position[m[0]] for m in self.members]

    def in_lottery_order(self) -> list[int]:
        return sorted(range(len(self.members)), key=self._first_position.__getitem__)


def _single_school_lottery(units: _Units, seats: list[int]) -> tuple[list[list], list[int]]:
    applied: list[list] = [[] for _ in seats]
    for unit, (school,) in enumerate(units.choices):
        applied[school].append((units.keys[unit][0], unit))
    held = [fill_seats(sorted(ranked), seats[school], units.size)[0]
            for school, ranked in enumerate(applied)]
    return held, [1] * len(units.members)


def _deferred_acceptance(units: _Units, seats: list[int]) -> tuple[list[list], list[int]]:
    """Returns what each school holds and, per unit, the rank of the last school it asked."""
    choices, keys, size = units.choices, units.keys, units.size
    # Per school: held units as a max-heap of (-key, unit) (worst on top), seats used, and the
    # best key it ever refused a single applicant for want of seats: nobody ranked below that
    # may be admitted any more. A school without seats refuses everyone.
    heaps: list[list] = [[] for _ in seats]
    used = [0] * len(seats)
    cutoff = [units.no_cutoff if s > 0 else -1 for s in seats]
    next_choice = [0] * len(choices)
    waiting = deque(units.in_lottery_order())
    while waiting:
        unit = waiting.popleft()
        while unit is not None:  # the unit proposes until held or out of choices
            c = next_choice[unit]
            if c == len(choices[unit]):
                break  # left for manual placement
            next_choice[unit] = c + 1
            school = choices[unit][c]
            key = keys[unit][c]
            if key > cutoff[school]:
                continue
            heap = heaps[school]
            used[school] += size[unit]
            over = used[school] - seats[school]
            if over <= 0:
                heappush(heap, (-key, unit))
                unit = None
                continue
            if size[unit] == 1 and size[heap[0][1]] == 1:
                # The common case: one single in, the worst single (maybe the newcomer) out.
                worst_key, unit = heappushpop(heap, (-key, unit))
                used[school] -= 1
                cutoff[school] = -worst_key
                continue
            # Groups involved: take units off the bottom until the overflow is covered, then
            # walk them in ranking order again; everything above them fits anyway.
            heappush(heap, (-key, unit))
            bottom, freed = [], 0
            while freed < over:
                worst_key, worst = heappop(heap)
                bottom.append((-worst_key, worst))
                freed += size[worst]
            bottom.reverse()
            kept, refused = fill_seats(bottom, freed - over, size)
            for k, u in kept:
                heappush(heap, (-k, u))
            used[school] -= sum(size[u] for _, u in refused)
            for k, u in refused:
                if size[u] == 1:
                    cutoff[school] = min(cutoff[school], k)
            unit = refused[0][1]
            waiting.extend(u for _, u in refused[1:])
    return [[(-k, u) for k, u in heap] for heap in heaps], next_choice
