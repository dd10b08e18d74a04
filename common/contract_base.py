"""Base for RPC and event models: strict, closed, and with Chinese field errors; and the
declaration of a service's RPC methods, which is also its typed client.

A service's contract module declares each RPC method once, as an `RpcMethod` attribute of an
`RpcContract` subclass (`AccountsRpc.register = RpcMethod(Registration, Registered)`). The
service's entrypoints take and answer those types (`common.edge.rpc.serve`), and callers call
through an instance over a deadline client (`common.edge.rpc.ServiceRpc`):
`AccountsRpc(client).register(Registration(...))` validates the request before it is sent (a
bad one is the caller's bug: pydantic's ValidationError, raised there) and returns the reply
parsed into `Registered`. Refusals stay `DomainError`s, as they cross RPC.
"""

from __future__ import annotations

from enum import StrEnum
from functools import partial
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from common.errors import DomainError

_MESSAGES = {
    "missing": "此项为必填项。",
    "extra_forbidden": "不支持该字段。",
    "string_too_short": "此项为必填项。",
    "string_too_long": "内容过长。",
    "string_pattern_mismatch": "格式不正确。",
    "literal_error": "请从给定选项中选择。",
    "bool_type": "应为 true 或 false。",
    "string_type": "应为文本。",
    "model_type": "应为 JSON 对象。",
}


class ContractModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              str_strip_whitespace=True)

    @classmethod
    def parse(cls, data):
        """Validates untrusted input; raises VALIDATION_ERROR naming each offending field."""
        return _validated(cls.model_validate, data)


def _validated(validate, data):
    try:
        return validate(data)
    except ValidationError as exc:
        raise DomainError("VALIDATION_ERROR", fields=field_errors(exc)) from None


