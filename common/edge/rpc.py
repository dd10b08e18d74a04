"""RPC across services: every call has a deadline, which is what bounds a lost message, so
requests and replies are transient, replies are not confirmed by the broker nor acknowledged by
the caller; DomainError crosses intact.

A request carries its deadline twice: as the message's `expiration`, so the broker drops it
unread once the caller has given up, and as an absolute time in a header, so a service drops
it unrun if it waited past it after delivery. Requests are confirmed by the broker: a full
RPC queue (the `platform-rpc-bounds` policy, common/broker.py) rejects them at once, and the
caller learns it in a round trip instead of waiting out its deadline.

The deadline also bounds the publishing: a request that cannot be published before it (the
broker is away) is RpcUnavailable, and a reply is given up at the request's deadline. A reply
or an acknowledgement that cannot be sent is logged, never a reason for the service to stop.

Entrypoints (`serve`) and callers (`ServiceRpc`) take and give the types a service's contract
declares (common/contract_base.py).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from urllib.parse import unquote, urlsplit

import eventlet
from amqp.exceptions import MessageNacked
from kombu.entity import TRANSIENT_DELIVERY_MODE as TRANSIENT
from kombu.exceptions import OperationalError
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    SERIALIZER_CONFIG_KEY,
)
from nameko.containers import WorkerContext
from nameko.exceptions import RpcTimeout, get_module_path, registry
from nameko.extensions import SharedExtension
from nameko.rpc import (
    MethodProxy,
    ReplyListener,
    Responder,
    Rpc,
    RpcConsumer,
    RpcProxy,
    get_rpc_exchange,
)
from nameko.standalone.rpc import SingleThreadedReplyListener, StandaloneProxyBase

from common import metrics
from common.contract_base import Cost, RpcContract, RpcMethod
from common.districts import caller_of
from common.edge.consuming import ResilientQueueConsumer
from common.edge.dependencies import DATABASE_AWAY
from common.edge.publishing import pooled_publisher
from common.errors import DomainError

log = logging.getLogger(__name__)

# The caller's deadline, seconds since the epoch (the hosts' clocks are NTP-synchronised;
# a skew shortens or lengthens the deadline by as much).
DEADLINE_HEADER = "x-platform-deadline"
# nameko's reply_to is a uuid4 (its ReplyListener), and the broker lets services publish
# replies only to such keys (common/broker.py)
_REPLY_TO = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Lets a DomainError raised in one service be re-raised as a DomainError by its caller.
registry[get_module_path(DomainError)] = DomainError


class _RpcPublisher:
    """What nameko's RPC classes expect of a publisher, publishing over the process's pooled
    connection (common/edge/publishing.py), with nameko's TLS option. Messages are transient
    (nameko's default is persistent): a request that outlived its caller's deadline would be
    answered to no one, so the broker need not write it to disk, and a reply even less.
    Requests (`deadline` given) are confirmed; replies (`reply_by`: their request's
    deadline) are not. Either is given up at its deadline. `user_id`: each request's, which
    the broker checks against the connection's user (the district systems')."""

    def __init__(self, amqp_uri: str, ssl: dict | None = None, deadline: float | None = None,
                 reply_by: float | None = None, user_id: str | None = None, **_options):
        self._deadline = deadline
        self._user_id = user_id
        self._give_up_at = deadline if deadline is not None else reply_by
        self._publisher = pooled_publisher(amqp_uri, confirms=deadline is not None, ssl=ssl)

    def publish(self, payload, *, extra_headers: dict | None = None, mandatory: bool = False,
                **message):
        # A request is not `mandatory`: the queue of a service that is down stays bound (it is
        # durable), so `mandatory` would only ever catch one that never started.
        headers = dict(extra_headers or {})
        if self._deadline is not None:
            headers[DEADLINE_HEADER] = self._deadline
            # kombu takes seconds; the broker counts whole milliseconds, at least one
            message["expiration"] = max(0.001, self._deadline - time.time())
        if self._user_id:
            message["user_id"] = self._user_id
        self._publisher.publish(payload, delivery_mode=TRANSIENT, headers=headers,
                                deadline=self._give_up_at, **message)


class _Responder(Responder):
    def __init__(self, *args, reply_by: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.publisher_cls = functools.partial(_RpcPublisher, reply_by=reply_by)


class _RpcConsumer(RpcConsumer):
    """nameko's RpcConsumer (2.14), replying through `_RpcPublisher`."""

    queue_consumer = ResilientQueueConsumer()

    def handle_result(self, message, result, exc_info):
        if not _REPLY_TO.fullmatch(message.properties.get("reply_to") or ""):
            # nameko would raise here and kill the service; a refused reply would close the
            # pooled channel and silently swallow the next replies sent over it
            log.warning("request without a valid reply_to left unanswered")
            self.queue_consumer.ack_message(message)
            return result, exc_info
        if exc_info is not None and isinstance(exc_info[1], DATABASE_AWAY):
            unavailable = DomainError("SERVICE_UNAVAILABLE", extra={"retry_after_s": 5})
            exc_info = (DomainError, unavailable, exc_info[2])
        config = self.container.config
        # a caller without a deadline (an operator's script) waits as long as ours do
        reply_by = (message.headers or {}).get(DEADLINE_HEADER) or (
            time.time() + config["settings"].RPC_TIMEOUT_S)
        responder = _Responder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                               config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                               ssl=config.get(AMQP_SSL_CONFIG_KEY), reply_by=reply_by)
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as exc:
            # The caller's deadline covers a lost reply; nameko would stop the service.
            log.warning("reply not sent",
                        extra={"error": type(exc).__name__, "detail": str(exc)})
        self.queue_consumer.ack_message(message)
        return result, exc_info


