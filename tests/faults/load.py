"""Registration load as families bring it: each client registers one family after another over
the JSON API, from its own loopback address, and behaves as the pages do when the outcome is
unknown (a 503, a timeout, no connection): it waits `retry_after_s` and sends the same request
again with the same Idempotency-Key, until the answer is final. Every HTTP answer is recorded
(status, time taken); every family's end (account number, refusal or none)."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import requests

from services.accounts.rules.identity import check_character
from tests.support.clients import client_session, loopback_address
from tests.support.family import unique_phone

NO_CONNECTION = "no connection"  # the gateway itself was down: nothing answered
TIMED_OUT = "timed out"  # no answer within the deadline plus a margin: a defect
CODE_WAIT_S = 30  # a code is texted a moment after it is asked for, later after a crash
GIVE_UP_S = 120  # a family keeps retrying for this long before its outcome stays unknown


_documents = itertools.count()


def child_document() -> tuple[date, str, str]:
    """Birth date, sex and a document number no other family of the run has (sequences from
    100 on: the demo family `make run` registers has a lower one)."""
    n = next(_documents)
    birth, sequence = date(2020, 9, 1) + timedelta(days=n // 900 % 365), 100 + n % 900
    first17 = f"110108{birth:%Y%m%d}{sequence:03d}"
    return birth, "male" if sequence % 2 else "female", first17 + check_character(first17)


@dataclass
class Answer:
    path: str
    started: float  # time.monotonic()
    seconds: float
    status: int | str  # an HTTP status, NO_CONNECTION or TIMED_OUT


@dataclass
class FamilyEnd:
    phone: str
    started: float
    account_no: str | None = None  # set by a 201
    refused: str | None = None  # the error code of a final 4xx
    unknown: bool = False  # still no final answer after GIVE_UP_S
    no_code: bool = False  # the code's text never came, so it could not register


class Outbox:
    """The development SMS outbox (one JSON line per text), read incrementally."""

    def __init__(self, path: Path):
        self.path = path
        self._offset = 0
        self._lock = threading.Lock()
        self.texts: list[dict] = []
        self._by_phone: dict[str, list[dict]] = {}

    def refresh(self) -> None:
        with self._lock:
            if not self.path.exists():
                return
            with self.path.open("rb") as outbox:
                outbox.seek(self._offset)
                chunk = outbox.read()
            complete = chunk[:chunk.rfind(b"\n") + 1]  # a line being written waits
            self._offset += len(complete)
            for line in complete.decode().splitlines():
                text = json.loads(line)
                self.texts.append(text)
                self._by_phone.setdefault(text["phone"], []).append(text)

    def code_for(self, phone: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.refresh()
            codes = [t for t in self._by_phone.get(phone, []) if t["purpose"] == "register"]
            if codes:
                return re.search(r"\d{6}", codes[-1]["text"]).group()
            time.sleep(0.2)
        return None

    def account_texts(self) -> dict[str, int]:
        """Account number -> how many account-number texts carry it."""
        self.refresh()
        counts: dict[str, int] = {}
        for text in self.texts:
            if text["purpose"] == "account_registered":
                account_no = re.search(r"\d{8}", text["text"]).group()
                counts[account_no] = counts.get(account_no, 0) + 1
        return counts


@dataclass
class Window:
    """What one stretch of load brought: every answer and every family's end."""
    answers: list[Answer] = field(default_factory=list)
    families: list[FamilyEnd] = field(default_factory=list)


