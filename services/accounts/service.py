"""The accounts service's entrypoints, as its contract declares them (contract.AccountsRpc):
each calls one use case of one capability; `serve` parses the request and checks the answer.
It handles one event of another service: enrollment's `document_moved`."""

from __future__ import annotations

import logging
from functools import partial

from nameko.timer import timer
from prometheus_client import Counter, Gauge

from common.contract_base import Pong
from common.edge.consuming import event_handler, parse_event
from common.edge.dependencies import Observability, Wiring, offload
from common.edge.outbox import OutboxRelay
from common.edge.rpc import serve
from common.errors import DomainError
from services.accounts import bootstrap
from services.accounts.contract import SERVICE_NAME, AccountsRpc
from services.accounts.usecases import audit
from services.enrollment import contract as enrollment

log = logging.getLogger(__name__)

REGISTRATIONS = Counter("platform_registrations_total", "Accounts registered", ["district"])
LOGINS = Counter("platform_logins_total", "Sign-in attempts", ["result"])
SMS_CODES_THIS_MINUTE = Gauge(
    "platform_sms_codes_this_minute", "SMS codes issued platform-wide in the current minute")
SMS_BUDGET_USAGE = Gauge(
    "platform_sms_budget_usage_ratio", "Share of the per-minute platform SMS budget used")


def observe_sms_budget(issued: int, ratio: float) -> None:
    SMS_CODES_THIS_MINUTE.set(issued)
    SMS_BUDGET_USAGE.set(ratio)


class AccountsService:
    name = SERVICE_NAME

    # The use cases on the service's pool; argon2 and captcha images run off the event loop,
    # and the relay publishes the events of each commit.
    app = Wiring(partial(bootstrap.build, offload=offload, observe_sms_budget=observe_sms_budget),
                 relay=OutboxRelay())
    request_id = Observability()

    @serve(AccountsRpc.ping)
    def ping(self):
        return Pong(service=self.name, ok=self.app.context.store.ping())

    @serve(AccountsRpc.get_notice)
    def get_notice(self):
        return self.app.registrations.notice()

    @serve(AccountsRpc.create_captcha)
    def create_captcha(self, request):
        return self.app.captchas.create(request)

    @serve(AccountsRpc.request_sms_code)
    def request_sms_code(self, request):
        return self.app.sms_codes.request(request, request_id=self.request_id)

    @serve(AccountsRpc.register)
    def register(self, registration):
        result = self.app.registrations.register(registration, request_id=self.request_id)
        REGISTRATIONS.labels(result.account.district).inc()
        return result

    @serve(AccountsRpc.login)
    def login(self, login):
        try:
            session = self.app.sessions.login(login, request_id=self.request_id)
        except DomainError as error:
            LOGINS.labels(error.code.lower()).inc()
            raise
        LOGINS.labels("ok").inc()
        return session

    @serve(AccountsRpc.logout)
    def logout(self, session_token):
        return self.app.sessions.logout(session_token)

    @serve(AccountsRpc.get_account)
    def get_account(self, session_token):
        return self.app.sessions.get_account(session_token)

    @serve(AccountsRpc.change_password)
    def change_password(self, change):
        return self.app.passwords.change(change, request_id=self.request_id)

    @serve(AccountsRpc.reset_password)
    def reset_password(self, reset):
        return self.app.passwords.reset(reset, request_id=self.request_id)

    @serve(AccountsRpc.cancel_account)
    def cancel_account(self, cancellation):
        return self.app.cancellations.cancel(cancellation, request_id=self.request_id)

    @serve(AccountsRpc.verify_audit_chain)
    def verify_audit_chain(self, anchor):
        return audit.verify_audit_chain(self.app.context.store, anchor)

    # Requeued on a transient error (the database away): the event is handled once it is back.
    @event_handler(enrollment.SERVICE_NAME, enrollment.DOCUMENT_MOVED, reliable_delivery=True,
                   requeue_on_error=True)
    def handle_document_moved(self, payload):
        """The district settled a dispute over the child's document: the account goes to the
        real guardian's phone (once, however often the event comes)."""
        event = parse_event(enrollment.DocumentMoved, payload)
        if event is not None:
            self.app.disputes.document_moved(event.event_id, enrollment.DOCUMENT_MOVED,
                                             event.account_no, event.district,
                                             event.claimant_phone, request_id=self.request_id)

    @timer(interval=300)
    def log_audit_head(self):
        """The head in the logs (kept elsewhere, longer) is one more copy outside the database
        to check the chain against: see `services.accounts.audit_anchor`."""
        head = audit.audit_head(self.app.context.store)
        if head:
            log.info("audit head", extra={"entry_id": head.entry_id, "digest": head.digest,
                                          "at": head.at})

    @timer(interval=600)
    def purge_expired(self):
        self.app.context.purge_expired()
