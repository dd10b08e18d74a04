"""RPC across services: every call has a deadline, and DomainError crosses intact."""

from __future__ import annotations

import eventlet
from kombu.entity import TRANSIENT_DELIVERY_MODE as TRANSIENT
from nameko.exceptions import UnknownService, get_module_path, registry
from nameko.rpc import RpcProxy

from common.errors import DomainError

# Lets a DomainError raised in one service be re-raised as a DomainError by its caller.
registry[get_module_path(DomainError)] = DomainError


class RpcUnavailable(Exception):
    """The call did not get an answer; callers answer "retry later"."""


class DeadlineExceeded(RpcUnavailable):
    """No reply in time: the outcome is unknown (the call may still complete)."""


class ServiceDown(RpcUnavailable):
    """No instance of the service is listening: the call was not delivered."""


class DeadlineRpcProxy(RpcProxy):
    """An RpcProxy whose calls give up after `settings.RPC_TIMEOUT_S` (nameko has no timeout).

    Requests are transient: one that outlived its caller's deadline would be answered to no
    one, so the broker need not write it to disk (nameko's default) before confirming it.
    """

    def __init__(self, target_service: str, **options):
        super().__init__(target_service, delivery_mode=TRANSIENT, **options)

    def get_dependency(self, worker_ctx):
        proxy = super().get_dependency(worker_ctx)
        return DeadlineClient(proxy, self.container.config["settings"].RPC_TIMEOUT_S)


class DeadlineClient:
    def __init__(self, proxy, timeout: float):
        self._proxy = proxy
        self._timeout = timeout

    def call(self, method: str, *args, timeout: float | None = None, **kwargs):
        try:
            reply = getattr(self._proxy, method).call_async(*args, **kwargs)
        except UnknownService as exc:
            raise ServiceDown(self._proxy.service_name) from exc
        try:
            with eventlet.Timeout(timeout or self._timeout):
                return reply.result()
        except eventlet.Timeout as exc:
            raise DeadlineExceeded(f"{self._proxy.service_name}.{method}") from exc
