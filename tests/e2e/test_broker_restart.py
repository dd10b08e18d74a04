"""A broker restart is routine: the real gateway, accounts and notify against a private
RabbitMQ node that is stopped and started again (its data kept, as in a real restart) while
clients keep making requests."""

import time

import eventlet
import pytest
import requests

from common.registry import PROCESSES
from tests.support.family import Family
from tests.support.private_broker import PrivateBroker, broker_workdir, free_port, plain_config
from tests.support.stack import platform_on

DEADLINE_S = 5  # RPC_TIMEOUT_S of this platform


@pytest.fixture(scope="module")
def broker():
    port = free_port()
    node = PrivateBroker(broker_workdir(), plain_config(port))
    node.start()
    try:
        yield node, port
    finally:
        node.close()


@pytest.fixture(scope="module")
def platform(broker, tmp_path_factory):
    _, port = broker
    with platform_on(f"amqp://guest:guest@127.0.0.1:{port}/", tmp_path_factory.mktemp("restart"),
                     RPC_TIMEOUT_S=DEADLINE_S) as stack:
        yield stack


def client_loop(stack, answers: list, running: list) -> None:
    """Reads the notice and asks for captchas (an RPC each) until told to stop."""
    family = Family(stack)
    while running:
        for method, path in (("GET", "/api/v1/notice"), ("POST", "/api/v1/captchas")):
            started = time.monotonic()
            response = family.call(method, path)
            answers.append((path, response.status_code, time.monotonic() - started,
                            response.json()))
        eventlet.sleep(0.05)


def test_every_process_survives_a_broker_restart_and_answers_503_meanwhile(broker, platform):
    node, _ = broker
    answers, running = [], [True]
    clients = [eventlet.spawn(client_loop, platform, answers, running) for _ in range(4)]
    eventlet.sleep(2)
    node.stop()
    eventlet.sleep(3)  # the outage, beyond the time the node takes to stop
    node.start()
    back = time.monotonic()
    while True:
        try:
            if requests.get(platform.url + "/healthz", timeout=10).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() - back < 10, "not healthy within 10 s of the broker's return"
        eventlet.sleep(0.2)
    healthy_after = time.monotonic() - back
    eventlet.sleep(3)
    running.clear()
    for client in clients:
        client.wait()

    exited = {name: platform.procs[name].poll() for name in PROCESSES}
    assert exited == dict.fromkeys(PROCESSES), exited
    unavailable = [a for a in answers if a[1] == 503]
    assert unavailable, "no request met the outage"
    for path, status, elapsed, body in answers:
        assert status < 500 or (status == 503 and body.get("retry_after_s")), (path, body)
        assert elapsed <= DEADLINE_S + 1, (path, status, elapsed)
    assert healthy_after < 10
    # consumers, reply listeners and the outbox's events all work again: a family registers
    # and gets its SMS code and its account number's text
    Family(platform).registers_and_is_texted()
