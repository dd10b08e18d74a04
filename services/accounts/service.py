"""The accounts service's entrypoints: validate, call one use case, return JSON."""

from __future__ import annotations

import logging
from functools import partial

from nameko.timer import timer
from prometheus_client import Counter, Gauge

from common.edge.dependencies import Observability, Wiring, offload
from common.edge.outbox import OutboxRelay
from common.edge.rpc import rpc
from common.errors import DomainError
from services.accounts import bootstrap
from services.accounts.contract import SERVICE_NAME

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

    @rpc(expected_exceptions=DomainError)
    def ping(self):
        return {"service": self.name, "ok": self.app.store.ping()}

    @rpc(expected_exceptions=DomainError)
    def get_notice(self):
        return self.app.notice()

    @rpc(expected_exceptions=DomainError)
    def create_captcha(self, request=None):  # CaptchaRequest; older callers send none
        return self.app.create_captcha(request)

    @rpc(expected_exceptions=DomainError)
    def request_sms_code(self, request):
        return self.app.request_sms_code(request, request_id=self.request_id)

    @rpc(expected_exceptions=DomainError)
    def register(self, registration):
        result = self.app.register(registration, request_id=self.request_id)
        REGISTRATIONS.labels(result["account"]["district"]).inc()
        return result

    @rpc(expected_exceptions=DomainError)
    def login(self, login):
        try:
            session = self.app.login(login, request_id=self.request_id)
        except DomainError as error:
            LOGINS.labels(error.code.lower()).inc()
            raise
        LOGINS.labels("ok").inc()
        return session

    @rpc(expected_exceptions=DomainError)
    def logout(self, session_token):
        return self.app.logout(session_token)

    @rpc(expected_exceptions=DomainError)
    def get_account(self, session_token):
        return self.app.get_account(session_token)

    @rpc(expected_exceptions=DomainError)
    def change_password(self, change):
        return self.app.change_password(change, request_id=self.request_id)

    @rpc(expected_exceptions=DomainError)
    def reset_password(self, reset):
        return self.app.reset_password(reset, request_id=self.request_id)

    @rpc(expected_exceptions=DomainError)
    def cancel_account(self, cancellation):
        return self.app.cancel_account(cancellation, request_id=self.request_id)

    @rpc(expected_exceptions=DomainError)
    def verify_audit_chain(self, anchor=None):
        return self.app.verify_audit_chain(anchor)

    @timer(interval=300)
    def log_audit_head(self):
        """The head in the logs (kept elsewhere, longer) is one more copy outside the database
        to check the chain against: see `services.accounts.audit_anchor`."""
        head = self.app.audit_head()
        if head:
            log.info("audit head", extra={"entry_id": head.entry_id, "digest": head.digest,
                                          "at": head.at})

    @timer(interval=600)
    def purge_expired(self):
        self.app.purge_expired()
