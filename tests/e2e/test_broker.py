"""Each process's broker user may send only the RPCs it needs, and a full RPC queue is a quick
503 (common/broker.py)."""

import time

import pytest
import requests
from amqp.exceptions import AccessRefused
from kombu import Connection, Exchange, Queue

from common.broker import Admin
from tests.support.infra import RABBIT_API, drop_process_users, make_district_users

RPC = Exchange("nameko-rpc", type="topic", durable=True)


def publish(amqp_uri: str, routing_key: str) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish({"args": [], "kwargs": {}}, exchange=RPC,
                                routing_key=routing_key, retry=False)


@pytest.mark.parametrize("forbidden", ["notify.send_sms", "accounts.verify_audit_chain"])
def test_the_gateway_user_cannot_call_what_the_gateway_does_not_need(stack, forbidden):
    with pytest.raises(AccessRefused, match="ACCESS_REFUSED"):
        publish(stack.amqp_uris["gateway"], forbidden)


def test_the_gateway_user_may_send_the_calls_the_gateway_makes(stack):
    publish(stack.amqp_uris["gateway"], "notify.ping")  # confirmed by the broker
    # ...and notify survives a request it cannot answer (it has no reply_to)
    assert requests.get(stack.url + "/healthz", timeout=10).status_code == 200


def test_the_gateway_user_cannot_listen_to_other_services_requests(stack):
    """Binding its own reply queue to `notify.*` would let it read every text's request."""
    with Connection(stack.amqp_uris["gateway"]) as conn:
        queue = Queue("rpc.reply-gateway-00000000-0000-4000-8000-000000000000", exchange=RPC,
                      routing_key="notify.*", auto_delete=True)
        with pytest.raises(AccessRefused):
            queue(conn.default_channel).declare()


def test_a_service_user_cannot_call_what_its_service_does_not_need(stack):
    # accounts calls nothing: its SMS codes reach notify as events
    for process, routing_key in (("notify", "accounts.register"),
                                 ("accounts", "accounts.register"),
                                 ("accounts", "notify.send_sms")):
        with pytest.raises(AccessRefused):
            publish(stack.amqp_uris[process], routing_key)


def test_a_full_queue_is_a_quick_503_with_retry_after(stack):
    """accounts stopped and its queue full: the gateway answers at once, not at its deadline."""
    guest_uri = stack.env["AMQP_URI"]
    vhost, admin = guest_uri.rsplit("/", 1)[1], Admin(RABBIT_API)
    stack.stop("accounts")
    admin._call("PUT", f"policies/{vhost}/test-full", {
        "pattern": "^rpc-accounts$", "apply-to": "queues", "priority": 1,
        "definition": {"max-length": 1, "overflow": "reject-publish"}})
    try:
        publish(guest_uri, "accounts.ping")  # fills it
        started = time.monotonic()
        response = requests.get(stack.url + "/api/v1/notice", timeout=30)
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert response.json()["retry_after_s"] > 0 and response.headers["Retry-After"]
        assert elapsed < 2, elapsed  # the deadline (RPC_TIMEOUT_S) is 15 s
    finally:
        admin._call("DELETE", f"policies/{vhost}/test-full")
        with Connection(guest_uri) as conn:
            Queue("rpc-accounts", exchange=RPC, routing_key="accounts.*", durable=True)(
                conn.default_channel).purge()
        stack.start("accounts")
        stack.wait_healthy()


def test_a_district_sends_its_expensive_calls_to_enrollments_expensive_process_only(stack):
    users = make_district_users(stack.env["AMQP_URI"], {"haidian"})
    try:
        publish(users["haidian"], "enrollment-expensive.district_bulk_review")
        with pytest.raises(AccessRefused, match="ACCESS_REFUSED"):
            publish(users["haidian"], "enrollment.district_bulk_review")
    finally:
        drop_process_users(users)
