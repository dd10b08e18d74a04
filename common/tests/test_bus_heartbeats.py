"""Connections stay up under steady traffic: a caller that only receives replies (it takes them
without acknowledging) still sends heartbeats, so the broker never closes its connection."""

import time
import uuid

import eventlet
import requests
from nameko.testing.services import entrypoint_hook

from common.edge.dependencies import Settings
from common.edge.rpc import DeadlineRpcProxy, RpcUnavailable, rpc
from common.settings import ProcessSettings
from tests.support.infra import RABBIT_API, running_service

HEARTBEAT_S = 2


class EchoService:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


class EchoCaller:
    name = "echo_caller"
    settings = Settings()
    echo = DeadlineRpcProxy("echo")

    @rpc
    def relay(self, value):
        return self.echo.call("echo", value, timeout=3)


def consuming_connections(amqp_uri: str) -> set[str]:
    """The vhost's connections that negotiated our heartbeat (publishers negotiate none)."""
    vhost = amqp_uri.rsplit("/", 1)[1]
    listed = requests.get(f"{RABBIT_API}/vhosts/{vhost}/connections", timeout=10).json()
    return {c["name"] for c in listed if c.get("timeout") == HEARTBEAT_S}


def test_steady_replies_for_several_heartbeat_timeouts_keep_the_connections(make_settings,
                                                                              amqp_uri):
    settings = make_settings(ProcessSettings, AMQP_HEARTBEAT_S=HEARTBEAT_S)
    with running_service(EchoService, settings), \
            running_service(EchoCaller, settings) as caller, \
            entrypoint_hook(caller, "relay") as relay:
        deadline = time.monotonic() + 15
        while len(before := consuming_connections(amqp_uri)) < 2:  # the listing lags a little
            assert time.monotonic() < deadline, before
            eventlet.sleep(0.5)
        answered, lost = [], []
        # a reply at least every 50 ms, one call at a time (nameko's entrypoint_hook serves one
        # caller): the consume loop never waits a second for a message
        until = time.monotonic() + 5 * HEARTBEAT_S * 2  # five times what the broker tolerates
        while time.monotonic() < until:
            value = uuid.uuid4().hex
            try:
                assert relay(value) == value
                answered.append(value)
            except RpcUnavailable:
                lost.append(value)
            eventlet.sleep(0.02)
        after = consuming_connections(amqp_uri)
    assert not lost, f"{len(lost)} replies lost of {len(lost) + len(answered)}"
    assert before <= after, f"connections closed: {before - after}"
