"""Each RPC method declares its cost; a service runs expensive calls in a budget of their own,
refuses one more at once, and keeps serving cheap calls meanwhile; a cheap entrypoint may not
call an expensive method."""

import eventlet
import pytest
from eventlet.event import Event
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import dummy, entrypoint_hook
from pydantic import StrictStr

from common.contract_base import Cost, Ok, RpcContract, RpcMethod
from common.edge.dependencies import Settings
from common.edge.rpc import ServiceRpc, serve
from common.errors import DomainError
from common.settings import ProcessSettings
from tests.support.infra import running_service

HELD: dict[str, Event] = {}  # an expensive call runs until the test lets it go
RUNNING: set[str] = set()


class CostlyRpc(RpcContract):
    service = "costly"

    work = RpcMethod(StrictStr, Ok, Cost.EXPENSIVE)  # holds until HELD[key] is sent
    quick = RpcMethod(StrictStr, Ok, Cost.EXPENSIVE)
    look = RpcMethod(None, Ok)


class CostlyService:
    name = "costly"
    settings = Settings()

    @serve(CostlyRpc.work)
    def work(self, key):
        RUNNING.add(key)
        HELD[key].wait()
        RUNNING.discard(key)
        return Ok()

    @serve(CostlyRpc.quick)
    def quick(self, key):
        return Ok()

    @serve(CostlyRpc.look)
    def look(self):
        return Ok()


class CallerRpc(RpcContract):
    service = "costly_caller"

    cheap_relay = RpcMethod(StrictStr, Ok)
    expensive_relay = RpcMethod(StrictStr, Ok, Cost.EXPENSIVE)


class CallerService:
    name = "costly_caller"
    settings = Settings()
    costly = ServiceRpc(CostlyRpc)

    @serve(CallerRpc.cheap_relay)
    def cheap_relay(self, key):
        return self.costly.quick(key)

    @serve(CallerRpc.expensive_relay)
    def expensive_relay(self, key):
        return self.costly.quick(key)


@pytest.fixture
def costly(make_settings):
    with running_service(CostlyService, make_settings(ProcessSettings, EXPENSIVE_WORKERS=2,
                                                      MAX_WORKERS=10)), \
            running_service(CallerService, make_settings(ProcessSettings)) as caller:
        yield caller


def test_expensive_calls_beyond_the_budget_are_refused_at_once_and_cheap_ones_still_served(
        costly, make_settings, amqp_uri):
    HELD.update(first=Event(), second=Event())
    with running_service(_Client, make_settings(ProcessSettings)) as client, \
            entrypoint_hook(client, "run") as run, \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=30) as cluster:
        holding = [cluster.costly.work.call_async(key) for key in ("first", "second")]
        try:
            while RUNNING != {"first", "second"}:  # the budget of two is spent
                eventlet.sleep(0.05)
            with pytest.raises(DomainError) as refused:
                run("work", "third")
            assert refused.value.code == "SERVICE_UNAVAILABLE"
            assert refused.value.extra["retry_after_s"] >= 1
            assert run("look", None) == {"ok": True}  # cheap work is not kept waiting
            assert RUNNING == {"first", "second"}  # ... while the expensive ones run
        finally:
            for event in HELD.values():
                event.send()
        assert [call.result() for call in holding] == [{"ok": True}] * 2


def test_the_budget_is_given_back_by_every_call(costly, make_settings):
    with running_service(_Client, make_settings(ProcessSettings)) as client, \
            entrypoint_hook(client, "run") as run:
        for n in range(10):  # five times the budget, one after the other
            assert run("quick", str(n)) == {"ok": True}


def test_a_cheap_entrypoint_may_not_call_an_expensive_method(costly):
    with entrypoint_hook(costly, "cheap_relay") as cheap_relay, \
            pytest.raises(TypeError, match="cheap entrypoint calls the expensive costly.quick"):
        cheap_relay("x")
    with entrypoint_hook(costly, "expensive_relay") as expensive_relay:
        assert expensive_relay("x") == {"ok": True}


class _Client:
    """Calls CostlyRpc's methods from an entrypoint that declares no cost (a script's)."""
    name = "costly_client"
    settings = Settings()
    costly = ServiceRpc(CostlyRpc)

    @dummy
    def run(self, method: str, request):
        return getattr(self.costly, method)(request).model_dump()
