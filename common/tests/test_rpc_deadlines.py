"""Work a caller has given up on is never done, and a full RPC queue refuses at once."""

import gc
import time
import uuid
import weakref

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook
from prometheus_client import REGISTRY

from common.broker import Admin
from common.edge.dependencies import Settings
from common.edge.rpc import DEADLINE_HEADER, DeadlineRpcProxy, RpcRejected, RpcUnavailable, rpc
from common.settings import ProcessSettings
from tests.support.infra import RABBIT_API, running_service

DONE: list[str] = []
RPC = Exchange("nameko-rpc", type="topic", durable=True)


class BusyService:
    name = "busy"

    @rpc
    def hold(self, seconds):
        eventlet.sleep(seconds)

    @rpc
    def touch(self, key):
        DONE.append(key)


class CallerService:
    name = "caller"
    settings = Settings()
    busy = DeadlineRpcProxy("busy")
    jammed = DeadlineRpcProxy("jammed")

    @rpc
    def relay(self, service, method, timeout, *args):
        return getattr(self, service).call(method, *args, timeout=timeout)


class RememberingCaller:
    name = "remembering_caller"
    settings = Settings()
    busy = DeadlineRpcProxy("busy")
    workers: list[weakref.ref] = []

    @rpc
    def relay(self, key):
        self.workers.append(weakref.ref(self))
        return self.busy.call("touch", key)


def expired_count(method: str) -> float:
    return REGISTRY.get_sample_value("platform_rpc_expired_total",
                                     {"service": "busy", "method": method}) or 0.0


def test_a_request_whose_caller_gave_up_is_never_run(make_settings, amqp_uri):
    key = uuid.uuid4().hex
    with running_service(BusyService, make_settings(ProcessSettings, MAX_WORKERS=1)), \
            running_service(CallerService, make_settings(ProcessSettings)) as caller, \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        holding = cluster.busy.hold.call_async(1.5)  # the only worker is busy
        with entrypoint_hook(caller, "relay") as relay, pytest.raises(RpcUnavailable):
            relay("busy", "touch", 0.3, key)
        holding.result()
        cluster.busy.touch("after")  # the service has caught up with its queue
    assert "after" in DONE and key not in DONE


def test_a_delivered_request_past_its_deadline_is_dropped_unrun(make_settings, amqp_uri):
    """The broker drops a request that expires in the queue; one that was already delivered
    (and waited for a worker) is dropped by the service, and counted."""
    key, before = uuid.uuid4().hex, expired_count("touch")
    with running_service(BusyService, make_settings(ProcessSettings)), \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        with Connection(amqp_uri) as conn:
            conn.Producer().publish({"args": [key], "kwargs": {}}, exchange=RPC,
                                    routing_key="busy.touch", reply_to=str(uuid.uuid4()),
                                    headers={DEADLINE_HEADER: time.time() - 1})
        cluster.busy.touch("later")  # handled after the expired one
    assert "later" in DONE and key not in DONE
    assert expired_count("touch") == before + 1


def test_a_worker_that_called_a_service_is_freed_as_it_ends(make_settings):
    """No reference cycle (service → client → worker context → service) outlives a worker: its
    objects are not left to the garbage collector, whose pauses every request in flight waits
    out."""
    gc.collect()
    gc.disable()
    try:
        with running_service(BusyService, make_settings(ProcessSettings)), \
                running_service(RememberingCaller, make_settings(ProcessSettings)) as caller:
            with entrypoint_hook(caller, "relay") as relay:
                relay(uuid.uuid4().hex)
            worker = RememberingCaller.workers[-1]
            for _ in range(100):  # the hook answers before nameko tears the worker down
                if worker() is None:
                    break
                eventlet.sleep(0.01)
            assert worker() is None
    finally:
        gc.enable()


@pytest.fixture
def jammed_queue(amqp_uri):
    """The RPC queue of a service that is not consuming, bounded to one message."""
    vhost = amqp_uri.rsplit("/", 1)[1]
    admin = Admin(RABBIT_API)
    admin._call("PUT", f"policies/{vhost}/test-jammed", {
        "pattern": "^rpc-jammed$", "apply-to": "queues", "priority": 1,
        "definition": {"max-length": 1, "overflow": "reject-publish"}})
    with Connection(amqp_uri) as conn:
        queue = Queue("rpc-jammed", exchange=RPC, routing_key="jammed.*", durable=True)
        queue(conn.default_channel).declare()
        conn.Producer().publish({"args": [], "kwargs": {}}, exchange=RPC,
                                routing_key="jammed.anything")  # fills it
        yield
        queue(conn.default_channel).delete()
    admin._call("DELETE", f"policies/{vhost}/test-jammed")


def test_a_full_queue_refuses_at_once(make_settings, jammed_queue):
    with running_service(CallerService, make_settings(ProcessSettings)) as caller, \
            entrypoint_hook(caller, "relay") as relay:
        started = time.monotonic()
        with pytest.raises(RpcRejected):
            relay("jammed", "anything", 10)
        assert time.monotonic() - started < 1
