"""Realistic synthetic instances: Beijing-like districts, uneven popularity, twins, classes.

Shape (deterministic for a given seed):
- schools spread over the 18 district entrances in proportion to rough school-age populations,
  40–360 seats each, total seats = applicants × `seat_ratio`;
- popularity per school drawn from a heavy-tailed (Pareto) law: a few schools are wanted by
  many, most by few, as with 小升初 and private-school lotteries;
- each applicant lives in a district chosen by seats, ranks `min_choices`–`max_choices` schools,
  about 85% of them in the home district, picked by popularity;
- priority class per choice: 1 for a sibling already at the school (2%), 2 in the home district,
  3 elsewhere;
- about 1.6% of applicants are twins and 0.1% triplets, ranking the same list.
"""

from __future__ import annotations

import random
from bisect import bisect
from itertools import accumulate

from services.enrollment.allocation.draw import PublicDraw
from services.enrollment.allocation.instance import Applicant, Choice, Instance, School

# Rough relative school-age populations of the 18 entrances (Chaoyang and Haidian largest).
_DISTRICT_WEIGHTS = {
    "dongcheng": 4, "xicheng": 6, "chaoyang": 16, "haidian": 15, "fengtai": 9,
    "shijingshan": 3, "mentougou": 2, "fangshan": 6, "tongzhou": 9, "shunyi": 6,
    "changping": 10, "daxing": 9, "huairou": 2, "pinggu": 2, "miyun": 2, "yanqing": 1,
    "yanshan": 1, "jingkai": 2,
}
HOME_SHARE = 0.85

# The public draw that demo data, tests and benchmarks announce and use.
DEMO_DRAW = PublicDraw("中国福利彩票双色球", "2027071", "2027-06-24", 7)
DEMO_FROZEN_ON = "2027-06-20"
DEMO_WINNING_NUMBERS = "03 08 15 21 27 33 12"


def generate(applicants: int, schools: int, *, seed: int = 1, min_choices: int = 6,
             max_choices: int = 12, seat_ratio: float = 1.05, twins: bool = True) -> Instance:
    rng = random.Random(seed)
    school_list = _schools(rng, applicants, schools, seat_ratio)
    by_district: dict[str, list[School]] = {}
    for school in school_list:
        by_district.setdefault(school.district, []).append(school)
    popularity = {s.id: rng.paretovariate(1.2) for s in school_list}
    everywhere = _Picker(school_list, popularity)
    local = {d: _Picker(ss, popularity) for d, ss in by_district.items()}
    homes = list(by_district)
    home_weights = list(accumulate(sum(s.seats for s in by_district[d]) for d in homes))

    people: list[Applicant] = []
    ids = rng.sample(range(10**8, 10**9), applicants)
    index = 0
    while index < applicants:
        size = _family_size(rng) if twins else 1
        size = min(size, applicants - index)
        home = homes[bisect(home_weights, rng.random() * home_weights[-1])]
        wanted = min(rng.randint(min_choices, max_choices), len(school_list))
        picked = _pick(rng, wanted, local[home], everywhere)
        sibling = rng.random() < 0.02
        choices = tuple(
            Choice(s.id, 1 if sibling and rank == 0 else 2 if s.district == home else 3)
            for rank, s in enumerate(picked))
        group = f"G{ids[index]}" if size > 1 else None
        for member in range(size):
            people.append(Applicant(f"E{ids[index + member]}", choices, group))
        index += size
    return Instance.build(school_list, people)


def _schools(rng: random.Random, applicants: int, count: int, seat_ratio: float):
    names = list(_DISTRICT_WEIGHTS)
    # Every district gets a school while there are enough schools, the rest go by weight.
    districts = names[:count] + rng.choices(names, [_DISTRICT_WEIGHTS[d] for d in names],
                                            k=max(0, count - len(names)))
    raw = [rng.randint(40, 360) for _ in range(count)]
    scale = applicants * seat_ratio / max(sum(raw), 1)
    return [School(f"S{number:04d}", max(1, round(seats * scale)), district)
            for number, (district, seats) in enumerate(zip(districts, raw, strict=True), 1)]


def _family_size(rng: random.Random) -> int:
    draw = rng.random()
    return 3 if draw < 0.0005 else 2 if draw < 0.0085 else 1


class _Picker:
    def __init__(self, schools: list[School], popularity: dict[str, float]):
        self.schools = schools
        self.popularity = popularity
        self.cumulative = list(accumulate(popularity[s.id] for s in schools))

    def one(self, rng: random.Random) -> School:
        return self.schools[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def _pick(rng: random.Random, wanted: int, home: _Picker, everywhere: _Picker) -> list[School]:
    """`wanted` distinct schools, mostly from home, more popular ones more often."""
    picked: dict[str, School] = {}
    local_wanted = min(len(home.schools), round(wanted * HOME_SHARE))
    for picker, target in ((home, local_wanted), (everywhere, wanted)):
        attempts = 0
        while len(picked) < target and attempts < 50 * wanted:
            school = picker.one(rng)
            picked.setdefault(school.id, school)
            attempts += 1
    # Families put the schools they want most first, with their own taste as noise.
    taste = {sid: everywhere.popularity[sid] * rng.uniform(0.3, 3.0) for sid in picked}
    return sorted(picked.values(), key=lambda s: -taste[s.id])

