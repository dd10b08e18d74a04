"""Every service's RPC contracts, and which process serves each method: the service's own, or
its expensive process (common/edge/expensive_process.py)."""

from __future__ import annotations

from common import registry
from common.contract_base import expensive_process_name
from services.accounts.contract import AccountsRpc
from services.documents.contract import DocumentsRpc
from services.enrollment.contract import DistrictRpc, EnrollmentRpc
from services.notify.contract import NotifyRpc
from services.verification.contract import VerificationRpc

CONTRACTS = (AccountsRpc, NotifyRpc, EnrollmentRpc, DistrictRpc, VerificationRpc, DocumentsRpc)


def expensive_process_of(service: str) -> str | None:
    """The nameko name of `service`'s expensive process, if it has one."""
    if any(c.service == service and c.expensive_apart for c in CONTRACTS):
        return expensive_process_name(service)
    return None


def served_as(service: str, method: str) -> str:
    """The nameko service that answers `service.method`: `service`, or its expensive process
    for a method served apart."""
    for contract in CONTRACTS:
        declared = contract.methods().get(method) if contract.service == service else None
        if declared is not None:
            return contract.served_by(declared)
    return service


# What the gateway's /healthz pings: every health-checked service, and its expensive process.
HEALTH_CHECKED = tuple(name for service in registry.HEALTH_CHECKED
                       for name in (service, expensive_process_of(service)) if name)
