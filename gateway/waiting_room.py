"""The waiting room: admission of expensive requests (those whose route declares the service it
spends, `@route(..., expensive="accounts")`) in a fixed number of places, in arrival order.

A request that finds every place taken, or families already in line, gets a ticket: its place
in line (a sequence number, first come first served) and the request it made, kept here. It is
told to come back (`retry_after_s`) about two seconds before its estimated turn; coming back
with the ticket to the same route (method and path), it keeps its place and its request (a
family retypes nothing); brought to another route, a ticket is not one.

Places go in the line's order. The line's head is the tickets expected to be admitted in the
next `TURN_S` seconds: a place that frees goes to the asker at the head with the smallest
sequence number among those waiting for one at that moment, for at most `hold_s` each. An
asker further back (a ticket brought back early, a newcomer behind the line) may take a free
place only when more places are free than tickets at the head expected back (brought back
before, so their families follow the line, and not told to come back more than `LATE_S` ago);
otherwise the place waits for them, briefly.

A ticket not brought back within its `retry_after_s` plus `grace_s` is dropped. What exceeds
the line's limits (its length, the bytes it keeps, the tickets of one client address) is
refused at once, unless it may take a free place then.

Plain Python, no eventlet: the gateway's edge (gateway.web) blocks the waiting askers and
wakes the one `release` names. `clock`: seconds, monotonic (tests pass a fake one).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NamedTuple

from common.errors import DomainError

TURN_S = 2.0  # the line's head: the tickets expected to be admitted within this many seconds
LATE_S = 1.0  # a ticket not back this long after it was told to come is not counted on


@dataclass(frozen=True)
class Limits:
    slots: int  # requests served at once
    hold_s: float  # how long an asker waits for a place before it is answered with its ticket
    max_line: int  # tickets at once
    max_bytes: int  # bytes of kept requests at once
    per_address: int  # tickets of one client address at once
    grace_s: float  # a ticket is dropped this long after the time it was told to come back
    max_retry_s: int  # the longest `retry_after_s` given: the position is told again as often


@dataclass
class Ticket:
    id: str
    seq: int
    address: str
    payload: object  # the request as first made (gateway.web keeps its body)
    size: int
    route: object  # what the request asked for (gateway.web: its method and path)
    issued_at: float
    expires_at: float = 0.0
    due_at: float = 0.0  # when it was last told to come back (`_waiting`)
    came_back: bool = False  # brought back at least once: its family follows the line


class Arrival(NamedTuple):
    seq: int
    admitted: bool  # False: the asker waits (at most hold_s) for `release` to name its seq
    payload: object  # the request to serve: the ticket's, or None for the asker's own
    waited_s: float  # in line so far (0 for a newcomer admitted at once)


class Waiting(NamedTuple):
    ticket: str
    position: int  # families ahead in line
    retry_after_s: int
    wait_s: int  # about how long until its turn


@dataclass
class WaitingRoom:
    name: str
    limits: Limits
    clock: object
    in_use: int = 0
    _next_seq: int = 0
    _tickets: dict[str, Ticket] = field(default_factory=dict)
    _by_seq: dict[int, Ticket] = field(default_factory=dict)
    _line: list[int] = field(default_factory=list)  # the tickets' seqs, ascending
    _expiries: list[tuple[float, int]] = field(default_factory=list)  # a heap, lazily pruned
    _askers: list[int] = field(default_factory=list)  # a heap of the seqs waiting for a place
    _addresses: Counter = field(default_factory=Counter)
    _bytes: int = 0
    _served: deque = field(default_factory=lambda: deque(maxlen=64))  # recent admission times

    # asking -------------------------------------------------------------------------------
    def arrive(self, ticket_id: str | None, address: str, payload: object, size: int,
               route: object = None) -> Arrival:
        """An asker: with a ticket of this room issued for `route` (gateway.web passes the
        method and path; None where the caller has one route), in its place with the request it
        first made; otherwise a newcomer with `payload` (its request, `size` bytes), behind
        everyone. Admitted if a place is free that it may take (`_may_take`) and nobody with a
        smaller seq is asking; if not, it waits (`WaitingRooms.serve` in gateway.web) and then
        `give_up`s. Refused with SERVICE_UNAVAILABLE when it would need a ticket the line cannot
        take, and with CONCURRENT_UPDATE if its ticket is already asking (the same ticket
        brought twice)."""
        now = self.clock()
        self._expire(now)
        ticket = self._tickets.get(ticket_id) if ticket_id else None
        if ticket is not None and ticket.route != route:
            ticket = None  # its request is not this one: it must not be served instead
        if ticket is not None and ticket.seq in self._askers:
            raise DomainError("CONCURRENT_UPDATE")
        if ticket is not None:
            ticket.came_back = True
        else:
            seq = self._next_seq
            self._next_seq += 1
            if (self.in_use < self.limits.slots and not self._askers
                    and self._may_take(len(self._line), now)):
                self._take_place(now)  # nobody waits for the place: no ticket needed
                return Arrival(seq, True, None, 0.0)
            ticket = self._issue(seq, address, payload, size, route, now)
        if (self.in_use < self.limits.slots and self._may_take(self._position(ticket.seq), now)
                and not (self._askers and self._askers[0] < ticket.seq)):
            return self._admit(ticket, now)
        heapq.heappush(self._askers, ticket.seq)
        return Arrival(ticket.seq, False, ticket.payload, now - ticket.issued_at)

    def give_up(self, seq: int) -> Waiting | None:
        """An asker that waited its `hold_s`: its ticket, or None if it was admitted, by
        `release` meanwhile, or now to a free place it may take."""
        if seq not in self._askers:
            return None
        self._askers.remove(seq)
        heapq.heapify(self._askers)
        now = self.clock()
        if self.in_use < self.limits.slots and self._may_take(self._position(seq), now):
            self._admit(self._by_seq[seq], now)
            return None
        return self._waiting(self._by_seq[seq], now)

    def release(self) -> int | None:
        """A served request is done: its place goes to the first asker if it may take it, and
        its seq is returned (gateway.web wakes it); or it stays free."""
        self.in_use -= 1
        now = self.clock()
        if not self._askers or not self._may_take(self._position(self._askers[0]), now):
            return None
        seq = heapq.heappop(self._askers)
        self._admit(self._by_seq[seq], now)
        return seq

    # what it holds ------------------------------------------------------------------------
    @property
    def length(self) -> int:
        return len(self._line)

    # ---------------------------------------------------------------------------------------
    def _issue(self, seq: int, address: str, payload: object, size: int, route: object,
               now: float) -> Ticket:
        limits = self.limits
        if (len(self._line) >= limits.max_line or self._bytes + size > limits.max_bytes
                or self._addresses[address] >= limits.per_address):
            raise DomainError("SERVICE_UNAVAILABLE", extra={"retry_after_s": limits.max_retry_s})
        ticket = Ticket(secrets.token_urlsafe(18), seq, address, payload, size, route, now)
        self._tickets[ticket.id] = ticket
        self._by_seq[seq] = ticket
        self._line.append(seq)  # seqs only grow
        self._addresses[address] += 1
        self._bytes += size
        self._extend(ticket, now, self.limits.hold_s)
        return ticket

    def _head(self, now: float) -> int:
        """How many tickets the line's head holds."""
        return max(self.limits.slots, math.ceil(self._rate(now) * TURN_S))

    def _position(self, seq: int) -> int:
        return bisect.bisect_left(self._line, seq)

    def _may_take(self, position: int, now: float) -> bool:
        """Whether an asker with `position` tickets ahead may take a free place: if it is at
        the line's head, or if more places are free than tickets at the head still expected
        back (brought back before, and not told to come back more than LATE_S ago): else the
        place waits for them."""
        head = self._head(now)
        if position < head:
            return True
        expected = sum(ticket.came_back and ticket.due_at + LATE_S >= now
                       for ticket in map(self._by_seq.get, itertools.islice(self._line, head)))
        return self.limits.slots - self.in_use > expected

    def _admit(self, ticket: Ticket, now: float) -> Arrival:
        self._remove(ticket)
        self._take_place(now)
        return Arrival(ticket.seq, True, ticket.payload, now - ticket.issued_at)

    def _take_place(self, now: float) -> None:
        self._served.append(now)
        self.in_use += 1

    def _waiting(self, ticket: Ticket, now: float) -> Waiting:
        position = self._position(ticket.seq)
        wait_s = math.ceil((position + 1) / self._rate(now))
        retry_after_s = max(1, min(self.limits.max_retry_s, wait_s - 2))  # there in time
        ticket.due_at = now + retry_after_s
        self._extend(ticket, now, retry_after_s)
        return Waiting(ticket.id, position, retry_after_s, wait_s)

    def _rate(self, now: float) -> float:
        """Admissions per second lately (before there are two: as many as places)."""
        if len(self._served) < 2 or now - self._served[0] <= 0:
            return float(self.limits.slots)
        return max((len(self._served) - 1) / (now - self._served[0]), 0.1)

    def _extend(self, ticket: Ticket, now: float, retry_after_s: float) -> None:
        ticket.expires_at = now + retry_after_s + self.limits.grace_s
        heapq.heappush(self._expiries, (ticket.expires_at, ticket.seq))

    def _expire(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] < now:
            expires_at, seq = heapq.heappop(self._expiries)
            ticket = self._by_seq.get(seq)
            if ticket is not None and ticket.expires_at == expires_at and seq not in self._askers:
                self._remove(ticket)

    def _remove(self, ticket: Ticket) -> None:
        del self._tickets[ticket.id]
        del self._by_seq[ticket.seq]
        del self._line[bisect.bisect_left(self._line, ticket.seq)]
        self._addresses[ticket.address] -= 1
        if not self._addresses[ticket.address]:
            del self._addresses[ticket.address]
        self._bytes -= ticket.size
