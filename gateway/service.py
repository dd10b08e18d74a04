"""The gateway: the only HTTP entry. JSON API and pages, each a thin layer over service RPCs."""

from __future__ import annotations

from common.edge.dependencies import Observability, Settings
from common.edge.rpc import AnyServiceRpc, DeadlineRpcProxy
from gateway.api import ApiRoutes
from gateway.pages import PageRoutes
from services.accounts import contract as accounts_contract
from services.notify import contract as notify_contract


class GatewayService(PageRoutes, ApiRoutes):
    name = "gateway"

    settings = Settings()
    accounts = DeadlineRpcProxy(accounts_contract.SERVICE_NAME)
    notify = DeadlineRpcProxy(notify_contract.SERVICE_NAME)
    services = AnyServiceRpc()  # the health check's
    request_id = Observability()