class ExpensiveWork(SharedExtension):
    """A process's budget of expensive calls (common.contract_base.Cost) running at once,
    `settings.EXPENSIVE_WORKERS`: one more is refused at once with SERVICE_UNAVAILABLE, so
    that expensive work never holds the workers cheap calls need, nor makes them wait."""

    def setup(self):
        self.limit = self.container.config["settings"].EXPENSIVE_WORKERS
        self.running = 0

    def take(self) -> None:
        """(nameko calls `start` and `stop` on every extension: not those names.)"""
        service = self.container.service_name
        if self.running >= self.limit:
            metrics.ADMISSIONS.labels(service, Cost.EXPENSIVE, "refused").inc()
            log.warning("expensive call refused", extra={"running": self.running})
            raise DomainError("SERVICE_UNAVAILABLE", extra={"retry_after_s": 1})
        metrics.ADMISSIONS.labels(service, Cost.EXPENSIVE, "admitted").inc()
        self.running += 1

    def give_back(self) -> None:
        self.running -= 1


class UnconfirmedRpc(Rpc):
    """An RPC entrypoint whose reply is not confirmed by the broker: a lost reply costs the
    caller its deadline, as a lost request or a dead worker would, so the confirm (a round
    trip to the broker on every reply) buys nothing. An expensive method's calls run within
    the process's ExpensiveWork budget."""
    rpc_consumer = _RpcConsumer()
    expensive_work = ExpensiveWork()

    def setup(self):
        super().setup()
        # what its contract declares (`serve`), read once, not per message; else cheap
        declared = getattr(getattr(self.container.service_cls, self.method_name), "declared",
                           None)
        self.cost = declared.cost if declared is not None else Cost.CHEAP

    def handle_message(self, body, message):
        deadline = message.headers.get(DEADLINE_HEADER)
        if deadline is not None:
            # A delivered request may wait here for a free worker (timers and event handlers
            # share the pool); its deadline is judged once it would run.
            _wait_for_a_free_worker(self.container)
            if time.time() > deadline:
                metrics.RPC_EXPIRED.labels(self.container.service_name, self.method_name).inc()
                log.info("expired request dropped unrun", extra={
                    "method": self.method_name, "late_s": round(time.time() - deadline, 3)})
                self.rpc_consumer.queue_consumer.ack_message(message)
                return
        if self.cost is Cost.CHEAP:
            metrics.ADMISSIONS.labels(self.container.service_name, Cost.CHEAP, "admitted").inc()
            super().handle_message(body, message)
            return
        self.expensive_work.take()  # a refusal is answered to the caller (nameko's consumer)
        try:
            super().handle_message(body, message)
        except BaseException:
            self.expensive_work.give_back()
            raise

    def handle_result(self, message, worker_ctx, result, exc_info):
        if self.cost is Cost.EXPENSIVE:
            self.expensive_work.give_back()
        return super().handle_result(message, worker_ctx, result, exc_info)


