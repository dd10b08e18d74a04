"""A family using the JSON API: valid identities and the steps every test repeats."""

from __future__ import annotations

import itertools
import random
import time
from datetime import date

import requests

from services.accounts.rules.identity import check_character
from tests.support.clients import client_session, loopback_address

_serial = itertools.count(random.randrange(10**6))


def id_number(birth: date = date(2020, 9, 1), sex: str = "male", region: str = "110108") -> str:
    """A valid, unique GB 11643 number for the given birth date and sex."""
    sequence = next(_serial) % 500 * 2 + (1 if sex == "male" else 0)
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def unique_phone() -> str:
    return f"13{random.randrange(10**9):09d}"


class Family:
    """One browser-less client with its own cookie jar and client address."""

    def __init__(self, stack, ip: str | None = None):
        self.stack = stack
        self.ip = ip or loopback_address()
        self.http = client_session(self.ip)
        self.csrf = None

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.http.request(method, self.stack.url + path, headers=headers, timeout=30,
                                 **kwargs)

    def call_in_turn(self, method: str, path: str, **kwargs) -> requests.Response:
        """`call`, as a client that honours the waiting room: while the answer is 503 QUEUED,
        waits its retry_after_s and asks again with its ticket (the body as first sent is
        kept by the gateway, so it sends none). The final answer."""
        response = self.call(method, path, **kwargs)
        while response.status_code == 503 and response.json()["code"] == "QUEUED":
            waiting = response.json()
            time.sleep(waiting["retry_after_s"])
            response = self.call(method, path,
                                 headers={"X-Queue-Ticket": waiting["queue_ticket"]})
        return response

    def captcha(self) -> dict:
        captcha = self.call("POST", "/api/v1/captchas").json()
        return {"captcha_id": captcha["captcha_id"], "captcha_answer": "2468"}

    def request_code(self, purpose: str, **fields) -> requests.Response:
        return self.call("POST", "/api/v1/sms-codes",
                         json={"purpose": purpose, **self.captcha(), **fields})

    def read_notice(self) -> dict:
        notice = self.call("GET", "/api/v1/notice").json()
        self._notice_read_at = time.monotonic() + notice["min_read_s"]
        return notice

    def registration(self, **overrides) -> dict:
        """A complete, valid registration body (notice read, SMS code received)."""
        notice = self.read_notice()
        phone = overrides.get("guardian_phone") or unique_phone()
        birth = date.fromisoformat(overrides.get("birth_date", "2020-09-01"))
        body = {
            "district": "haidian", "hukou_type": "beijing", "child_name": "李小萌",
            "document_type": "resident_id", "document_number": id_number(birth, "female"),
            "sex": "female", "birth_date": birth.isoformat(), "hukou_district": "haidian",
            "residence_district": "haidian", "residence_address": "海淀区中关村大街1号",
            "guardian_name": "李大伟", "guardian_relation": "father", "guardian_phone": phone,
            "password": "Spring2027a", "password_confirm": "Spring2027a",
            "notice_token": notice["notice_token"], "privacy_consent": True,
            "privacy_policy_version": notice["privacy_policy_version"],
        }
        body.update(overrides)
        if "sms_code" not in overrides:
            response = self.request_code("register", phone=phone)
            assert response.status_code == 201, response.text
            body["sms_code"] = self.stack.latest_code(phone, "register")
        time.sleep(max(0.0, self._notice_read_at - time.monotonic()))
        return body

    def register(self, **overrides) -> requests.Response:
        response = self.call("POST", "/api/v1/accounts", json=self.registration(**overrides))
        if response.status_code == 201:
            self.csrf = response.json()["csrf_token"]
        return response

    def registers_and_is_texted(self) -> None:
        """Registers and receives the account number's text: the RPCs, their replies and the
        outbox's events all go through."""
        registration = self.registration()
        response = self.call("POST", "/api/v1/accounts", json=registration)
        assert response.status_code == 201, response.text
        texts = self.stack.wait_sms(registration["guardian_phone"], "account_registered")
        assert response.json()["account_no"] in texts[0]["text"]

    def login(self, account_no: str, password: str) -> requests.Response:
        response = self.call("POST", "/api/v1/sessions", json={
            "account_no": account_no, "password": password, **self.captcha()})
        if response.status_code == 201:
            self.csrf = response.json()["csrf_token"]
        return response
