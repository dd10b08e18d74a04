"""The documents service as it runs: real RabbitMQ (a vhost of the test's own, each process
logged in as its own user with its own permissions), real PostgreSQL, a real enrollment service;
families' applications made through enrollment's use cases. The PDF is read back as a school
and a parent would: its text (pypdf), its fonts (pdffonts), its codes scanned from a 150 dpi
image of page 1 (pdftoppm, zxing-cpp)."""

from __future__ import annotations

import base64
import io
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import psycopg_pool
import pytest
import zxingcpp
from nameko.standalone.events import event_dispatcher
from PIL import Image
from pypdf import PdfReader

from common.edge.rpc import StandaloneRpc
from common.errors import DomainError
from common.settings import role_url
from services.accounts.contract import ACCOUNT_CANCELLED
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.documents.contract import DocumentsRpc, FormRef, TokenRef
from services.documents.service import DocumentsService
from services.documents.settings import DocumentsSettings
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.enrollment.contract import VERIFICATION_OUTCOME
from services.enrollment.service import EnrollmentService
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.storage import Keys, Store
from services.enrollment.tests.samples import (
    ALWAYS_OPEN,
    CHILD_ID,
    FATHER_ID,
    Clock,
    details_for,
    registration,
)
from services.enrollment.usecases import details, review, verification_results
from services.enrollment.usecases.context import Context
from tests.support.infra import running_service, settings_for

BASE = "https://schools.example.org"
BEIJING, NON_BEIJING = "27100001", "27100002"


@pytest.fixture
def platform(own_vhost, schemas):
    """enrollment and documents running as their own broker users; (the gateway's client of
    documents, the enrollment use cases' context, the broker users)."""
    guest, users = own_vhost
    enrollment = settings_for(EnrollmentSettings, schemas, users["enrollment"],
                              SEASON_PHASES="open")
    documents = settings_for(DocumentsSettings, schemas, users["documents"],
                             PUBLIC_BASE_URL=BASE, DOCUMENTS_RENDER_WORKERS=1,
                             DOCUMENTS_RENDERS_PER_WORKER=2)
    with psycopg_pool.ConnectionPool(role_url(schemas, EnrollmentSettings.DATABASE_ROLE),
                                     min_size=1, max_size=2, kwargs={"autocommit": True}) as pool, \
            running_service(EnrollmentService, enrollment), \
            running_service(DocumentsService, documents):
        rpc = StandaloneRpc(users["gateway"], "documents", "gateway", 60)
        context = Context(Store(pool, Keys(enrollment.master_keys)), ALWAYS_OPEN, Clock())
        yield DocumentsRpc(rpc), context, users
        rpc.close()


def submitted(context, account_no, hukou_type, verified=True):
    details.open_application(context, registration(hukou_type, "chaoyang", account_no,
                                                   guardian_phone="13800138000"))
    details.submit(context, account_no, details_for(hukou_type))
    if verified:
        verification_results.apply_result(context, account_no, 1, True)


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as refusal:
        call()
    return refusal.value


def codes_on_page_one(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    """What a scanner reads off page 1 printed at 150 dpi: format -> text."""
    (tmp_path / "form.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", "-singlefile",
                    str(tmp_path / "form.pdf"), str(tmp_path / "page")], check=True)
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    return {code.format.name: code.text for code in found}


def pdf_text(pdf: bytes) -> str:
    """Every page's text, without the line breaks and spaces of the layout (a long value
    wraps in its cell, a title is letter-spaced)."""
    return "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
                   .split())


