"""The waiting room's rules, on a fixed clock: places in arrival order, tickets that keep a
family's place and request, limits that refuse at once."""

import pytest

from common.errors import DomainError
from gateway.waiting_room import LATE_S, TURN_S, Limits, Waiting, WaitingRoom

LIMITS = Limits(slots=2, hold_s=0.25, max_line=5, max_bytes=1000, per_address=3, grace_s=30,
                max_retry_s=10)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def room(clock):
    return WaitingRoom("accounts", LIMITS, clock)


def queued(room: WaitingRoom, address: str = "a", payload=b"form", ticket=None) -> Waiting:
    """An asker that finds no place and gives up after its hold: its ticket."""
    arrival = room.arrive(ticket, address, payload, len(payload))
    assert not arrival.admitted
    waiting = room.give_up(arrival.seq)
    assert waiting is not None
    return waiting


def test_newcomers_are_served_while_places_are_free(room):
    assert room.arrive(None, "a", b"x", 1).admitted
    assert room.arrive(None, "b", b"y", 1).admitted
    assert room.in_use == 2
    assert not room.arrive(None, "c", b"z", 1).admitted


def test_a_ticket_holder_keeps_its_place_and_its_request(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    first = queued(room, payload=b"first family's form")
    second = queued(room, payload=b"second family's form")
    assert (first.position, second.position) == (0, 1)
    room.release()
    again = room.arrive(first.ticket, "a", b"queue_ticket=...", 16)
    assert again.admitted
    assert again.payload == b"first family's form"  # retyped nothing
    assert room.length == 1
    assert queued(room, ticket=second.ticket).position == 0


def test_a_ticket_is_good_only_for_the_request_it_was_issued_for(room):
    registering, changing_password = ("POST", "/accounts"), ("PUT", "/account/password")
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    holder = room.give_up(room.arrive(None, "a", b"registration", 12, registering).seq)
    room.release()
    elsewhere = room.arrive(holder.ticket, "a", b"", 0, changing_password)
    assert elsewhere.admitted and elsewhere.payload is None  # served as itself, a newcomer
    room.release()
    back = room.arrive(holder.ticket, "a", b"", 0, registering)
    assert back.admitted and back.payload == b"registration"


def test_a_freed_place_goes_to_the_earliest_asker_not_to_a_newcomer(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    holder = queued(room, payload=b"holder")
    newcomer = room.arrive(None, "b", b"newcomer", 8)  # waits for a place, behind the holder
    returning = room.arrive(holder.ticket, "a", b"", 0)
    assert not newcomer.admitted and not returning.admitted
    assert room.release() == returning.seq  # the holder came first, though it asked later
    assert room.give_up(returning.seq) is None  # admitted meanwhile
    assert room.give_up(newcomer.seq).position == 0  # the newcomer is now first in line


def test_a_place_nobody_earlier_asks_for_goes_to_whoever_asks(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    absent = queued(room)  # told to come back later; meanwhile a place frees
    assert room.release() is None
    late = room.arrive(None, "b", b"late form", 9)
    assert late.admitted and late.payload is None  # no place is left idle
    assert queued(room, ticket=absent.ticket).position == 0  # the absent one keeps its place


def full_line(room: WaitingRoom, came_back: bool = True) -> list[Waiting]:
    """Both places taken, and the line as long as it may be: five tickets, of which the line's
    head holds four (two places at two admissions a second, `TURN_S` = 2 s), each brought back
    once (its family follows the line) unless `came_back` is False."""
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    line = [queued(room, address=str(n), payload=b"form %d" % n) for n in range(LIMITS.max_line)]
    if came_back:
        line = [queued(room, address=str(n), ticket=w.ticket) for n, w in enumerate(line)]
    assert TURN_S == 2 and room.length == LIMITS.max_line
    return line


def test_a_place_goes_to_the_line_s_head_not_to_a_ticket_brought_back_early(room):
    line = full_line(room)
    assert room.release() is None
    early = room.arrive(line[4].ticket, "4", b"", 0)  # fifth in line, behind the head
    assert not early.admitted
    first = room.arrive(line[0].ticket, "0", b"", 0)
    assert first.admitted and first.payload == b"form 0"  # though it asked later
    assert room.give_up(early.seq).position == 3  # no place left: its ticket, one ahead less


def head_is_late(clock, line: list[Waiting]) -> None:
    clock.now += max(w.retry_after_s for w in line) + LATE_S + 0.1


def test_a_place_the_head_is_not_coming_for_goes_to_an_asker_behind(room, clock):
    line = full_line(room)
    room.release()
    early = room.arrive(line[4].ticket, "4", b"", 0)
    assert not early.admitted
    assert room.give_up(early.seq).position == 4  # the place waits for the head, expected back
    head_is_late(clock, line[:4])
    behind = room.arrive(line[4].ticket, "4", b"", 0)
    assert behind.admitted and behind.payload == b"form 4"  # rather than stand idle
    assert room.length == 4  # the head keeps its places in line


def test_no_place_waits_for_tickets_never_brought_back(room):
    """Clients that ignore their ticket: the places go on to those who ask."""
    line = full_line(room, came_back=False)
    room.release()
    assert room.arrive(line[4].ticket, "4", b"", 0).admitted


def test_a_newcomer_the_line_cannot_take_is_refused_unless_a_place_would_stand_idle(room, clock):
    line = full_line(room)
    with pytest.raises(DomainError):  # no place free, no room in line
        room.arrive(None, "z", b"", 0)
    room.release()
    with pytest.raises(DomainError):  # the free place waits for the head
        room.arrive(None, "z", b"", 0)
    head_is_late(clock, line)
    assert room.arrive(None, "z", b"", 0).admitted  # no ticket needed


def test_positions_and_waits_follow_the_rate_of_admissions(room, clock):
    for _ in range(2):
        room.arrive(None, "a", b"", 0)
    for _ in range(2):  # two more served, one a second
        clock.now += 1
        room.release()
        room.arrive(None, "a", b"", 0)
    tickets = [queued(room, address=str(n)) for n in range(4)]
    assert [t.position for t in tickets] == [0, 1, 2, 3]
    # four admissions, 2 s from first to last: 1.5/s, so the fourth in line is 3 s away
    assert tickets[3].wait_s == 3
    assert 1 <= tickets[3].retry_after_s <= tickets[3].wait_s


def test_a_ticket_brought_twice_at_once_is_refused_the_second_time(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    waiting = queued(room)
    asking = room.arrive(waiting.ticket, "a", b"", 0)
    with pytest.raises(DomainError) as refused:
        room.arrive(waiting.ticket, "a", b"", 0)
    assert refused.value.code == "CONCURRENT_UPDATE"
    assert room.release() == asking.seq  # the first is served as if it were alone


def test_retry_after_is_at_least_one_second_and_at_most_the_limit(room, clock):
    for _ in range(2):
        room.arrive(None, "a", b"", 0)
    tickets = [queued(room, address=str(n)) for n in range(5)]
    assert tickets[0].retry_after_s >= 1
    assert all(t.retry_after_s <= LIMITS.max_retry_s for t in tickets)


def test_a_ticket_not_brought_back_in_time_is_dropped(room, clock):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    gone = queued(room, payload=b"old form")
    clock.now += gone.retry_after_s + LIMITS.grace_s + 1
    late = room.arrive(gone.ticket, "a", b"new form", 8)  # a newcomer now, with its own body
    assert not late.admitted and late.payload == b"new form"
    assert room.length == 1


def test_a_ticket_brought_back_in_time_is_kept_however_long_the_line(room, clock):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    waiting = queued(room)
    for _ in range(10):
        clock.now += waiting.retry_after_s + LIMITS.grace_s - 1
        waiting = queued(room, ticket=waiting.ticket)
    assert waiting.position == 0


def test_a_full_line_refuses_at_once(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    for n in range(LIMITS.max_line):
        queued(room, address=str(n))
    with pytest.raises(DomainError) as refused:
        room.arrive(None, "z", b"", 0)
    assert refused.value.code == "SERVICE_UNAVAILABLE"
    assert refused.value.extra["retry_after_s"] == LIMITS.max_retry_s


def test_one_address_holds_a_bounded_number_of_tickets(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    for _ in range(LIMITS.per_address):
        queued(room, address="crowd")
    with pytest.raises(DomainError):
        room.arrive(None, "crowd", b"", 0)
    queued(room, address="another")  # others are not affected


def test_the_line_keeps_a_bounded_number_of_bytes(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    queued(room, payload=b"x" * 900)
    with pytest.raises(DomainError):
        room.arrive(None, "b", b"y" * 200, 200)


def test_every_place_is_given_back(room):
    room.arrive(None, "a", b"", 0)
    room.arrive(None, "a", b"", 0)
    waiting = [room.arrive(None, str(n), b"", 0) for n in range(3)]
    assert [room.release() for _ in range(3)] == [w.seq for w in waiting]
    assert room.in_use == 2
    assert [room.release(), room.release()] == [None, None]
    assert room.in_use == 0 and room.length == 0