def _wait_for_a_free_worker(container) -> None:
    # nameko spawns workers in a GreenPool (`_worker_pool`) and blocks while it is full. Taking
    # and giving back a slot waits for one; the spawn that follows takes it again without
    # yielding in between, so no other green thread can take it first.
    slots = container._worker_pool.sem
    slots.acquire()
    slots.release()


rpc = UnconfirmedRpc.decorator


class _DistrictRpc(UnconfirmedRpc):
    """An entrypoint whose function gets, before the request, the calling district system
    (common.districts.Caller), known from the request's `user_id`: the broker refuses a
    message whose `user_id` is not its connection's user. Any other caller is refused with
    DISTRICT_UNKNOWN."""

    def handle_message(self, body, message):
        caller = caller_of(message.properties.get("user_id"),
                           self.container.config["settings"].DISTRICT_USER_PREFIX)
        if caller is None:
            raise DomainError("DISTRICT_UNKNOWN")  # answered to the caller (nameko's consumer)
        if isinstance(body, dict) and isinstance(body.get("args"), list):
            body = {**body, "args": [caller, *body["args"]]}  # nothing sent can stand for it
        super().handle_message(body, message)


def serve(method: RpcMethod):
    """The entrypoint of a method its service's contract declares (the function's name is the
    method's): the function gets the request parsed into the declared type (a malformed one is
    VALIDATION_ERROR, naming each field), and its answer is checked against the declared type
    and sent as JSON."""
    return _entrypoint(method, rpc)


def serve_district(method: RpcMethod):
    """As `serve`, for a method of district systems: the function gets the calling district
    (a Caller) and then the request."""
    return _entrypoint(method, _DistrictRpc.decorator, takes_caller=True)


def _entrypoint(method: RpcMethod, decorator, takes_caller: bool = False):
    def entrypoint_of(function):
        if function.__name__ != method.name:
            raise TypeError(f"{function.__name__} serves {method.name}")
        if method.request is None:
            if takes_caller:
                raise TypeError(f"{method.name}: a district's method takes a request")

            def entrypoint(self):
                return method.reply(function(self))
        elif takes_caller:
            def entrypoint(self, caller, request=None):
                return method.reply(function(self, caller, method.parse_request(request)))
        else:
            def entrypoint(self, request=None):  # left out: refused unless the type admits None
                return method.reply(function(self, method.parse_request(request)))
        entrypoint = functools.update_wrapper(entrypoint, function)
        entrypoint.declared = method
        return decorator(expected_exceptions=DomainError)(entrypoint)
    return entrypoint_of


class RpcUnavailable(Exception):
    """No reply in time (the service is down, overloaded or slow): the outcome is unknown, the
    call may still complete. Callers answer "retry later"."""


class RpcRejected(RpcUnavailable):
    """The broker refused the request (the service's queue is full): it was not done.
    Callers answer "retry later" as for any RpcUnavailable, only without the wait."""


class _MethodProxy(MethodProxy):
    publisher_cls = _RpcPublisher


class _ReplyListener(ReplyListener):
    """Takes replies without acknowledging them: a reply is worth nothing once its caller has
    given up, so the broker may forget it on delivery (one message less per call)."""

    queue_consumer = ResilientQueueConsumer()

    def setup(self):
        super().setup()
        self.queue.no_ack = True


