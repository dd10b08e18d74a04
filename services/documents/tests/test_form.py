"""What the form prints (the template's data and page), when it is rendered again, and what a
check of a printout answers: rules and template, no service."""

from __future__ import annotations

from datetime import UTC, datetime

from services.documents import render
from services.documents.rules import form as rules
from services.documents.rules.token import FormToken
from services.documents.tests.samples import ACCOUNT, form_data
from services.enrollment.contract import FormStanding
from services.enrollment.tests.samples import CHILD_ID, FATHER_ID, USCC

ISSUED = datetime(2027, 5, 31, 17, 0, tzinfo=UTC)  # 6月1日 in Beijing
URL = "https://example.org/verify/TOKEN"


def test_the_page_prints_every_field_with_its_label_the_states_and_the_version():
    job = rules.render_job(form_data("non_beijing"), URL, ISSUED)
    assert job["issued"] == "2027年6月1日" and job["verify_host"] == "https://example.org"
    page = render.html(job)
    for text in ("学龄人口信息采集表", "2027年北京市义务教育入学服务平台", "朝阳区", "非本市户籍",
                 ACCOUNT, CHILD_ID, FATHER_ID, USCC, "居住证号码", "110105198501010010",
                 "劳动合同（单位就业）", "24个月", "石家庄市长安区建北街道办事处",
                 "身份证及户籍信息已验证", "在京务工就业材料", "通过", "第1版", "2027年6月1日"):
        assert text in page, text
    assert page.count("<svg") == 2  # the barcode and the QR code, inline


def test_the_digest_changes_with_the_data_and_the_template_only():
    data = form_data("beijing")
    assert rules.data_digest(data, "t1") == rules.data_digest(form_data("beijing"), "t1")
    assert rules.data_digest(data, "t1") != rules.data_digest(data, "t2")
    changed = data.model_copy(update={"version": 2})
    assert rules.data_digest(changed, "t1") != rules.data_digest(data, "t1")


def test_the_file_name():
    assert rules.file_name(ACCOUNT, 2) == "学龄人口信息采集表-27000001-第2版.pdf"


def standing(version=1, submitted=True) -> FormStanding:
    return FormStanding(version=version, submitted=submitted, child_name="张**",
                        district_name="朝阳区", may_print=submitted)


def test_a_printout_is_genuine_superseded_or_withdrawn():
    token = FormToken(ACCOUNT, 1, ISSUED)
    genuine = rules.check(token, standing())
    assert genuine == {"status": "genuine", "version": 1, "issued_at": ISSUED.isoformat(),
                       "child_name": "张**", "district_name": "朝阳区"}
    superseded = rules.check(token, standing(version=2))
    assert superseded["status"] == "superseded" and superseded["current_version"] == 2
    assert rules.check(token, standing(submitted=False))["status"] == "withdrawn"
    assert "child_name" not in rules.check(token, standing(submitted=False))
    assert rules.check(token, None) == {"status": "withdrawn", "version": 1,
                                        "issued_at": ISSUED.isoformat()}


def test_fonts_are_subset_by_harfbuzz_in_c():
    """libharfbuzz-subset0 is loaded: without it a CJK page takes about 10 s."""
    assert render.subsetting_in_c()
