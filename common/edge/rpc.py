"""RPC across services: every call has a deadline, which is what bounds a lost message, so
requests and replies are transient, are not confirmed by the broker, and replies are not
acknowledged by the caller; DomainError crosses intact."""

from __future__ import annotations

import eventlet
from kombu.entity import TRANSIENT_DELIVERY_MODE as TRANSIENT
from nameko.constants import AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, SERIALIZER_CONFIG_KEY
from nameko.exceptions import get_module_path, registry
from nameko.rpc import (
    MethodProxy,
    ReplyListener,
    Responder,
    Rpc,
    RpcConsumer,
    RpcProxy,
    get_rpc_exchange,
)

from common.edge.publishing import pooled_publisher
from common.errors import DomainError

# Lets a DomainError raised in one service be re-raised as a DomainError by its caller.
registry[get_module_path(DomainError)] = DomainError


class _RpcPublisher:
    """What nameko's RPC classes expect of a publisher, publishing over the process's pooled
    connection (common/edge/publishing.py) without confirms. Messages are transient (nameko's
    default is persistent): a request that outlived its caller's deadline would be answered to
    no one, so the broker need not write it to disk, and a reply even less."""

    def __init__(self, amqp_uri: str, **_options):
        self._publisher = pooled_publisher(amqp_uri, confirms=False)

    def publish(self, payload, *, extra_headers: dict | None = None, mandatory: bool = False,
                **message):
        # A request is not `mandatory`: without a confirm to wait for, a returned message
        # would surface on some later publish. The queue of a service that is down stays
        # bound (it is durable), so `mandatory` would only ever catch one that never started.
        self._publisher.publish(payload, delivery_mode=TRANSIENT, headers=extra_headers,
                                **message)


class _Responder(Responder):
    publisher_cls = _RpcPublisher


class _RpcConsumer(RpcConsumer):
    """nameko's RpcConsumer (2.14), replying through `_RpcPublisher`."""

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = _Responder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                               config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message)
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class UnconfirmedRpc(Rpc):
    """An RPC entrypoint whose reply is not confirmed by the broker: a lost reply costs the
    caller its deadline, as a lost request or a dead worker would, so the confirm (a round
    trip to the broker on every reply) buys nothing."""
    rpc_consumer = _RpcConsumer()


rpc = UnconfirmedRpc.decorator


class RpcUnavailable(Exception):
    """No reply in time (the service is down, overloaded or slow): the outcome is unknown, the
    call may still complete. Callers answer "retry later"."""


class _MethodProxy(MethodProxy):
    publisher_cls = _RpcPublisher


class _ReplyListener(ReplyListener):
    """Takes replies without acknowledging them: a reply is worth nothing once its caller has
    given up, so the broker may forget it on delivery (one message less per call)."""

    def setup(self):
        super().setup()
        self.queue.no_ack = True


class DeadlineRpcProxy(RpcProxy):
    """An RpcProxy whose calls give up after `settings.RPC_TIMEOUT_S` (nameko has no timeout)."""

    rpc_reply_listener = _ReplyListener()

    def get_dependency(self, worker_ctx):
        return DeadlineClient(worker_ctx, self.target_service, self.rpc_reply_listener,
                              self.options, self.container.config["settings"].RPC_TIMEOUT_S)


class DeadlineClient:
    def __init__(self, worker_ctx, service_name: str, reply_listener, options: dict,
                 timeout: float):
        self._worker_ctx = worker_ctx
        self._service_name = service_name
        self._reply_listener = reply_listener
        self._options = options
        self._timeout = timeout

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        reply = _MethodProxy(self._worker_ctx, self._service_name, method, self._reply_listener,
                             **self._options).call_async(*args, **kwargs)
        try:
            with eventlet.Timeout(timeout or self._timeout):
                return reply.result()
        except eventlet.Timeout as exc:
            raise RpcUnavailable(f"{self._service_name}.{method}: no reply in time") from exc
