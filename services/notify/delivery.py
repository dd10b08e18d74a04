"""Getting a text to a phone: the SMS backends, the texts notify writes, the development outbox.

Plain code without nameko: the service decides when to send and records what happened.
Nothing here logs or raises with a phone number or a text in it, except the development
outbox, which prints what it "sends" (it is refused in production).
"""

from __future__ import annotations

import collections
import fcntl
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import requests
import tenacity

BACKOFF_MAX_S = 4.0
log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The text did not reach the provider. The message (stored as last_error) names only an
    HTTP status or an error class; `permanent` says that trying again cannot help."""

    def __init__(self, reason: str, permanent: bool):
        super().__init__(reason)
        self.permanent = permanent


class OutboxFileBackend:
    """Development: each text becomes one JSON line in a file instead of an SMS.

    Like a provider answering a repeated Idempotency-Key, it sends a message id once: a resend
    after a crash finds the id in the file and writes nothing. That holds across restarts and
    for several processes on one file, as each send looks under an exclusive lock on the file
    (flock) at the lines appended since it last looked, then appends.
    """

    max_send_s = 5.0  # the lines appended since the last send, and one append

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # This process's senders queue here (a green wait, and it guards the two below); other
        # processes' on the file's lock.
        self._lock = threading.Lock()
        self._sent: set[str] = set()  # message ids in the file
        self._read_to = 0  # bytes of the file read into `_sent`

    def send(self, message_id: str, phone: str, purpose: str, text: str) -> None:
        line = json.dumps({"message_id": message_id, "phone": phone, "purpose": purpose,
                           "text": text, "sent_at": datetime.now(UTC).isoformat()},
                          ensure_ascii=False)
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a+b") as outbox:
                    fcntl.flock(outbox, fcntl.LOCK_EX)  # released by closing
                    tail = self._read_new(outbox)
                    if message_id in self._sent:
                        log.info("development SMS sent before", extra={"message_id": message_id})
                        return
                    # After a line cut short by a crash, this one starts a line of its own.
                    start = "\n" if tail and not tail.endswith(b"\n") else ""
                    # Closing hands the line to the OS before "sent" is recorded, so a crash of
                    # this process loses nothing. No fsync: it would stall the whole event loop
                    # on the disk, and this development backend need not survive power loss.
                    outbox.write(f"{start}{line}\n".encode())
        except OSError as exc:
            raise DeliveryFailed(type(exc).__name__, permanent=False) from None
        # Development only (production refuses this backend): the text, code included, is
        # printed to the log too, so a newcomer can register from the terminal.
        log.info("development SMS", extra={"phone": phone, "purpose": purpose,
                                           "sms_text": text})

    def _read_new(self, outbox) -> bytes:
        """Adds the ids of the lines appended since the last look, by any process, to `_sent`
        and returns those lines. The next look starts after the last whole line (this one's
        own line is read then)."""
        if outbox.seek(0, os.SEEK_END) < self._read_to:  # emptied or replaced: start over
            self._sent.clear()
            self._read_to = 0
        outbox.seek(self._read_to)
        tail = outbox.read()
        self._read_to += tail.rfind(b"\n") + 1
        for entry in tail.splitlines():
            try:
                self._sent.add(json.loads(entry)["message_id"])
            except ValueError:  # a line cut short by a crash
                continue
        return tail


class _Retryable(Exception):
    """The network or the provider may recover: worth another attempt."""


class HttpBackend:
    """An SMS provider's JSON API. The provider dedupes on Idempotency-Key, so a retry after
    a lost reply, or a resend after a crash, does not text the guardian twice."""

    def __init__(self, url: str, token: str, timeout_s: float, max_attempts: int,
                 backoff_s: float = 0.5):
        self.url = url
        self.timeout_s = timeout_s
        # Connecting and reading each get timeout_s, then a pause before the next attempt.
        self.max_send_s = max_attempts * (2 * timeout_s + BACKOFF_MAX_S)
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(max_attempts),
            wait=tenacity.wait_exponential(multiplier=backoff_s, max=BACKOFF_MAX_S),
            reraise=True)

    def send(self, message_id: str, phone: str, purpose: str, text: str) -> None:
        try:
            # A copy per send: the retry state belongs to this send only.
            self._retrying.copy()(self._post, message_id, phone, text)
        except _Retryable as exc:
            raise DeliveryFailed(str(exc), permanent=False) from None

    def _post(self, message_id: str, phone: str, text: str) -> None:
        try:
            response = self._session.post(
                self.url, json={"message_id": message_id, "phone": phone, "text": text},
                headers={"Idempotency-Key": message_id}, timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retryable(type(exc).__name__) from None
        except requests.RequestException as exc:  # e.g. an invalid URL: retrying cannot help
            raise DeliveryFailed(type(exc).__name__, permanent=True) from None
        status = response.status_code
        if status >= 500 or status == 429:  # 429: the provider asks us to slow down
            raise _Retryable(f"HTTP {status}")
        if status >= 400:
            raise DeliveryFailed(f"HTTP {status}", permanent=True)


def backend_from_settings(settings) -> OutboxFileBackend | HttpBackend:
    if settings.SMS_BACKEND == "http":
        return HttpBackend(settings.SMS_HTTP_URL, settings.SMS_HTTP_TOKEN,
                           settings.SMS_HTTP_TIMEOUT_S, settings.SMS_HTTP_MAX_ATTEMPTS)
    return OutboxFileBackend(settings.SMS_OUTBOX_PATH)


def read_outbox_tail(path: str | Path, limit: int) -> list[dict]:
    """The last `limit` texts of the outbox file, newest first; none if there is no file."""
    try:
        with open(path, encoding="utf-8") as outbox:
            lines = collections.deque(outbox, maxlen=limit)
    except FileNotFoundError:
        return []
    entries = []
    for line in reversed(lines):
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut short by a crash
            continue
    return entries


def account_number_text(account_no: str) -> str:
    return f"信息注册成功，您的账号为：{account_no}。此账号为登录账号，请妥善保存。"


VERIFICATION_OUTCOME_TEXTS = {
    "verified": "您提交的适龄儿童身份证及户籍信息已验证通过。"
                "请登录北京市义务教育入学服务平台查看后续步骤。",
    "failed": "您提交的适龄儿童身份证及户籍信息未通过验证，"
              "请登录北京市义务教育入学服务平台查看原因并按提示处理。",
}


def verification_outcome_text(status: str) -> str:
    """The 身份证及户籍信息核验 outcome (verified or failed): no personal data, the reasons
    are on the family's page."""
    return VERIFICATION_OUTCOME_TEXTS[status]


