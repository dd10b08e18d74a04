"""The details form drawn from the 2027 season, and a posted form turned into details and
back: every field named as enrollment names its errors."""

from werkzeug.datastructures import MultiDict

from gateway import details_form
from services.enrollment.bootstrap import form_view
from services.enrollment.contract import FormView
from services.enrollment.rules.season import load_season

SEASON = load_season(2027)


def form(hukou_type: str) -> FormView:
    """As the typed client brings it."""
    return FormView.model_validate(form_view(SEASON.forms[hukou_type]))


def test_a_posted_form_becomes_details_and_back():
    non_beijing = form("non_beijing")
    posted = MultiDict({"household.head_name": " 陈建国 ", "no_guardianship.has_certificate": "yes",
                        "employment.insurance_months": "24", "guardians.0.name": "陈建国",
                        "guardians.1.name": "", "permit.number": ""})
    data = details_form.parse(non_beijing, posted)
    assert data["household"] == {"head_name": "陈建国"}
    assert data["no_guardianship"] == {"has_certificate": True}
    assert data["employment"] == {"insurance_months": "24"}  # enrollment takes digit strings
    assert data["permit"] == {} and data["guardians"] == [{"name": "陈建国"}, {}]
    assert details_form.values(non_beijing, data) == {
        "household.head_name": "陈建国", "no_guardianship.has_certificate": "yes",
        "employment.insurance_months": "24", "guardians.0.name": "陈建国"}
    assert details_form.values(non_beijing, {"employment": {"insurance_months": 24}}) == {
        "employment.insurance_months": "24"}


def test_every_field_is_drawn_with_the_name_of_its_errors_and_its_condition():
    blocks = details_form.layout(form("beijing"))
    fields = {field.name: field for block in blocks for field in block.fields}
    assert [block.title for block in blocks][-2:] == ["监护人信息（1）", "监护人信息（2）（选填）"]
    assert "guardians.1.phone" in fields and "housing.lease_start" in fields
    lease = fields["housing.lease_registration_no"]
    assert lease.label == "租赁合同登记备案号（住房类型选择“租住”时填写）"
    assert lease.when == "housing.kind=rent" and lease.maxlength == 30
    assert fields["housing.kind"].widget == "select"  # four kinds
    assert fields["guardians.0.relation"].widget == "radios"  # three
    assert fields["guardians.0.phone"].input_type == "tel"
    assert fields["hukou_address.district"].options[0] == ("dongcheng", "东城区")
    issuer = {f.name: f for b in details_form.layout(form("non_beijing")) for f in b.fields}[
        "no_guardianship.issuer"]
    assert issuer.when == "no_guardianship.has_certificate=yes"


def test_the_summary_shows_what_applies_in_words():
    beijing = form("beijing")
    data = {"housing": {"kind": "rent", "certificate_no": "京（2019）0012345号",
                        "lease_registration_no": "ZL2026-1"},
            "hukou_address": {"district": "haidian"}, "guardians": [{"relation": "mother"}]}
    summary = dict(details_form.summary(beijing, data))
    assert summary["住房情况"] == (("住房类型", "租住"), ("租赁合同登记备案号", "ZL2026-1"))
    assert summary["户籍地址"] == (("户籍所在区", "海淀区"),)
    assert summary["户主信息"] == ()  # shown as 未填写
    assert summary["监护人信息（1）"] == (("与儿童关系", "母亲"),)
    assert "监护人信息（2）" not in summary
