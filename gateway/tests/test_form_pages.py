"""The 学龄人口信息采集表 pages against recording stub clients: what each state of the form
shows, the download's headers and chunks, and the public check's refusals before any call."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from common.errors import DomainError
from common.throttle import Limit, MemoryCounter
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.web import base64_chunks, content_disposition
from services.accounts.contract import AccountsRpc, AccountView
from services.documents.contract import MAX_TOKEN, DocumentsRpc
from services.enrollment.bootstrap import form_view
from services.enrollment.contract import DetailsView, EnrollmentRpc
from services.enrollment.rules.season import load_season
from tests.e2e.test_pages import Page

FILE_NAME = "学龄人口信息采集表-27000001-第2版.pdf"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 600 + b"\n%%EOF\n"  # ~150 KB: several chunks
SEASON = load_season(2027)


class Transport:
    """Stands in for the RPC client under a typed one: records each call and answers from
    `replies` (a DomainError is raised, as a service's refusal would be)."""

    def __init__(self, **replies):
        self.replies = replies
        self.calls: list[tuple[str, tuple]] = []

    def call(self, method: str, *args, timeout=None):
        self.calls.append((method, args))
        reply = self.replies[method]
        if isinstance(reply, Exception):
            raise reply
        return reply


def account(hukou_type: str = "beijing") -> dict:
    return AccountView(
        account_no="27000001", district="haidian", district_name="海淀区",
        hukou_type=hukou_type, school_stage="primary", stage="details_pending",
        child_name="王*", document_type="resident_id", document_number="1101*************X",
        sex="male", guardian_name="王*", guardian_phone="138****5678",
        created_at="2027-05-06T08:00:00+00:00").model_dump(mode="json")


def details(submitted: bool) -> dict:
    state = {"details": "submitted", "details_label": "已提交", "version": 1,
             "verification": {"version": 1, "status": "pending", "label": "待验证"}} \
        if submitted else {"details": "draft", "details_label": "已暂存", "version": 0}
    return DetailsView(
        registration={"account_no": "27000001", "district": "haidian", "district_name": "海淀区",
                      "hukou_type": "beijing", "child_name": "王*",
                      "document_type": "resident_id", "document_number": "1101*************X",
                      "sex": "male"},
        state=state, form=form_view(SEASON.forms["beijing"]), data=None, actions=[],
        collection_period="2027年5月6日至5月31日").model_dump(mode="json")


def gateway(documents: Transport, submitted: bool = True, limit: int = 60):
    """The gateway's page handlers with stub accounts, enrollment and documents clients."""
    return worker_factory(
        GatewayService, settings=GatewaySettings(),
        accounts=AccountsRpc(Transport(get_account=account())),
        enrollment=EnrollmentRpc(Transport(get_details=details(submitted))),
        documents=DocumentsRpc(documents),
        verify_limit=MemoryCounter(Limit("verify_ip", limit, 60)))


def request(path: str, remote: str = "203.0.113.7"):
    builder = EnvironBuilder(path=path, headers={"Cookie": "sid=session-token"},
                             environ_base={"REMOTE_ADDR": remote})
    return builder.get_request()


def current_step(html: str) -> str:
    """The step bar's current step, as its label."""
    return re.search(r'aria-current="step">\s*<span class="num">\d</span>'
                     r'<span class="txt">([^<]+)', html).group(1)


def form_file(version: int = 2) -> dict:
    return {"file_name": FILE_NAME, "version": version, "issued_at": "2027-05-20T02:00:00+00:00",
            "size": len(PDF), "pdf_base64": base64.b64encode(PDF).decode()}


# the download ------------------------------------------------------------------------------

def test_the_file_name_is_sent_in_utf8_with_an_ascii_fallback():
    header = content_disposition(FILE_NAME, prefix="form")
    assert header.startswith('attachment; filename="form-27000001-2.pdf"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert encoded.isascii() and " " not in encoded and '"' not in encoded
    assert unquote(encoded, encoding="utf-8") == FILE_NAME
    assert content_disposition(FILE_NAME, inline=True).startswith(
        'inline; filename="file-27000001-2.pdf"; ')


@pytest.mark.parametrize("name, fallback", [
    ("学龄人口信息采集表.pdf", "form.pdf"),  # no ASCII word: the prefix alone
    ('a"b\\c;d.pdf', "form-a-b-c-d.pdf"),  # nothing that could end the quoted string
    ("采集表", "form.bin"),  # no extension
    ("表.p d f", "form-p-d-f.bin"),
])
def test_the_ascii_fallback_is_always_a_plain_quoted_name(name, fallback):
    header = content_disposition(name, prefix="form")
    assert header.split("; ")[1] == f'filename="{fallback}"'
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == name


def test_the_pdf_is_decoded_and_streamed_in_chunks():
    documents = Transport(get_form=form_file())
    response = gateway(documents).form_pdf(request("/form.pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.is_streamed and "Content-Length" not in response.headers
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    chunks = list(response.response)
    assert len(chunks) > 1 and b"".join(chunks) == PDF
    assert documents.calls == [("get_form", ({"account_no": "27000001"},))]


def test_the_preview_is_inline_and_framed_by_this_site_only():
    response = gateway(Transport(get_form=form_file())).form_pdf(request("/form.pdf?inline=1"))
    assert response.headers["Content-Disposition"].startswith("inline; ")
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


def test_a_form_no_longer_available_sends_the_family_back_to_its_page():
    documents = Transport(get_form=DomainError("FORM_NOT_AVAILABLE", "入学资格审核尚未通过。"))
    response = gateway(documents).form_pdf(request("/form.pdf"))
    assert response.status_code == 303 and response.headers["Location"].endswith("/form")


def test_base64_is_decoded_a_slice_at_a_time():
    text = base64.b64encode(PDF).decode()
    assert [len(chunk) for chunk in base64_chunks(text, 8)][:2] == [6, 6]
    assert b"".join(base64_chunks(text)) == PDF


# the page ----------------------------------------------------------------------------------

def test_before_it_may_print_the_page_says_what_is_missing_and_where_to_act():
    missing = "身份证及户籍信息尚未验证通过。"
    documents = Transport(get_form_status={"available": False, "missing": missing})
    response = gateway(documents).form_page(request("/form"))
    page = Page(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "暂不能打印学龄人口信息采集表。" in page.text and missing in page.text
    assert 'href="/status">查看信息审核状态</a>' in response.get_data(as_text=True)
    assert "下载学龄人口信息采集表" not in page.text and "<object" not in page.text
    assert current_step(response.get_data(as_text=True)) == "信息核验"  # where the family is
    assert documents.calls == [("get_form_status", ({"account_no": "27000001"},))]

    draft = gateway(Transport(get_form_status={"available": False, "missing": missing}),
                    submitted=False).form_page(request("/form")).get_data(as_text=True)
    assert 'href="/details">录入详细信息</a>' in draft


def test_once_it_may_print_the_page_shows_the_form_and_its_download():
    documents = Transport(get_form_status={"available": True, "version": 2,
                                           "file_name": FILE_NAME})
    html = gateway(documents).form_page(request("/form")).get_data(as_text=True)
    page = Page(html)
    assert '<a class="btn btn-primary" href="/form.pdf" download>下载学龄人口信息采集表</a>' in html
    assert '<object class="pdf-preview" data="/form.pdf?inline=1" type="application/pdf"' in html
    assert "在新页面中打开学龄人口信息采集表" in page.text  # without a PDF viewer
    assert "第2版" in page.text and FILE_NAME in page.text
    assert current_step(html) == "打印信息采集表"


# the public check ----------------------------------------------------------------------------

CHECK = {"version": 1, "issued_at": "2027-05-20T02:00:00+00:00", "child_name": "王**",
         "district_name": "海淀区"}


@pytest.mark.parametrize("check, shown, alert", [
    ({**CHECK, "status": "genuine"}, "真实有效，且为最新版本", "alert-success"),
    ({**CHECK, "status": "superseded", "current_version": 3}, "现为第3版", "alert-warning"),
    ({**CHECK, "status": "withdrawn", "child_name": None}, "已作废", "alert-error"),
])
def test_a_school_sees_the_printouts_state_and_nothing_personal(check, shown, alert):
    documents = Transport(check_form=check)
    response = gateway(documents).verify_page(request("/verify/tok"), "tok")
    html = response.get_data(as_text=True)
    page = Page(html)
    assert response.status_code == 200 and shown in page.text and f"alert {alert}" in html
    assert "第1版" in page.text and "2027-05-20 10:00:00（北京时间）" in page.text
    assert ("王**" in page.text) == (check["child_name"] is not None)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert documents.calls == [("check_form", ({"token": "tok"},))]


def test_a_token_no_printout_carries_is_refused_before_any_call_as_an_unknown_one_is():
    documents = Transport(check_form=DomainError("FORM_TOKEN_INVALID", "签名不符"))
    service = gateway(documents)
    unknown = service.verify_page(request("/verify/x"), "x")
    too_long = service.verify_page(request("/verify/…"), "A" * (MAX_TOKEN + 1))
    assert documents.calls == [("check_form", ({"token": "x"},))]  # the long one never left
    assert unknown.status_code == too_long.status_code == 404
    assert unknown.get_data() == too_long.get_data()  # the same page: nothing to learn
    assert "二维码无效或已被篡改" in Page(unknown.get_data(as_text=True)).text
    assert "签名不符" not in unknown.get_data(as_text=True)
    assert service.verify_page(request("/verify/…"), "A" * MAX_TOKEN).status_code == 404
    assert len(documents.calls) == 2  # the longest a printout carries is asked about


def test_checks_are_limited_per_client_address():
    documents = Transport(check_form={**CHECK, "status": "genuine"})
    service = gateway(documents, limit=2)
    statuses = [service.verify_page(request("/verify/t"), "t").status_code for _ in range(3)]
    limited = service.verify_page(request("/verify/t"), "t")
    assert statuses == [200, 200, 429] and len(documents.calls) == 2
    assert "操作过于频繁" in Page(limited.get_data(as_text=True)).text
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Referrer-Policy"] == "no-referrer"
    neighbour = service.verify_page(request("/verify/t", "203.0.113.8"), "t")
    assert neighbour.status_code == 200  # another client has its own count


def test_the_memory_counter_keeps_only_the_current_window():
    counter = MemoryCounter(Limit("verify_ip", 1, 60))
    minute = datetime(2027, 5, 6, 1, 59, 30, tzinfo=UTC)
    counter.attempt("a", minute)
    with pytest.raises(DomainError) as caught:
        counter.attempt("a", minute)
    assert caught.value.code == "RATE_LIMITED" and caught.value.extra["retry_after_s"] == 30
    counter.attempt("a", minute.replace(minute=0, hour=2))  # the next minute
    assert list(counter._counts) == ["a"]
