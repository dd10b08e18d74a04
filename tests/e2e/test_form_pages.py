"""The 学龄人口信息采集表 on the running platform (the guide's 四 打印信息采集表): the page says
what is missing until the family may print; then the download is the PDF under its Chinese
name, and a school scanning the printout's QR code (/verify/<token>) reads genuine, superseded
once the family resubmits, withdrawn once it cancels, and one page for any token that is not a
printout's; scans are limited per client address."""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

import requests

from services.documents.contract import MAX_TOKEN
from services.documents.tests.test_service import codes_on_page_one
from tests.e2e.test_details import (
    application,
    beijing_details,
    cancelled_by_family,
    registered,
    verification_settles,
)
from tests.e2e.test_pages import Page
from tests.support.family import Family
from tests.support.registry import child_record, registry_holds


def printed_token(pdf: bytes) -> str:
    """The token a school's phone reads off the printout's QR code (page 1 at 150 dpi)."""
    with tempfile.TemporaryDirectory() as scratch:
        url = codes_on_page_one(pdf, Path(scratch))["QRCode"]
    assert "/verify/" in url, url
    return url.rsplit("/", 1)[1]


def submitted_and_verified(family: Family, version: int) -> None:
    response = family.call("POST", "/api/v1/application/submissions",
                           json={"data": beijing_details()})
    assert response.status_code == 201, response.text
    check = verification_settles(family, version)["state"]["verification"]
    assert check["status"] == "verified", check


def verified_family(stack) -> tuple[Family, dict, str]:
    """A 本市户籍 family whose first submission was verified: it may print."""
    family, body, account_no = registered(stack)
    registry_holds(stack, child_record(body))
    application(family)
    submitted_and_verified(family, 1)
    return family, body, account_no


def form_status(family: Family, available: bool, version: int | None = None,
                timeout: float = 30) -> dict:
    """GET /api/v1/application/form once it says `available` (and `version`): documents learns
    of submissions and checks a moment after enrollment does."""
    deadline = time.monotonic() + timeout
    while True:
        response = family.call("GET", "/api/v1/application/form")
        assert response.status_code == 200, response.text
        status = response.json()
        if status["available"] == available and version in (None, status["version"]):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.3)


def download(family: Family) -> requests.Response:
    response = family.call("GET", "/form.pdf", allow_redirects=False)
    assert response.status_code == 200, response.text[:300]
    return response


def school_reads(stack, token: str, verdict: str, timeout: float = 30) -> str:
    """The text a school's phone (a client of its own) reads on /verify/<token>, once it says
    `verdict` (documents learns of resubmissions and cancellations from events)."""
    school = Family(stack)
    deadline = time.monotonic() + timeout
    while True:
        response = school.call("GET", f"/verify/{token}")
        text = Page(response.text).text
        if verdict in text:
            assert response.status_code == 200
            assert response.headers["Referrer-Policy"] == "no-referrer"
            assert response.headers["Cache-Control"] == "no-store"
            assert "Set-Cookie" not in response.headers
            return text
        assert time.monotonic() < deadline, text
        time.sleep(0.5)


def test_before_verification_the_page_says_what_is_missing(stack):
    family, _, _ = registered(stack)
    application(family)
    status = form_status(family, available=False)
    assert status["missing"]

    response = family.call("GET", "/form")
    page = Page(response.text)
    assert response.status_code == 200
    assert "暂不能打印学龄人口信息采集表。" in page.text and status["missing"] in page.text
    assert 'href="/details">录入详细信息</a>' in response.text
    assert "下载学龄人口信息采集表" not in page.text
    assert 'href="/form"' not in family.call("GET", "/home").text  # the step is not open

    page_download = family.call("GET", "/form.pdf", allow_redirects=False)
    assert page_download.status_code == 303 and page_download.headers["Location"].endswith(
        "/form")
    api = family.call("GET", "/api/v1/application/form.pdf")
    assert (api.status_code, api.json()["code"]) == (409, "FORM_NOT_AVAILABLE")
    assert api.json()["message"]


def test_the_printed_form_is_checked_genuine_then_superseded_then_withdrawn(stack):
    family, body, account_no = verified_family(stack)
    status = form_status(family, available=True, version=1)
    file_name = f"学龄人口信息采集表-{account_no}-第1版.pdf"
    assert status["file_name"] == file_name

    home = family.call("GET", "/home").text
    assert '<a class="btn btn-primary" href="/form">打印信息采集表</a>' in home
    page = family.call("GET", "/form").text
    assert "下载学龄人口信息采集表" in page and 'data="/form.pdf?inline=1"' in page

    printed = download(family)
    assert printed.headers["Content-Type"] == "application/pdf"
    assert printed.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in printed.headers
    assert printed.headers["Cache-Control"] == "private, no-store"
    disposition = printed.headers["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="form-{account_no}-1.pdf"; ')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == file_name
    assert printed.content.startswith(b"%PDF-") and b"%%EOF" in printed.content[-1024:]
    api = family.call("GET", "/api/v1/application/form.pdf")
    assert api.status_code == 200 and api.content == printed.content  # rendered once, kept
    token = printed_token(printed.content)

    text = school_reads(stack, token, "真实有效，且为最新版本")
    assert "第1版" in text and "海淀区" in text and "（北京时间）" in text
    assert body["child_name"] not in text and body["child_name"][0] in text  # masked
    assert body["document_number"][-6:] not in text and body["guardian_phone"] not in text

    withdrawn = family.call("DELETE", "/api/v1/application/submissions/current")
    assert withdrawn.status_code == 200, withdrawn.text
    submitted_and_verified(family, 2)
    form_status(family, available=True, version=2)
    text = school_reads(stack, token, "已不是最新版本")
    assert "现为第2版" in text and "请家长重新打印最新的学龄人口信息采集表" in text
    newer = printed_token(download(family).content)
    assert newer != token
    school_reads(stack, newer, "真实有效，且为最新版本")

    cancelled_by_family(stack, family, body["guardian_phone"])
    text = school_reads(stack, newer, "已作废")
    assert body["child_name"][0] not in text  # nothing of the family once it cancelled
    assert "已作废" in school_reads(stack, token, "已作废")


def test_an_altered_token_reads_as_a_random_one(stack):
    family, _, _ = verified_family(stack)
    form_status(family, available=True)
    token = printed_token(download(family).content)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    school = Family(stack)
    answers = [school.call("GET", f"/verify/{candidate}") for candidate in (
        altered, secrets.token_urlsafe(32), "x", "A" * (MAX_TOKEN + 1))]
    assert [answer.status_code for answer in answers] == [404] * 4
    assert len({answer.content for answer in answers}) == 1  # one page: nothing to learn
    text = Page(answers[0].text).text
    assert "无法核验该信息采集表：二维码无效或已被篡改。" in text
    assert all(answer.headers["Referrer-Policy"] == "no-referrer" for answer in answers)


def test_scans_are_limited_per_client_address(stack):
    """Tokens no printout carries cost no call: each scan still counts."""
    guesser, school = Family(stack), Family(stack)
    statuses = []
    while len(statuses) < 150 and 429 not in statuses:  # a minute's turn may reset it once
        statuses.append(guesser.call("GET", "/verify/" + "A" * (MAX_TOKEN + 1)).status_code)
    assert statuses[-1] == 429 and set(statuses[:-1]) == {404}
    limited = guesser.call("GET", "/verify/x")
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    assert "操作过于频繁，请稍后再试。" in Page(limited.text).text
    assert school.call("GET", "/verify/x").status_code == 404  # its own count
