"""The notify service: texts guardians, at most once per message id, never after `not_after`.

Texts come as events: accounts' (SMS codes, account numbers) and enrollment's (the outcome
of the 身份证及户籍信息核验). Every message is recorded (encrypted) before it is sent, with the
event that asked for it. The worker that records it sends it at once; if that fails or the
process dies, the retry loop sends it once its lease runs out. Sent messages are marked sent
a moment later, many in one statement (`SentMarks`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import eventlet
import eventlet.semaphore
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from prometheus_client import Counter

from common.contract_base import Pong
from common.edge.consuming import event_handler, parse_event
from common.edge.dependencies import (
    Observability,
    Settings,
    Wiring,
    autocommit_pool,
    settings_of,
)
from common.edge.rpc import serve
from common.errors import DomainError
from common.masking import mask_phone
from services.accounts.contract import (
    ACCOUNT_CANCELLED,
    ACCOUNT_REGISTERED,
    SMS_CODE_ISSUED,
    AccountCancelled,
    AccountRegistered,
    SmsCodeIssued,
)
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.enrollment.contract import (
    DOCUMENT_MOVED,
    RESULT_PUBLISHED,
    REVIEW_OUTCOME,
    VERIFICATION_OUTCOME,
    DocumentMoved,
    ResultPublished,
    ReviewOutcome,
    VerificationOutcome,
)
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.notify import bootstrap, delivery
from services.notify.contract import SERVICE_NAME, DevMessage, NotifyRpc, SmsMessage
from services.notify.storage import Claim, MessageStore

log = logging.getLogger(__name__)

SMS_SENT = Counter("platform_sms_sent_total", "Text messages by outcome", ["purpose", "result"])

RETRY_DELAY_S = 20  # lets a provider outage pass; an SMS code stays valid for minutes
RETRY_BATCH = 100
KILL_WRITE_S = 1.0  # a kill must be quick: the last marks get one try this long


class SentMarks(DependencyProvider):
    """Marks delivered texts as sent every `interval_s`, and on stop, one statement for all.

    Marking each text on its own took an UPDATE and a commit per text, and would buy nothing:
    the mark is not what keeps a family from getting a text twice. What is handed to a backend
    is recorded before it can be forgotten, since the message is committed, pending under its
    sender's lease, before the backend is called (`record_event`, or `claim` in the retry
    loop). A text whose mark is lost (its process killed by SIGKILL, or dead before the batch
    was written) stays pending; once the lease runs out the retry loop sends it again under
    the same message id, and the provider refuses the repeat by its Idempotency-Key, the
    outbox file by the id already in it. A lost mark costs a refused resend, never a second
    text. Marks that cannot be written (the database is away) are tried again on the next
    round; a kill gives them one try of at most KILL_WRITE_S.
    """

    def __init__(self, interval_s: float = 0.2):
        self.interval_s = interval_s

    def setup(self):
        settings = settings_of(self.container)
        # Its own connection: on stop, the last marks are written while the service's pool
        # may already be closing.
        self.pool = autocommit_pool(settings.DATABASE_URL, "notify-sent-marks",
                                    min_size=1, max_size=1,
                                    reconnect_interval_s=settings.DATABASE_RECONNECT_INTERVAL_S)
        self.store = MessageStore(self.pool, settings.master_keys)
        self.pending: dict[str, datetime] = {}  # sent, not yet marked: message id -> when
        self.lock = eventlet.semaphore.Semaphore()
        self.running = False

    def start(self):
        self.pool.open(wait=True, timeout=30)
        self.running = True
        self.container.spawn_managed_thread(self._run, identifier="notify-sent-marks")

    def stop(self):
        self.running = False
        self.write()
        self.pool.close()

    def kill(self):
        self.running = False
        with eventlet.Timeout(KILL_WRITE_S, False):  # False: running out just ends the try
            self.write()
        self.pool.close(timeout=0)

    def get_dependency(self, worker_ctx):
        return self

    def add(self, message_id: str) -> None:
        self.pending[message_id] = datetime.now(UTC)

    def _run(self):
        while self.running:
            eventlet.sleep(self.interval_s)
            self.write()

    def write(self) -> None:
        """Marks stay pending until written: a failed round leaves them for the next one."""
        with self.lock:  # the last round, on stop, may come while the loop's is under way
            batch = dict(self.pending)
            if not batch:
                return
            try:
                self.store.mark_sent(batch)
            except Exception:
                log.warning("sent marks not written yet; will retry", exc_info=True)
                return
            for message_id in batch:
                del self.pending[message_id]


class NotifyService:
    name = SERVICE_NAME

    settings = Settings()
    app = Wiring(bootstrap.build)  # its messages and SMS backend
    request_id = Observability()
    sent_marks = SentMarks()

    @serve(NotifyRpc.ping)
    def ping(self):
        self.app.messages.ping()
        return Pong(service=SERVICE_NAME, ok=True)

    @serve(NotifyRpc.list_dev_messages)
    def list_dev_messages(self, limit: int):
        if self.settings.PLATFORM_ENV != "development" or self.settings.SMS_BACKEND != "outbox":
            raise DomainError("NOT_FOUND")
        entries = delivery.read_outbox_tail(self.settings.SMS_OUTBOX_PATH, limit)
        return [DevMessage(phone_masked=mask_phone(entry["phone"]), purpose=entry["purpose"],
                           text=entry["text"], sent_at=entry["sent_at"])
                for entry in entries]

    # Requeued on error: a database outage delays the text but does not lose it.
    @event_handler(ACCOUNTS, ACCOUNT_REGISTERED, reliable_delivery=True, requeue_on_error=True)
    def handle_account_registered(self, payload):
        event = parse_event(AccountRegistered, payload)
        if event is not None:
            self._text_guardian(ACCOUNT_REGISTERED, event,
                                delivery.account_number_text(event.account_no))

    @event_handler(ACCOUNTS, SMS_CODE_ISSUED, reliable_delivery=True, requeue_on_error=True)
    def handle_sms_code_issued(self, payload):
        """A code's text: sent once, and not at all once the code has expired."""
        event = parse_event(SmsCodeIssued, payload)
        if event is None or not event.deliver:  # withheld: nobody is owed this text
            return
        self._send_once(event.event_id, SMS_CODE_ISSUED, SmsMessage(
            message_id=event.message_id, phone=event.phone, purpose=event.purpose,
            text=event.text, not_after=event.not_after.isoformat()))

    @event_handler(ENROLLMENT, VERIFICATION_OUTCOME, reliable_delivery=True,
                   requeue_on_error=True)
    def handle_verification_outcome(self, payload):
        """The 身份证及户籍信息核验 outcome of the current version, texted once."""
        event = parse_event(VerificationOutcome, payload)
        if event is not None:
            self._text_guardian(VERIFICATION_OUTCOME, event,
                                delivery.verification_outcome_text(event.status))

    @event_handler(ENROLLMENT, REVIEW_OUTCOME, reliable_delivery=True, requeue_on_error=True)
    def handle_review_outcome(self, payload):
        """The district's 入学资格审核 decision, texted once."""
        event = parse_event(ReviewOutcome, payload)
        if event is not None:
            self._text_guardian(REVIEW_OUTCOME, event, delivery.review_outcome_text(event.status))

    @event_handler(ENROLLMENT, RESULT_PUBLISHED, reliable_delivery=True, requeue_on_error=True)
    def handle_result_published(self, payload):
        """The district published its results and the family has a place: texted once."""
        event = parse_event(ResultPublished, payload)
        if event is not None:
            self._text_guardian(RESULT_PUBLISHED, event, delivery.RESULT_PUBLISHED_TEXT)

    @event_handler(ENROLLMENT, DOCUMENT_MOVED, reliable_delivery=True, requeue_on_error=True)
    def handle_document_moved(self, payload):
        """The district moved a child's account to its real guardian: each phone texted once.
        Each text is recorded under a key of its own (the event id and who gets it), so a
        worker dying between the two leaves the second to the redelivery."""
        event = parse_event(DocumentMoved, payload)
        if event is None:
            return
        phones = {"former": event.former_phone, "claimant": event.claimant_phone}
        for party, text in delivery.document_moved_texts(event.account_no).items():
            if phones[party] is None:  # an application opened before the phone was kept
                continue
            self._send_once(f"{event.event_id}:{party}", DOCUMENT_MOVED, SmsMessage(
                message_id=f"evt-{event.event_id}-{party}", phone=phones[party],
                purpose="document_moved", text=text), event.account_no)

    def _text_guardian(self, event_type: str, event, text: str) -> None:
        """The one text an event owes the guardian (`event.guardian_phone`), its purpose named
        after the event."""
        self._send_once(event.event_id, event_type, SmsMessage(
            message_id=f"evt-{event.event_id}", phone=event.guardian_phone, purpose=event_type,
            text=text), event.account_no)

    def _send_once(self, event_id: str, event_type: str, sms: SmsMessage,
                   account_no: str | None = None) -> None:
        """Records the event's text and sends it: nothing if the event was seen, or if the
        account it is about (`account_no`) was cancelled meanwhile."""
        claim = self.app.messages.record_event(event_id, event_type, sms,
                                               _parse_not_after(sms.not_after), self._lease_s(),
                                               account_no)
        if claim is None:
            cancelled = account_no is not None and self.app.messages.was_cancelled(account_no)
            SMS_SENT.labels(sms.purpose, "cancelled" if cancelled else "duplicate").inc()
            return
        self._deliver(claim)

    @event_handler(ACCOUNTS, ACCOUNT_CANCELLED, reliable_delivery=True, requeue_on_error=True)
    def handle_account_cancelled(self, payload):
        """A cancelled family's texts are deleted with the rest of its data."""
        event = parse_event(AccountCancelled, payload)
        if event is not None:
            self.app.messages.forget_phone(event.event_id, ACCOUNT_CANCELLED, event.account_no,
                                           event.guardian_phone)

    @timer(interval=2)
    def retry_pending(self):
        """Sends what a crashed worker or a failed attempt left pending."""
        for message_id in self.app.messages.claimable(RETRY_BATCH):
            claim = self.app.messages.claim(message_id, self._lease_s())
            if claim:  # None: another instance took it meanwhile
                self._deliver(claim)

    @timer(interval=3600)
    def purge_unregistered(self):
        """Texts to phones that never registered are kept only SMS_RETENTION_DAYS."""
        forgotten = self.app.messages.purge_unregistered(self.settings.SMS_RETENTION_DAYS)
        if forgotten:
            log.info("texts to unregistered phones forgotten", extra={"count": forgotten})

    def _deliver(self, claim: Claim) -> str:
        """Sends a claimed message and records the outcome; returns the message's status."""
        if claim.expired:
            self.app.messages.mark_expired(claim.message_id)
            return _outcome(claim, "expired")
        try:
            self.app.backend.send(claim.message_id, claim.phone, claim.purpose,
                                  delivery.signed(self.settings.SMS_SIGNATURE, claim.text))
        except delivery.DeliveryFailed as exc:
            if not exc.permanent and claim.attempts < self.settings.SMS_HTTP_MAX_ATTEMPTS:
                self.app.messages.retry_later(claim.message_id, str(exc), RETRY_DELAY_S)
                log.warning("text not delivered yet, will retry",
                            extra=_log_fields(claim, str(exc)))
                return "pending"
            self.app.messages.mark_failed(claim.message_id, str(exc))
            return _outcome(claim, "failed", str(exc))
        self.sent_marks.add(claim.message_id)
        return _outcome(claim, "sent")

    def _lease_s(self) -> float:
        return self.app.backend.max_send_s + self.settings.SMS_LEASE_MARGIN_S




def _parse_not_after(value: str | None) -> datetime | None:
    """ISO-8601; a time without a zone is UTC, as the contract says."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError("VALIDATION_ERROR", fields={"not_after": "格式不正确。"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _outcome(claim: Claim, result: str, error: str | None = None) -> str:
    """Counts and logs a message's final status (never its phone or text)."""
    SMS_SENT.labels(claim.purpose, result).inc()
    level = logging.ERROR if result == "failed" else logging.INFO
    log.log(level, "text %s", result, extra=_log_fields(claim, error))
    return result


def _log_fields(claim: Claim, error: str | None) -> dict:
    return {"message_id": claim.message_id, "purpose": claim.purpose,
            "attempts": claim.attempts, "error": error}