class RegistrationLoad:
    def __init__(self, url: str, outbox: Outbox, deadline_s: float, clients: int = 8,
                 families_per_s: float = 7.0):
        self.url = url
        self.outbox = outbox
        self.deadline_s = deadline_s
        self.clients = clients
        self.interval_s = clients / families_per_s  # each client's pace
        self._running = False
        self._threads: list[threading.Thread] = []
        self.window = Window()

    def start(self) -> None:
        self.window, self._running = Window(), True
        self._threads = [threading.Thread(target=self._client, daemon=True)
                         for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> Window:
        """Starts no new family; waits for those under way to reach their end."""
        self._running = False
        for thread in self._threads:
            thread.join(GIVE_UP_S + CODE_WAIT_S + 60)
        return self.window

    def _client(self) -> None:
        http = client_session(loopback_address())
        while self._running:
            started = time.monotonic()
            self.window.families.append(self._register_one(http))
            time.sleep(max(0.0, started + self.interval_s - time.monotonic()))

    def _call(self, http, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = http.request(method, self.url + path, timeout=self.deadline_s + 5,
                                    **kwargs)
            status = response.status_code
        except requests.Timeout:
            response, status = None, TIMED_OUT
        except requests.ConnectionError:
            response, status = None, NO_CONNECTION
        self.window.answers.append(Answer(path, started, time.monotonic() - started, status))
        return response

    def _until_final(self, http, method: str, path: str, **kwargs) -> requests.Response | None:
        """The same request until its answer is final (not a 503, 429, timeout or no
        connection); None if there is none within GIVE_UP_S."""
        give_up = time.monotonic() + GIVE_UP_S
        while time.monotonic() < give_up:
            response = self._call(http, method, path, **kwargs)
            if response is not None and response.status_code not in (429, 503):
                return response
            retry_after = 1.0
            if response is not None:
                retry_after = float(response.json().get("retry_after_s") or 1)
            time.sleep(min(retry_after, 5.0))
        return None

    def _code(self, http, phone: str) -> str | None:
        """The family asks for a code until one reaches its phone. Each try takes a new captcha
        (a try spends its captcha, even one whose answer was lost or refused), and a family
        whose answer was lost looks at its phone before asking again: the code may have come."""
        give_up = time.monotonic() + GIVE_UP_S
        while time.monotonic() < give_up:
            captcha = self._until_final(http, "POST", "/api/v1/captchas")
            if captcha is None:
                return None
            asked = self._call(http, "POST", "/api/v1/sms-codes", json={
                "purpose": "register", "phone": phone, "captcha_id": captcha.json()["captcha_id"],
                "captcha_answer": "2468"})
            if asked is not None and asked.status_code not in (429, 503) and \
                    asked.json().get("code") != "CAPTCHA_INVALID":
                return self.outbox.code_for(phone, CODE_WAIT_S) if asked.ok else None
            retry_after = 1.0 if asked is None else float(asked.json().get("retry_after_s") or 1)
            code = self.outbox.code_for(phone, min(retry_after, 5.0))
            if code is not None:
                return code
        return None

    def _register_one(self, http) -> FamilyEnd:
        phone = unique_phone()
        family = FamilyEnd(phone, time.monotonic())
        notice = self._until_final(http, "GET", "/api/v1/notice")
        code = self._code(http, phone) if notice is not None else None
        if code is None:
            family.no_code = True
            return family
        notice = notice.json()
        birth, sex, document_number = child_document()
        body = {
            "district": "haidian", "hukou_type": "beijing", "child_name": "李小萌",
            "document_type": "resident_id", "document_number": document_number,
            "sex": sex, "birth_date": birth.isoformat(), "hukou_district": "haidian",
            "residence_district": "haidian", "residence_address": "海淀区中关村大街1号",
            "guardian_name": "李大伟", "guardian_relation": "father", "guardian_phone": phone,
            "password": "Spring2027a", "password_confirm": "Spring2027a", "sms_code": code,
            "notice_token": notice["notice_token"], "privacy_consent": True,
            "privacy_policy_version": notice["privacy_policy_version"]}
        registered = self._until_final(http, "POST", "/api/v1/accounts", json=body,
                                       headers={"Idempotency-Key": str(uuid.uuid4())})
        if registered is None:
            family.unknown = True
        elif registered.status_code == 201:
            family.account_no = registered.json()["account_no"]
        else:
            family.refused = registered.json()["code"]
        return family
