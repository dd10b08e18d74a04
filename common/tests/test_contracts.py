"""RPC methods are declared once, in their service's contract: the service's entrypoints are
exactly the declared methods and take and answer the declared types; callers' typed clients
validate what they send and parse what they get."""

from __future__ import annotations

import importlib
import inspect

import pytest
from nameko.rpc import Rpc
from pydantic import StrictStr, ValidationError

from common import broker
from common.contract_base import ContractModel, Event, Ok, Pong, RpcContract, RpcMethod
from common.districts import BY_CODE, Caller, caller_of
from common.edge.rpc import serve, serve_district
from common.errors import DomainError
from common.registry import PROCESSES, load


class Greeting(ContractModel):
    name: str


class Greeted(ContractModel):
    text: str


class GreeterRpc(RpcContract):
    service = "greeter"
    greet = RpcMethod(Greeting, Greeted)
    forget = RpcMethod(StrictStr, Ok)


class Recorder:
    """A deadline client that records the calls and answers `reply`."""

    def __init__(self, reply):
        self.reply = reply
        self.calls = []

    def call(self, method, *args, timeout=None):
        self.calls.append((method, args, timeout))
        return self.reply


def test_a_typed_call_sends_the_validated_request_and_parses_the_reply():
    rpc = Recorder({"text": "你好，王"})
    answer = GreeterRpc(rpc).greet(Greeting(name=" 王 "), timeout=2)
    assert answer == Greeted(text="你好，王")
    assert rpc.calls == [("greet", ({"name": "王"},), 2)]
    rpc.reply = {"service": "greeter", "ok": True}
    assert GreeterRpc(rpc).ping() == Pong(service="greeter", ok=True)
    assert rpc.calls[-1] == ("ping", (), None)


@pytest.mark.parametrize("request_", [{"name": 1}, {"nom": "王"}, None])
def test_a_malformed_request_is_the_callers_bug_and_is_never_sent(request_):
    rpc = Recorder({"text": ""})
    with pytest.raises(ValidationError):
        GreeterRpc(rpc).greet(request_)
    with pytest.raises(ValidationError):
        GreeterRpc(rpc).forget(42)
    assert rpc.calls == []


def test_a_reply_the_contract_does_not_describe_is_a_bug():
    with pytest.raises(ValidationError):
        GreeterRpc(Recorder({"text": "hi", "extra": 1})).greet(Greeting(name="王"))


class GreeterService:
    name = "greeter"

    @serve(GreeterRpc.greet)
    def greet(self, greeting):
        assert isinstance(greeting, Greeting)
        return Greeted(text=f"你好，{greeting.name}") if greeting.name != "bug" else {"no": 1}


def test_an_entrypoint_parses_the_declared_request_and_sends_the_checked_answer_as_json():
    greet = GreeterService.greet
    assert greet.declared is GreeterRpc.greet
    assert greet(GreeterService(), {"name": "王"}) == {"text": "你好，王"}
    with pytest.raises(DomainError) as refused:
        greet(GreeterService(), {"name": "王", "age": 6})
    assert refused.value.code == "VALIDATION_ERROR"
    assert refused.value.fields == {"age": "不支持该字段。"}
    with pytest.raises(ValidationError):  # an answer the contract does not describe: a bug
        greet(GreeterService(), {"name": "bug"})


def test_an_entrypoint_must_be_named_as_the_method_it_serves():
    with pytest.raises(TypeError):
        serve(GreeterRpc.greet)(lambda self, greeting: None)


def test_a_district_entrypoint_gets_the_caller_before_the_parsed_request():
    """The caller comes from the broker user (common/edge/rpc.py, tested on a real broker in
    services/enrollment/tests/test_district.py), never from what is sent."""
    class DistrictGreeter:
        @serve_district(GreeterRpc.greet)
        def greet(self, caller, greeting):
            return Greeted(text=f"{caller.district.name}：你好，{greeting.name}")

    caller = Caller(BY_CODE["chaoyang"], "district-chaoyang")
    assert DistrictGreeter.greet.declared is GreeterRpc.greet
    assert DistrictGreeter.greet(DistrictGreeter(), caller, {"name": "王"}) == {
        "text": "朝阳区：你好，王"}
    def ping(self, caller):
        return Pong(service="greeter", ok=True)

    with pytest.raises(TypeError, match="takes a request"):  # a district's method does
        serve_district(GreeterRpc.ping)(ping)
    assert caller_of("district-chaoyang", "district-") == caller
    assert caller_of("district-atlantis", "district-") is None
    assert caller_of("platform-gateway", "district-") is None
    assert caller_of(None, "district-") is None


def test_an_event_is_made_without_its_id_and_read_only_with_one():
    class Happened(Event):
        what: str

    assert Happened(what="x").payload() == {"what": "x"}
    assert Happened.parse({"what": "x", "event_id": "e-1"}).event_id == "e-1"
    with pytest.raises(DomainError) as refused:
        Happened.parse({"what": "x"})
    assert refused.value.fields == {"event_id": "此项为必填项。"}


def contracts_of(process) -> list[type[RpcContract]]:
    """The RpcContracts its service's package declares in `contract.py` (enrollment: the
    families' and the district systems')."""
    package = process.service.partition(":")[0].rpartition(".")[0]
    try:
        module = importlib.import_module(f"{package}.contract")
    except ModuleNotFoundError:
        return []
    return [value for value in vars(module).values() if isinstance(value, type)
            and issubclass(value, RpcContract) and value.__module__ == module.__name__]


def declared_methods(process) -> dict[str, RpcMethod]:
    methods = {}
    for contract in contracts_of(process):
        assert contract.service == process.name
        for name, method in contract.methods().items():
            assert methods.get(name, method) is method, (process.name, name)  # declared once
            methods[name] = method
    return methods


def test_every_rpc_entrypoint_of_every_process_is_declared_and_every_declared_method_served():
    for name, process in PROCESSES.items():
        service = load(process.service)
        entrypoints = {
            method: function for method, function in inspect.getmembers(service)
            if any(isinstance(e, Rpc) for e in getattr(function, "nameko_entrypoints", ()))}
        declared = declared_methods(process)
        assert entrypoints.keys() == declared.keys(), name
        for method, function in entrypoints.items():
            assert getattr(function, "declared", None) is declared[method], (name, method)


def test_the_broker_lets_callers_call_declared_methods_only():
    for process in [*broker.PROCESSES.values(), broker.DISTRICT_SYSTEM]:
        for service, methods in process.calls.items():
            assert set(methods) <= declared_methods(PROCESSES[service]).keys(), service
