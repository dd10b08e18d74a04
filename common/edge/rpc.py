"""RPC across services: every call has a deadline, which is what bounds a lost message, so
neither requests nor replies wait for broker confirms; DomainError crosses intact."""

from __future__ import annotations

import eventlet
from kombu.entity import TRANSIENT_DELIVERY_MODE as TRANSIENT
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import get_module_path, registry
from nameko.rpc import MethodProxy, Responder, Rpc, RpcConsumer, RpcProxy, get_rpc_exchange

from common.errors import DomainError

# Lets a DomainError raised in one service be re-raised as a DomainError by its caller.
registry[get_module_path(DomainError)] = DomainError


class _UnconfirmedPublisher(Publisher):
    use_confirms = False


class _UnconfirmedResponder(Responder):
    publisher_cls = _UnconfirmedPublisher


class _RpcConsumer(RpcConsumer):
    """nameko's RpcConsumer (2.14), sending replies without waiting for a publisher confirm."""

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = _UnconfirmedResponder(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
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


class _RequestPublisher(Publisher):
    """Requests go out unconfirmed and not `mandatory`. A lost request, like a lost reply,
    costs the caller its deadline; and the queue of a service that is down stays bound (it is
    durable), so `mandatory` would only catch a service that never started, at the price of a
    broker round trip on every call."""
    use_confirms = False

    def publish(self, payload, **kwargs):
        # Without a confirm to wait for, a returned message would surface on a later publish.
        return super().publish(payload, **{**kwargs, "mandatory": False})


class _MethodProxy(MethodProxy):
    publisher_cls = _RequestPublisher


class DeadlineRpcProxy(RpcProxy):
    """An RpcProxy whose calls give up after `settings.RPC_TIMEOUT_S` (nameko has no timeout).

    Requests are transient: one that outlived its caller's deadline would be answered to no
    one, so the broker need not write it to disk (nameko's default).
    """

    def __init__(self, target_service: str, **options):
        super().__init__(target_service, delivery_mode=TRANSIENT, **options)

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
