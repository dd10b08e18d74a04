"""The gateway: the only HTTP entry. JSON API and pages, each a thin layer over service RPCs."""

from __future__ import annotations

from common.edge.dependencies import Observability, Settings
from common.edge.rpc import AnyServiceRpc, ServiceRpc
from gateway.api import ApiRoutes
from gateway.details_pages import DetailsRoutes
from gateway.form_pages import FormRoutes
from gateway.pages import PageRoutes
from services.accounts.contract import AccountsRpc
from services.documents.contract import DocumentsRpc
from services.enrollment.contract import EnrollmentRpc
from services.notify.contract import NotifyRpc


class GatewayService(FormRoutes, DetailsRoutes, PageRoutes, ApiRoutes):
    name = "gateway"

    settings = Settings()
    accounts = ServiceRpc(AccountsRpc)
    notify = ServiceRpc(NotifyRpc)
    enrollment = ServiceRpc(EnrollmentRpc)
    documents = ServiceRpc(DocumentsRpc)
    services = AnyServiceRpc()  # the health check's
    request_id = Observability()
