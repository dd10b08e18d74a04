"""The documents service: the 学龄人口信息采集表 (the guide's 四 打印信息采集表) and the public
check of a printout.

Forms are rendered in worker processes (common/edge/processes.py), so the event loop keeps
answering while they are laid out; the family's data comes from enrollment's `get_form_data`
(audited there), a printout's standing from its `get_form_standing`. A family that may print
(enrollment's `verification_outcome` verified, or `review_outcome` approved) gets its form
rendered ahead. accounts' `account_cancelled` deletes the family's stored form.
"""

from __future__ import annotations

from common.contract_base import Pong
from common.edge.consuming import event_handler, parse_event
from common.edge.dependencies import Observability, Wiring
from common.edge.processes import WorkerPool, Workers
from common.edge.rpc import ServiceRpc, serve
from services.accounts.contract import ACCOUNT_CANCELLED, AccountCancelled
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.documents import bootstrap
from services.documents.contract import SERVICE_NAME, DocumentsRpc
from services.enrollment.contract import (
    REVIEW_OUTCOME,
    VERIFICATION_OUTCOME,
    EnrollmentRpc,
    ReviewOutcome,
    VerificationOutcome,
)
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT


def render_workers(settings) -> WorkerPool:
    return WorkerPool("services.documents.render:render", settings.DOCUMENTS_RENDER_WORKERS,
                      settings.DOCUMENTS_RENDERS_PER_WORKER, settings.DOCUMENTS_RENDER_TIMEOUT_S)


class DocumentsService:
    name = SERVICE_NAME

    app = Wiring(bootstrap.build)
    request_id = Observability()
    enrollment = ServiceRpc(EnrollmentRpc)
    renderers = Workers(render_workers)

    @property
    def edge(self) -> bootstrap.Edge:
        return bootstrap.Edge(self.enrollment, self.renderers.run)

    @serve(DocumentsRpc.ping)
    def ping(self):
        self.app.ping()
        return Pong(service=SERVICE_NAME, ok=True)

    @serve(DocumentsRpc.get_form_status)
    def get_form_status(self, request):
        return self.app.get_form_status(self.edge, request.account_no)

    @serve(DocumentsRpc.get_form)
    def get_form(self, request):
        return self.app.get_form(self.edge, request.account_no)

    @serve(DocumentsRpc.check_form)
    def check_form(self, request):
        return self.app.check_form(self.edge, request.token)

    # A family that may print from now on gets its form rendered ahead, in the background:
    # on opening day its download is then a stored form, not a render on the request's clock.
    # Not requeued: a form not rendered ahead is rendered when it is downloaded.
    @event_handler(ENROLLMENT, VERIFICATION_OUTCOME, reliable_delivery=True,
                   requeue_on_error=False)
    def handle_verification_outcome(self, payload):
        event = parse_event(VerificationOutcome, payload)
        if event is not None and event.status == "verified":  # 非本市户籍: not yet
            self.app.prepare(self.edge, event.account_no)

    @event_handler(ENROLLMENT, REVIEW_OUTCOME, reliable_delivery=True, requeue_on_error=False)
    def handle_review_outcome(self, payload):
        event = parse_event(ReviewOutcome, payload)
        if event is not None and event.status == "approved":
            self.app.prepare(self.edge, event.account_no)

    # Requeued on error: a database outage delays the deletion but does not lose it.
    @event_handler(ACCOUNTS, ACCOUNT_CANCELLED, reliable_delivery=True, requeue_on_error=True)
    def handle_account_cancelled(self, payload):
        """A cancelled family's form is deleted with the rest of its data."""
        event = parse_event(AccountCancelled, payload)
        if event is not None:
            self.app.account_cancelled(event.event_id, ACCOUNT_CANCELLED, event.account_no)
