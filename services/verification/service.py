"""The verification service: 身份证及户籍信息核验 of each submitted version of a family's details.

enrollment's `details_submitted` records a pending check (once per event, superseding the
account's older pending checks); `details_withdrawn` cancels the version's pending check;
accounts' `account_cancelled` deletes the family's checks. The check runner asks the
population registry, up to VERIFICATION_CONCURRENCY checks at once in green threads (the
registry's answers are awaited on green sockets or the database, so the hub never waits on
them), judges, and records the result with its `check_finished` event; a registry that does
not answer leaves the check pending, tried again after a growing wait.
"""

from __future__ import annotations

import logging

import eventlet
import eventlet.semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter, Gauge

from common.contract_base import Pong
from common.edge.consuming import event_handler, parse_event
from common.edge.dependencies import Observability, Settings, Wiring, settings_of
from common.edge.outbox import OutboxRelay
from common.edge.rpc import serve
from services.accounts.contract import ACCOUNT_CANCELLED, AccountCancelled
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.enrollment.contract import DETAILS_SUBMITTED, DETAILS_WITHDRAWN, DetailsWithdrawn
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.verification import bootstrap
from services.verification.bootstrap import VerificationApp
from services.verification.contract import SERVICE_NAME, VerificationRpc
from services.verification.events import MalformedEvent, check_request
from services.verification.storage import Claim

log = logging.getLogger(__name__)

CHECKS_RUN = Counter("platform_verification_checks_total",
                     "Check runs by outcome (verified, failed, retry, stale, error)", ["outcome"])
PENDING = Gauge("platform_verification_pending_checks", "Checks waiting for their result")
OLDEST_PENDING = Gauge("platform_verification_oldest_pending_seconds",
                       "Age of the oldest pending check (0 when none)")

POLL_S = 0.25  # due checks (retries, leases run out) are looked for this often
GAUGES_S = 5.0
STOP_WAIT_S = 2.0  # checks still running at stop get this long; their leases cover the rest


class CheckRunner(DependencyProvider):
    """Runs claimed checks in green threads of its own, at most VERIFICATION_CONCURRENCY at
    once. `fill` claims as many due checks as slots are free; a slot that finishes a check
    claims the next due one itself, so a backlog drains at the registry's pace. A check is
    held under a lease while it runs; one lost to a crash or a kill is run again once its
    lease runs out."""

    def setup(self):
        self.slots = eventlet.GreenPool(settings_of(self.container).VERIFICATION_CONCURRENCY)
        self.filling = eventlet.semaphore.Semaphore()
        self.running = False

    def start(self):
        self.running = True

    def stop(self):
        self.running = False
        with eventlet.Timeout(STOP_WAIT_S, False):
            self.slots.waitall()
        self._kill_slots()

    def kill(self):
        self.running = False
        self._kill_slots()

    def _kill_slots(self):
        for thread in list(self.slots.coroutines_running):
            thread.kill()

    def get_dependency(self, worker_ctx):
        return self

    @property
    def in_flight(self) -> int:
        return self.slots.running()

    def fill(self, app: VerificationApp) -> int:
        """Claims due checks for the free slots and starts them; returns how many."""
        if not self.running:
            return 0
        with self.filling:  # free slots only grow meanwhile, so spawning never waits
            claims = app.checks.claim_due(_wanted(app, self.slots.free()), app.lease_s)
            for claim in claims:
                self.slots.spawn_n(self._slot, app, claim)
        return len(claims)

    def _slot(self, app: VerificationApp, claim: Claim | None) -> None:
        while claim is not None:
            _run_one(app, claim)
            if not self.running:
                return
            try:
                claim = next(iter(app.checks.claim_due(_wanted(app, 1), app.lease_s)), None)
            except Exception:  # the database away: the timer fills the slot later
                log.warning("no next check claimed", exc_info=True)
                return


def _wanted(app: VerificationApp, free: int) -> int:
    """How many checks to claim for `free` slots: none while the registry's circuit is open
    (a stopped registry leaves the backlog untouched, not cycled through failures), one for
    its trial."""
    admitted = app.registry.admitted()
    return free if admitted is None else min(free, admitted)


def _run_one(app: VerificationApp, claim: Claim) -> None:
    try:
        outcome = app.run(claim)
    except Exception:  # a bug or the database away: the lease runs out, the check is retried
        log.exception("check run failed", extra={"attempts": claim.attempts})
        outcome = "error"
    CHECKS_RUN.labels(outcome).inc()
    if outcome in ("verified", "failed"):
        log.info("check finished", extra={"outcome": outcome, "version": claim.version,
                                          "attempts": claim.attempts})


class VerificationService:
    name = SERVICE_NAME

    settings = Settings()
    app = Wiring(bootstrap.build, relay=OutboxRelay())
    request_id = Observability()
    runner = CheckRunner()

    @serve(VerificationRpc.ping)
    def ping(self):
        self.app.checks.ping()
        return Pong(service=SERVICE_NAME, ok=True)

    # Requeued on error: a database outage delays a check but does not lose it.
    @event_handler(ENROLLMENT, DETAILS_SUBMITTED, reliable_delivery=True, requeue_on_error=True)
    def handle_details_submitted(self, payload):
        event_id = payload.get("event_id") if isinstance(payload, dict) else None
        try:
            if not isinstance(event_id, str) or not event_id:
                raise MalformedEvent("event_id")
            request = check_request(payload)
        except MalformedEvent as exc:  # requeueing cannot fix it: dropped loudly
            log.error("malformed event dropped",
                      extra={"event_type": DETAILS_SUBMITTED, "fields": str(exc)})
            return
        if self.app.checks.record_submitted(event_id, DETAILS_SUBMITTED, request):
            self._start_checks()

    @event_handler(ENROLLMENT, DETAILS_WITHDRAWN, reliable_delivery=True, requeue_on_error=True)
    def handle_details_withdrawn(self, payload):
        event = parse_event(DetailsWithdrawn, payload)
        if event is not None:
            self.app.checks.cancel(event.event_id, DETAILS_WITHDRAWN, event.account_no,
                                   event.version)

    @event_handler(ACCOUNTS, ACCOUNT_CANCELLED, reliable_delivery=True, requeue_on_error=True)
    def handle_account_cancelled(self, payload):
        """A cancelled family's checks are deleted with the rest of its data."""
        event = parse_event(AccountCancelled, payload)
        if event is not None:
            self.app.checks.forget_account(event.event_id, ACCOUNT_CANCELLED, event.account_no)

    @timer(interval=POLL_S)
    def run_due_checks(self):
        """Starts due checks in free slots: retries whose wait is over, checks whose runner
        died, and any the event handlers could not start."""
        self.runner.fill(self.app)

    @timer(interval=GAUGES_S)
    def refresh_gauges(self):
        count, oldest_s = self.app.checks.pending()
        PENDING.set(count)
        OLDEST_PENDING.set(oldest_s)

    def _start_checks(self) -> None:
        try:
            self.runner.fill(self.app)
        except Exception:  # recorded all the same: the timer starts it
            log.warning("check not started at once", exc_info=True)