REVIEW_OUTCOME_TEXTS = {
    "approved": "您提交的非本市户籍适龄儿童入学资格审核已通过。"
                "请登录北京市义务教育入学服务平台查看后续步骤。",
    "returned": "您提交的非本市户籍适龄儿童入学资格审核未通过，"
                "请登录北京市义务教育入学服务平台查看未通过的材料和原因，并在信息采集截止前修改后重新提交。",
}


def review_outcome_text(status: str) -> str:
    """The 入学资格审核 outcome (approved or returned): no personal data, the items and
    reasons are on the family's page."""
    return REVIEW_OUTCOME_TEXTS[status]


# No school in the text: the result is on the family's page, behind its sign-in.
RESULT_PUBLISHED_TEXT = ("区教委已公布入学结果。请登录北京市义务教育入学服务平台，"
                         "点击“查看入学结果”查看入学学校、报到时间和须携带的材料。")

def document_moved_texts(account_no: str) -> dict[str, str]:
    """The district moved a child's account to its real guardian: a text for each side, keyed
    by who gets it (the former holder, the claimant). The account number, no child's name."""
    return {
        "former": f"您注册的账号{account_no}中的儿童证件经区教委核实已移交其监护人，"
                  "该账号您已不能登录。如有疑问请咨询入学所在区教委。",
        "claimant": f"区教委已核实您为儿童监护人，账号{account_no}已移交给您，"
                    "请在平台通过“忘记密码”设置密码后登录。",
    }


def signed(signature: str, text: str) -> str:
    """Every text goes out under the platform's signature, as carriers require."""
    return text if text.startswith(signature) else signature + text