def fonts_of(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    (tmp_path / "fonts.pdf").write_bytes(pdf)
    lines = subprocess.run(["pdffonts", str(tmp_path / "fonts.pdf")], check=True,
                           capture_output=True, text=True).stdout.splitlines()[2:]
    return [line.split() for line in lines]


def wait_for(condition, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def stored_forms(database_url) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT account_no, version FROM documents.forms").fetchall()


def test_a_familys_form_from_verification_to_cancellation(platform, schemas, tmp_path):
    documents, context, users = platform
    submitted(context, BEIJING, "beijing", verified=False)
    ref = FormRef(account_no=BEIJING)

    # Before verification: refused, saying what is missing
    assert documents.get_form_status(ref).model_dump(exclude_none=True) == {
        "available": False, "missing": "身份证及户籍信息尚未验证通过。"}
    refusal = refused(lambda: documents.get_form(ref))
    assert refusal.code == "FORM_NOT_AVAILABLE"
    assert "身份证及户籍信息尚未验证通过" in refusal.message

    verification_results.apply_result(context, BEIJING, 1, True)
    status = documents.get_form_status(ref)
    assert status.available and status.version == 1
    assert status.file_name == "学龄人口信息采集表-27100001-第1版.pdf"
    form = documents.get_form(ref)
    pdf = base64.b64decode(form.pdf_base64)
    assert pdf.startswith(b"%PDF") and form.size == len(pdf) <= 200_000

    # A4 portrait on every page (595 × 842 pt): what a browser's print of the PDF puts on paper
    sizes = {(round(float(page.mediabox.width)), round(float(page.mediabox.height)))
             for page in PdfReader(io.BytesIO(pdf)).pages}
    assert sizes == {(595, 842)}, sizes
    text = pdf_text(pdf)
    for printed in (BEIJING, CHILD_ID, FATHER_ID, "张小明", "第1版", "户籍详细地址",
                    "朝阳区呼家楼街道金台里社区3号楼", "不动产权证书", "身份证及户籍信息已验证"):
        assert printed in text, printed
    fonts = fonts_of(pdf, tmp_path)
    assert fonts and all(row[-5:-2] == ["yes", "yes", "yes"] for row in fonts), fonts
    assert {row[0].split("+")[1] for row in fonts} == {"Noto-Sans-CJK-SC"}
    assert all(len(row[0].split("+")[0]) == 6 for row in fonts)  # a subset's tag

    codes = codes_on_page_one(pdf, tmp_path)
    assert codes["Code128"] == BEIJING
    assert codes["QRCode"].startswith(f"{BASE}/verify/")
    token = codes["QRCode"].rsplit("/", 1)[1]

    # The same version and data: the same bytes, from the cache
    again = documents.get_form(ref)
    assert again.pdf_base64 == form.pdf_base64 and again.issued_at == form.issued_at

    check = documents.check_form(TokenRef(token=token))
    assert check.status == "genuine" and check.version == 1
    assert check.child_name == "张**" and check.district_name == "朝阳区"
    assert check.issued_at == form.issued_at

    # A new version: rendered again; the printout of version 1 is superseded
    details.withdraw(context, BEIJING)
    changed = details_for("beijing")
    changed["residence"]["address"] = "朝阳区团结湖路7号院1号楼2单元502"
    details.submit(context, BEIJING, changed)
    verification_results.apply_result(context, BEIJING, 2, True)
    second = documents.get_form(ref)
    second_pdf = base64.b64decode(second.pdf_base64)
    assert second.version == 2 and second_pdf != pdf
    assert "朝阳区团结湖路7号院1号楼2单元502" in pdf_text(second_pdf)
    superseded = documents.check_form(TokenRef(token=token))
    assert superseded.status == "superseded" and superseded.current_version == 2
    new_token = codes_on_page_one(second_pdf, tmp_path)["QRCode"].rsplit("/", 1)[1]
    assert documents.check_form(TokenRef(token=new_token)).status == "genuine"

    # Each read of the family's data (the refused one, two of version 1, one of version 2)
    # is audited by enrollment, apart from the districts' looks
    with psycopg.connect(schemas) as conn:
        audited = conn.execute("SELECT method, staff_id FROM enrollment.district_access "
                               "WHERE account_no = %s", (BEIJING,)).fetchall()
    assert set(audited) == {("documents_get_form_data", "documents")} and len(audited) == 4

    # Cancelled: the stored form goes, and the printout reads as withdrawn, nameless
    event_dispatcher({"AMQP_URI": users["accounts"]})(ACCOUNTS, ACCOUNT_CANCELLED, {
        "event_id": str(uuid.uuid4()), "account_no": BEIJING, "guardian_phone": "13800138000"})
    wait_for(lambda: not stored_forms(schemas))
    wait_for(lambda: documents.check_form(TokenRef(token=new_token)).status == "withdrawn")
    assert documents.check_form(TokenRef(token=new_token)).child_name is None

    # Forged, altered, truncated: one answer
    for bad in ("A" * 36, new_token[:-1] + ("A" if new_token[-1] != "A" else "B"),
                new_token[:20]):
        assert refused(lambda bad=bad: documents.check_form(TokenRef(token=bad))).code == \
            "FORM_TOKEN_INVALID"


def test_a_non_beijing_family_prints_once_every_review_item_passed(platform):
    documents, context, _ = platform
    submitted(context, NON_BEIJING, "non_beijing")
    ref = FormRef(account_no=NON_BEIJING)
    refusal = refused(lambda: documents.get_form(ref))
    assert refusal.code == "FORM_NOT_AVAILABLE" and "入学资格审核尚未全部通过" in refusal.message
    review.start_review(context, NON_BEIJING, 1)
    for item in ALWAYS_OPEN.review_items:
        review.record_result(context, NON_BEIJING, 1, item, True)
    form = documents.get_form(ref)
    text = pdf_text(base64.b64decode(form.pdf_base64))
    assert "居住证号码" in text and "110105198501010010" in text
    assert documents.get_form_status(ref).available


def test_a_withdrawn_version_reads_as_withdrawn(platform, tmp_path):
    documents, context, _ = platform
    submitted(context, BEIJING, "beijing")
    pdf = base64.b64decode(documents.get_form(FormRef(account_no=BEIJING)).pdf_base64)
    token = codes_on_page_one(pdf, tmp_path)["QRCode"].rsplit("/", 1)[1]
    details.withdraw(context, BEIJING)
    check = documents.check_form(TokenRef(token=token))
    assert check.status == "withdrawn" and check.child_name is None
    assert refused(lambda: documents.get_form(FormRef(account_no=BEIJING))).code == \
        "FORM_NOT_AVAILABLE"


def test_a_family_that_may_print_gets_its_form_rendered_ahead(platform, schemas):
    """On enrollment's verification_outcome, before any download is asked for."""
    documents, context, users = platform
    submitted(context, BEIJING, "beijing")
    submitted(context, NON_BEIJING, "non_beijing")  # verified, but its review is not approved
    dispatch = event_dispatcher({"AMQP_URI": users["enrollment"]})
    for account_no in (NON_BEIJING, BEIJING):
        dispatch(ENROLLMENT, VERIFICATION_OUTCOME, {
            "event_id": str(uuid.uuid4()), "account_no": account_no, "version": 1,
            "status": "verified", "guardian_phone": "13800138000"})
    wait_for(lambda: (BEIJING, 1) in stored_forms(schemas), timeout_s=30)
    assert [row[0] for row in stored_forms(schemas)] == [BEIJING]
