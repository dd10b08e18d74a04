"""Opening day at the gateway: when every place for registrations is taken, a family gets a
place in line (the JSON API: 503 QUEUED with its ticket; the pages: a waiting page), keeps it
and its form, and is served in arrival order without retyping; cheap pages are served all the
while. The gateway has one place here, taken by a registration that accounts, paused, cannot
finish until the test lets it."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.e2e.test_pages import REGISTER, Page, Visitor, registration
from tests.support.family import Family, unique_phone

ONE_PLACE = {"WAITING_ROOM_SLOTS": 1, "WAITING_ROOM_HOLD_S": 0.2}
IN_USE = 'platform_waiting_room_in_use{room="accounts"}'


@pytest.fixture
def one_place(stack):
    with stack.gateway_with(**ONE_PLACE):
        stack.wait_healthy()  # the gateway's RPC replies too, not only its port
        yield stack


def wait_for(condition, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class PlaceTaken:
    """A registration, prepared, that `take()` sends to hold the only place while accounts is
    paused; `finished()` is its answer once accounts goes on."""

    def __init__(self, stack):
        self.stack = stack
        self.family = Family(stack)
        self.body = self.family.registration()
        self.response = None
        self.thread = threading.Thread(target=self._register)

    def take(self) -> PlaceTaken:
        self.thread.start()
        wait_for(lambda: self.stack.metric("gateway", IN_USE) == 1)
        return self

    def _register(self):
        self.response = self.family.call("POST", "/api/v1/accounts", json=self.body)

    def finished(self):
        self.thread.join(30)
        return self.response


def queued(response) -> dict:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "QUEUED"
    assert response.headers["Retry-After"] == str(body["retry_after_s"])
    assert body["retry_after_s"] >= 1 and body["wait_estimate_s"] >= 1
    assert "信息采集顺序与入学次序、入学结果无关" in body["message"]
    return body


def test_families_in_line_are_served_in_arrival_order_without_retyping(one_place):
    stack = one_place
    families = [Family(stack) for _ in range(3)]
    bodies = [family.registration() for family in families]
    taken = PlaceTaken(stack)
    with stack.paused("accounts"):
        taken.take()
        first = queued(families[0].call("POST", "/api/v1/accounts", json=bodies[0]))
        second = queued(families[1].call("POST", "/api/v1/accounts", json=bodies[1]))
        assert (first["queue_position"], second["queue_position"]) == (1, 2)
        # asking again keeps the place: the family behind it stays behind it
        again = queued(families[1].call("POST", "/api/v1/accounts", headers={
            "X-Queue-Ticket": second["queue_ticket"]}))
        assert again["queue_position"] == 2 and again["queue_ticket"] == second["queue_ticket"]
        third = queued(families[2].call("POST", "/api/v1/accounts", json=bodies[2]))
        assert third["queue_position"] == 3  # a newcomer goes behind everyone
        # a ticket is good only for the request it was issued for: brought to another route
        # of the same room (a sign-in), it is a newcomer's, behind everyone
        elsewhere = queued(families[0].call("POST", "/api/v1/sessions", headers={
            "X-Queue-Ticket": first["queue_ticket"]}))
        assert elsewhere["queue_position"] == 4
        assert elsewhere["queue_ticket"] != first["queue_ticket"]
        # cheap pages are served meanwhile, whatever registrations wait
        assert families[2].call("GET", "/api/v1/districts").status_code == 200
    assert taken.finished().status_code == 201
    for family, body, ticket in zip(families, bodies, (first, second, third), strict=True):
        # the ticket alone: the gateway kept the registration as it was first sent
        response = family.call_in_turn("POST", "/api/v1/accounts", headers={
            "X-Queue-Ticket": ticket["queue_ticket"]})
        assert response.status_code == 201, response.text
        family.csrf = response.json()["csrf_token"]
        account = family.call("GET", "/api/v1/account").json()
        assert account["guardian_phone"].endswith(body["guardian_phone"][-4:])
    # a ticket is good for one turn: brought again, it is a newcomer's request, here empty
    again = families[0].call("POST", "/api/v1/accounts", headers={
        "X-Queue-Ticket": first["queue_ticket"]})
    assert again.status_code in (400, 415, 422), again.text


def test_a_family_on_the_pages_waits_on_a_calm_page_that_keeps_its_form(one_place):
    stack = one_place
    visitor = Visitor(stack)
    form = visitor.registration_form()
    phone = unique_phone()
    visitor.sms_code(form, "register", phone=phone)
    data = registration(form, phone, sms_code=stack.latest_code(phone, "register"))
    taken = PlaceTaken(stack)
    with stack.paused("accounts"):
        taken.take()
        response = visitor.post(REGISTER, data)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    page = Page(response.text)
    text = re.sub(r"\s+", "", response.text)
    assert "您当前排在第<strongid=\"queue-position\">1</strong>位" in text
    assert "信息采集顺序与入学次序、入学结果无关" in response.text
    assert "无需重新填写" in response.text
    assert data["password"] not in response.text and data["sms_code"] not in response.text
    ticket = page.value("queue_ticket")
    assert ticket and 'data-waiting="1"' in response.text  # the script brings it back
    assert taken.finished().status_code == 201
    # what the page's form sends: the ticket alone
    response = visitor.post(REGISTER, {"queue_ticket": ticket})
    assert response.status_code == 303, response.text
    assert response.headers["Location"].endswith("/home?registered=1")
    home = visitor.page("/home?registered=1")
    assert re.search(r"您的账号为：\d{8}", home.text)
