"""信息采集导航 from enrollment: the gateway resolves the session with accounts, then asks
enrollment for the family's journey (GET /api/v1/journey and the home page)."""

from __future__ import annotations

import time

import requests

from tests.support.family import Family


def enrollment_journey(family: Family, timeout: float = 15) -> dict:
    """The journey once enrollment has opened the application (from accounts' event)."""
    deadline = time.monotonic() + timeout
    while True:
        response = family.call("GET", "/api/v1/journey")
        assert response.status_code == 200, response.text
        journey = response.json()
        if any(step["key"] == "results" for step in journey["steps"]) \
                or time.monotonic() > deadline:
            return journey
        time.sleep(0.2)


def test_a_registered_family_has_not_filled_in_its_details_yet(stack):
    family = Family(stack)
    assert family.register().status_code == 201
    first = family.call("GET", "/api/v1/journey")  # enrollment may not know it yet
    assert first.status_code == 200, first.text
    assert (first.json()["steps"][0]["title"], first.json()["steps"][0]["label"]) \
        == ("录入详细信息", "未填写")

    journey = enrollment_journey(family)
    steps = {step["key"]: step for step in journey["steps"]}
    assert list(steps) == ["details", "verification", "print_form", "preregistration",
                           "results"]
    assert (steps["details"]["title"], steps["details"]["label"], steps["details"]["status"]) \
        == ("录入详细信息", "未填写", "empty")
    assert steps["details"]["open"] and steps["details"]["period"]  # SEASON_PHASES=open
    assert steps["verification"]["label"] == "未提交"
    assert "录入详细信息" in journey["next_step"]

    home = family.call("GET", "/home")
    assert home.status_code == 200
    assert journey["next_step"] in home.text and steps["details"]["period"] in home.text
    assert "未填写" in home.text and "身份证及户籍信息验证通过后可办理" in home.text


def test_the_journey_needs_a_session(stack):
    response = requests.get(stack.url + "/api/v1/journey", timeout=30)
    assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"
    home = requests.get(stack.url + "/home", timeout=30, allow_redirects=False)
    assert home.status_code == 303 and home.headers["Location"].endswith("/")