def field_errors(exc: ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(name, _MESSAGES.get(error["type"], "格式不正确。"))
    return fields


class Event(ContractModel):
    """An event's body. Its producer makes it (so it is validated where it is made) and writes
    `payload()` to its outbox, which draws the `event_id` when it records the event; consumers
    parse the body they get, which always has one (their deduplication key)."""
    event_id: str | None = None

    @classmethod
    def parse(cls, data):
        event = super().parse(data)
        if event.event_id is None:
            raise DomainError("VALIDATION_ERROR", fields={"event_id": _MESSAGES["missing"]})
        return event

    def payload(self) -> dict:
        """What the producer writes to its outbox: the body without `event_id`."""
        return self.model_dump(mode="json", exclude={"event_id"})


class Ok(ContractModel):
    """The answer of an RPC that changes something (a refusal is a DomainError)."""
    ok: Literal[True] = True


class Pong(ContractModel):
    service: str
    ok: bool  # false: /healthz reports the service degraded


class Cost(StrEnum):
    """What serving a call costs, declared with its method. A cheap one (a page's read, a
    draft saved) is milliseconds of work and must stay fast whatever else is going on; an
    expensive one (a password hashed, a PDF rendered, a district's bulk call) holds a core
    for tens of milliseconds or more. Each process runs them in budgets of their own
    (common/edge/rpc.py, the gateway's waiting rooms), so that expensive work in excess is
    refused or queued at once and never delays cheap work."""
    CHEAP = "cheap"
    EXPENSIVE = "expensive"


# A service whose contract says `expensive_apart = True` serves its expensive methods from a
# process of its own, `<service>-expensive`, at the lowest CPU priority
# (common/edge/expensive_process.py).
APART = "-expensive"


def expensive_process_name(service: str) -> str:
    """The nameko name of `service`'s expensive process."""
    return service + APART


def owning_service(name: str) -> str:
    """The service whose data and events a nameko service (`name`) has: itself, or the one
    whose expensive process it is."""
    return name.removesuffix(APART)


Request = TypeVar("Request")
Response = TypeVar("Response")


class RpcMethod(Generic[Request, Response]):
    """One RPC method: the type of its one argument (`None`: it takes none; a type that admits
    None: it may be left out) and of its answer, and what it costs. Its name is the
    attribute's it is declared as in an `RpcContract`; read from an instance of that
    contract, it is a call."""

    name: str

    def __init__(self, request: type[Request] | Any, response: type[Response] | Any,
                 cost: Cost = Cost.CHEAP):
        self.request = request
        self.cost = cost
        self._requests = None if request is None else TypeAdapter(request)
        self._responses = TypeAdapter(response)

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        # served by the service's expensive process, under `<service>-expensive`
        self.apart = self.cost is Cost.EXPENSIVE and getattr(owner, "expensive_apart", False)

    @overload
    def __get__(self, contract: None, owner=None) -> RpcMethod[Request, Response]: ...

    @overload
    def __get__(self, contract: RpcContract, owner=None) -> partial[Response]: ...

    def __get__(self, contract, owner=None):
        return self if contract is None else partial(contract.call, self)

    # the caller's side
    def arguments(self, request) -> tuple:
        """What is sent: the request, validated (pydantic's ValidationError if it is not one)."""
        if self._requests is None:
            if request is not None:
                raise TypeError(f"{self.name} takes no request")
            return ()
        return (self._requests.dump_python(self._requests.validate_python(request),
                                           mode="json"),)

    def read_reply(self, reply) -> Response:
        return self._responses.validate_python(reply)

    # the service's side
    def parse_request(self, data) -> Request:
        """An untrusted request: VALIDATION_ERROR naming each offending field."""
        return _validated(self._requests.validate_python, data)

    def reply(self, answer: Response):
        """What is sent back: the answer checked against the declared type, as JSON."""
        return self._responses.dump_python(self._responses.validate_python(answer), mode="json")


class RpcContract:
    """A service's RPC methods, declared in its contract module as `RpcMethod` attributes of a
    subclass that names the service. An instance calls them through `rpc`, anything with
    `.call(method_name, *args, timeout=None)` (the gateway's: common/edge/rpc.py)."""

    service: ClassVar[str]
    # Its expensive methods run in a process of their own (APART), so that the CPU they take
    # is only what cheap calls leave (measured: a family page's p99 beside a district's bulk
    # calls fell from 6.90 to 1.6-2.7 times idle). False where that measured worse: accounts'
    # argon2 already runs at the lowest priority, and the rest of a registration in a process
    # of its own (at SCHED_IDLE, nice 10 or normal priority) made status reads slower.
    expensive_apart: ClassVar[bool] = False
    ping = RpcMethod(None, Pong)  # every service answers it (the gateway's /healthz)

    def __init__(self, rpc, caller_cost: Cost | None = None):
        """`caller_cost`: the declared cost of the entrypoint that calls (None for one that
        declares none: a timer, an event handler, a script)."""
        self._rpc = rpc
        self._caller_cost = caller_cost

    def call(self, method: RpcMethod[Request, Response], request=None, *,
             timeout: float | None = None) -> Response:
        """`timeout`: seconds, instead of the client's RPC_TIMEOUT_S. A cheap entrypoint may
        not call an expensive method: it would spend what no budget of its own bounds (a
        TypeError, the caller's bug, found by its tests)."""
        if method.cost is Cost.EXPENSIVE and self._caller_cost is Cost.CHEAP:
            raise TypeError(f"a cheap entrypoint calls the expensive {self.service}.{method.name}")
        where = {"service": self.served_by(method)} if method.apart else {}
        return method.read_reply(self._rpc.call(method.name, *method.arguments(request),
                                                timeout=timeout, **where))

    @classmethod
    def served_by(cls, method: RpcMethod) -> str:
        """The nameko service that answers `method`: the service, or its expensive process."""
        return expensive_process_name(cls.service) if method.apart else cls.service

    @classmethod
    def methods(cls) -> dict[str, RpcMethod]:
        """Every method declared, by name."""
        return {name: method for name in dir(cls)
                if isinstance(method := getattr(cls, name), RpcMethod)}