class DeadlineRpcProxy(RpcProxy):
    """An RpcProxy whose calls give up after `settings.RPC_TIMEOUT_S` (nameko has no timeout)."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx):
        return DeadlineClient(worker_ctx, self.target_service, self.rpc_reply_listener,
                              self.options, self.container.config["settings"].RPC_TIMEOUT_S)

    def worker_teardown(self, worker_ctx):
        # The client holds the worker's context, which holds the service instance, which holds
        # the client: taken back, the worker is freed as it ends instead of waiting for the
        # garbage collector (the gateway's collections under load fell from about 45 to 15
        # per 5 s).
        vars(worker_ctx.service).pop(self.attr_name, None)


class ServiceRpc(DeadlineRpcProxy):
    """Typed deadline calls to the service a contract names (common/contract_base.py):
    `accounts = ServiceRpc(AccountsRpc)`, then `self.accounts.register(Registration(...))`."""

    def __init__(self, contract: type[RpcContract], **options):
        super().__init__(contract.service, **options)
        self.contract = contract

    def get_dependency(self, worker_ctx):
        return self.contract(super().get_dependency(worker_ctx),
                             caller_cost=getattr(worker_ctx.entrypoint, "cost", None))


class AnyServiceRpc(DeadlineRpcProxy):
    """Calls of what every service answers (`RpcContract`) to services named at the call,
    `self.services("notify").ping()`: the gateway's health check asks every service
    common/registry.py lists."""

    def __init__(self, **options):
        super().__init__(None, **options)

    def get_dependency(self, worker_ctx):
        timeout = self.container.config["settings"].RPC_TIMEOUT_S
        return lambda service_name: RpcContract(DeadlineClient(
            worker_ctx, service_name, self.rpc_reply_listener, self.options, timeout))


class DeadlineClient:
    def __init__(self, worker_ctx, service_name: str, reply_listener, options: dict,
                 timeout: float):
        self._worker_ctx = worker_ctx
        self._service_name = service_name
        self._reply_listener = reply_listener
        self._options = options
        self._timeout = timeout

    def call(self, method: str, *args, timeout: float | None = None,
             service: str | None = None, **kwargs):
        """`service`: the nameko service to call instead of the client's (its expensive
        process, common.contract_base.expensive_process_name)."""
        deadline = time.time() + (timeout or self._timeout)
        service = service or self._service_name
        try:
            reply = _MethodProxy(self._worker_ctx, service, method,
                                 self._reply_listener, deadline=deadline,
                                 **self._options).call_async(*args, **kwargs)
        except OperationalError as exc:  # kombu wraps the broker's nack and connection errors
            if isinstance(exc.__cause__, MessageNacked):
                raise RpcRejected(f"{service}.{method}: queue full") from exc
            raise RpcUnavailable(f"{service}.{method}: not sent ({exc})") from exc
        return self._wait(reply, deadline, f"{service}.{method}")

    def _wait(self, reply, deadline: float, called: str):
        try:
            # the publishing has used part of the deadline: the wait gets what is left
            with eventlet.Timeout(max(0.0, deadline - time.time())):
                return reply.result()
        except eventlet.Timeout as exc:
            raise RpcUnavailable(f"{called}: no reply in time") from exc


class StandaloneRpc(DeadlineClient):
    """Deadline calls from a program outside nameko (a district system's script): nameko's
    standalone reply listener (single-threaded, no eventlet hub needed) and our publisher.
    Each request carries the URI's user as `user_id`, which the broker checks. `caller`
    names its reply queue, `rpc.reply-<caller>-<uuid>`, as its broker permissions say
    (common/broker.py). `close()` when done."""

    def __init__(self, amqp_uri: str, service_name: str, caller: str, timeout: float,
                 ssl: dict | None = None):
        container = StandaloneProxyBase.ServiceContainer(
            {AMQP_URI_CONFIG_KEY: amqp_uri, AMQP_SSL_CONFIG_KEY: ssl})
        container.service_name = caller
        listener = SingleThreadedReplyListener(timeout=timeout).bind(container)
        listener.setup()
        user = unquote(urlsplit(amqp_uri).username or "")
        super().__init__(WorkerContext(container, None, StandaloneProxyBase.Dummy),
                         service_name, listener, {"user_id": user}, timeout)

    def close(self) -> None:
        self._reply_listener.stop()

    def _wait(self, reply, deadline: float, called: str):
        # the listener's socket timeout is the wait's (no eventlet.Timeout outside a hub)
        self._reply_listener.queue_consumer.timeout = max(0.001, deadline - time.time())
        try:
            return reply.result()
        except RpcTimeout as exc:
            raise RpcUnavailable(f"{called}: no reply in time") from exc
