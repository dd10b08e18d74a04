"""An independent, deliberately simple reference for checking the allocation engine.

Textbook student-proposing deferred acceptance in rounds (Gale and Shapley 1962, Roth 1984):
every free student proposes to the next school on their list at once; each school keeps the
best proposers up to its capacity among those it holds and the new ones, and rejects the rest.
No heaps, no units, no cut-offs: just lists, so that a mistake in the engine cannot be the same
mistake here. Plus a brute-force check for blocking pairs.
"""

from __future__ import annotations


def student_optimal_matching(preferences: dict[str, list[str]], capacity: dict[str, int],
                             rank_at) -> dict[str, str | None]:
    """preferences: student -> schools in order; rank_at(school, student) -> sortable, smaller
    is better. Returns student -> school (or None)."""
    next_index = {student: 0 for student in preferences}
    held: dict[str, list[str]] = {school: [] for school in capacity}
    free = sorted(preferences)
    while free:
        proposals: dict[str, list[str]] = {}
        for student in free:  # a student whose list is exhausted stays unmatched
            if next_index[student] < len(preferences[student]):
                school = preferences[student][next_index[student]]
                next_index[student] += 1
                proposals.setdefault(school, []).append(student)
        free = []
        for school, proposers in proposals.items():
            candidates = sorted(held[school] + proposers, key=lambda s, sc=school: rank_at(sc, s))
            held[school] = candidates[:capacity[school]]
            free.extend(candidates[capacity[school]:])
    matching: dict[str, str | None] = {student: None for student in preferences}
    for school, students in held.items():
        for student in students:
            matching[student] = school
    return matching


def blocking_pairs(preferences: dict[str, list[str]], capacity: dict[str, int], rank_at,
                   matching: dict[str, str | None]) -> list[tuple[str, str]]:
    """(student, school) pairs that would both rather be matched to each other."""
    admitted: dict[str, list[str]] = {school: [] for school in capacity}
    for student, school in matching.items():
        if school is not None:
            admitted[school].append(student)
    pairs = []
    for student, choices in preferences.items():
        current = matching[student]
        better = choices if current is None else choices[:choices.index(current)]
        for school in better:
            if len(admitted[school]) < capacity[school] or any(
                    rank_at(school, student) < rank_at(school, other)
                    for other in admitted[school]):
                pairs.append((student, school))
    return pairs
