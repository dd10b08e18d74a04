"""Fixed-window throttles: how many attempts of a kind a subject (a client address, a phone,
an account reference, the whole platform) may make per window, and the answer beyond it.

Storage counts (one upsert per attempt returns the window's count: accounts), or a process
without a database counts in its own memory (`MemoryCounter`: the gateway); these functions
decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from common.errors import DomainError

# Windows start at Beijing midnight / on the hour / on the minute (UTC+8 is whole hours).
_BEIJING_OFFSET_S = 8 * 3600


@dataclass(frozen=True)
class Limit:
    kind: str  # the counter's name, e.g. "register_ip"
    limit: int  # attempts allowed per window
    window_s: int
    code: str = "RATE_LIMITED"  # the error past the limit


def window_start(now: datetime, window_s: int) -> datetime:
    local = int(now.timestamp()) + _BEIJING_OFFSET_S
    return datetime.fromtimestamp(local - local % window_s - _BEIJING_OFFSET_S, UTC)


def retry_after_s(now: datetime, window_s: int) -> int:
    end = window_start(now, window_s) + timedelta(seconds=window_s)
    return max(1, math.ceil((end - now).total_seconds()))


def check(limit: Limit, count: int, now: datetime) -> None:
    """`count` includes the attempt being judged."""
    if count > limit.limit:
        raise DomainError(limit.code, extra={"retry_after_s": retry_after_s(now, limit.window_s)})


def alert_due(count: int, budget: int, ratio: float) -> bool:
    """True for exactly one attempt per window: the one that reaches `ratio` of the budget
    (counts rise by one, so whichever request sees this value logs the warning)."""
    return count == max(1, math.ceil(budget * ratio))


class MemoryCounter:
    """One limit counted in this process's memory, for a process without a database (the
    gateway). Each process counts on its own and a restart forgets, so N gateways allow N times
    the limit: a brake on guessing, not an exact quota. Only the current window is kept."""

    def __init__(self, limit: Limit):
        self.limit = limit
        self._window: datetime | None = None
        self._counts: dict[str, int] = {}

    def attempt(self, subject: str, now: datetime) -> None:
        """Counts an attempt of `subject`; the limit's error past it. No lock: eventlet
        switches green threads only on I/O, which this never does."""
        start = window_start(now, self.limit.window_s)
        if start != self._window:
            self._window, self._counts = start, {}
        self._counts[subject] = count = self._counts.get(subject, 0) + 1
        check(self.limit, count, now)
