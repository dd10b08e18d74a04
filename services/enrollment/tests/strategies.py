"""Hypothesis strategies: random small allocation instances and seeds."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.enrollment.allocation.instance import Applicant, Choice, Instance, School

PROPERTIES = settings(max_examples=300, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])
seeds = st.binary(min_size=32, max_size=32).map(bytes.hex)


@st.composite
def instances(draw, with_groups: bool = True, single_choice: bool = False) -> Instance:
    school_ids = [f"S{i}" for i in range(draw(st.integers(1, 6)))]
    schools = [School(sid, draw(st.integers(0, 5))) for sid in school_ids]
    count = draw(st.integers(0, 24))
    lists = []
    for _ in range(count):
        ranked = draw(st.permutations(school_ids))
        length = 1 if single_choice else draw(st.integers(1, len(school_ids)))
        lists.append(ranked[:length])
    groups: list[str | None] = [None] * count
    if with_groups:
        index = 0
        while index < count:  # consecutive applicants may form a group of 2 or 3
            size = draw(st.sampled_from([1, 1, 1, 2, 3]))
            if size > 1 and index + size <= count:
                for member in range(index, index + size):
                    groups[member] = f"G{index}"
                    lists[member] = lists[index]
            index += size
    priorities = [[draw(st.integers(1, 3)) for _ in ranked] for ranked in lists]
    applicants = [Applicant(f"E{i:03d}", tuple(Choice(s, p) for s, p in zip(ranked, prio,
                                                                            strict=True)),
                            groups[i])
                  for i, (ranked, prio) in enumerate(zip(lists, priorities, strict=True))]
    return Instance.build(schools, applicants)
