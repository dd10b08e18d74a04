"""The enrollment service's entrypoints: validate, call one use case, return JSON.

It owns the family's application: opened from accounts' registration event, filled in and
submitted by the family over RPC (through the gateway), checked by the verification service
(its results come back as events), reviewed by the district's system over RPC, erased when the
family cancels its account.
"""

from __future__ import annotations

import logging
from functools import partial

from common.contract_base import Pong
from common.edge.consuming import event_handler, parse_event
from common.edge.dependencies import Observability, Wiring, let_others_run
from common.edge.outbox import OutboxRelay
from common.edge.rpc import serve, serve_district
from services.accounts.contract import (
    ACCOUNT_CANCELLED,
    FAMILY_REGISTERED,
    AccountCancelled,
    FamilyRegistered,
)
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.enrollment import bootstrap
from services.enrollment.contract import (
    SERVICE_NAME,
    DistrictRpc,
    EnrollmentRpc,
)
from services.verification import contract as verification

log = logging.getLogger(__name__)


class EnrollmentService:
    name = SERVICE_NAME

    # The use cases on the service's pool; the relay publishes the events of each commit, and
    # a bulk call lets the other requests run between its chunks.
    app = Wiring(partial(bootstrap.build, pause=let_others_run), relay=OutboxRelay())
    request_id = Observability()

    @serve(EnrollmentRpc.ping)
    def ping(self):
        return Pong(**self.app.ping())

    @serve(EnrollmentRpc.get_journey)
    def get_journey(self, request):
        return self.app.get_journey(request.account_no, request.hukou_type)

    @serve(EnrollmentRpc.get_details)
    def get_details(self, request):
        return self.app.get_details(request.account_no)

    @serve(EnrollmentRpc.save_draft)
    def save_draft(self, request):
        return self.app.save_draft(request.account_no, request.data)

    @serve(EnrollmentRpc.submit)
    def submit(self, request):
        return self.app.submit(request.account_no, request.data)

    @serve(EnrollmentRpc.withdraw)
    def withdraw(self, request):
        return self.app.withdraw(request.account_no)

    @serve(EnrollmentRpc.get_history)
    def get_history(self, request):
        return self.app.get_history(request.account_no)

    @serve(EnrollmentRpc.get_accesses)
    def get_accesses(self, request):
        return self.app.get_accesses(request.account_no)

    @serve(EnrollmentRpc.get_result)
    def get_result(self, request):
        return self.app.get_result(request.account_no)

    # The documents service's (common/broker.py: only its user may call them).
    @serve(EnrollmentRpc.get_form_data)
    def get_form_data(self, request):
        return self.app.get_form_data(request.account_no)

    @serve(EnrollmentRpc.get_form_standing)
    def get_form_standing(self, request):
        return self.app.get_form_standing(request.account_no)

    # District systems: the district is the caller's broker user's, never the request's.
    @serve_district(DistrictRpc.district_list_applications)
    def district_list_applications(self, caller, query):
        return self.app.district_list_applications(caller, query)

    @serve_district(DistrictRpc.district_show_application)
    def district_show_application(self, caller, lookup):
        return self.app.district_show_application(caller, lookup)

    @serve_district(DistrictRpc.district_review_item)
    def district_review_item(self, caller, decision):
        return self.app.district_review_item(caller, decision)

    @serve_district(DistrictRpc.district_bulk_review)
    def district_bulk_review(self, caller, request):
        return self.app.district_bulk_review(caller, request)

    @serve_district(DistrictRpc.district_bulk_preregister)
    def district_bulk_preregister(self, caller, request):
        return self.app.district_bulk_preregister(caller, request)

    @serve_district(DistrictRpc.district_bulk_approve)
    def district_bulk_approve(self, caller, request):
        return self.app.district_bulk_approve(caller, request)

    @serve_district(DistrictRpc.district_override_verification)
    def district_override_verification(self, caller, change):
        return self.app.district_override_verification(caller, change)

    @serve_district(DistrictRpc.district_preregister)
    def district_preregister(self, caller, request):
        return self.app.district_preregister(caller, request)

    @serve_district(DistrictRpc.district_approve)
    def district_approve(self, caller, request):
        return self.app.district_approve(caller, request)

    @serve_district(DistrictRpc.district_publish)
    def district_publish(self, caller, request):
        return self.app.district_publish(caller, request)

    @serve_district(DistrictRpc.district_list_schools)
    def district_list_schools(self, caller, query):
        return self.app.district_list_schools(caller, query)

    @serve_district(DistrictRpc.district_import_schools)
    def district_import_schools(self, caller, request):
        return self.app.district_import_schools(caller, request)

    @serve_district(DistrictRpc.district_move_document)
    def district_move_document(self, caller, dispute):
        return self.app.district_move_document(caller, dispute)

    # Requeued on a transient error (the database away): the event is handled once it is back.
    @event_handler(ACCOUNTS, FAMILY_REGISTERED, reliable_delivery=True, requeue_on_error=True)
    def handle_family_registered(self, payload):
        """Opens the family's application (a repeat, or a second event for the account,
        opens nothing more)."""
        event = parse_event(FamilyRegistered, payload)
        if event is not None:
            self.app.family_registered(event)

    @event_handler(ACCOUNTS, ACCOUNT_CANCELLED, reliable_delivery=True, requeue_on_error=True)
    def handle_account_cancelled(self, payload):
        """Everything of the family goes: its application, its versions, its key."""
        event = parse_event(AccountCancelled, payload)
        if event is not None:
            self.app.account_cancelled(event.event_id, event.account_no, ACCOUNT_CANCELLED)

    @event_handler(verification.SERVICE_NAME, verification.CHECK_FINISHED, reliable_delivery=True,
                   requeue_on_error=True)
    def handle_check_finished(self, payload):
        """A check's result; one for another version than the pending one is ignored."""
        event = parse_event(verification.CheckFinished, payload)
        if event is not None and not self.app.check_finished(event):
            log.info("verification result ignored", extra={"version": event.version})
