"""The details checked against the 2027 field sets: each type, conditions, groups, read-only
registration data, drafts against submissions, and the districts' parameters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from common.errors import DomainError
from services.enrollment.rules.fields import (
    _SHAPES,
    READ_ONLY_MESSAGE,
    clean_details,
    months_before,
)
from services.enrollment.rules.season import _TYPE_OPTIONS
from services.enrollment.tests.samples import (
    CHILD_ID,
    FATHER_ID,
    MOTHER_ID,
    SEASON,
    TODAY,
    USCC,
    beijing_details,
    id_number,
    non_beijing_details,
    registration,
)


def clean(data, hukou_type="beijing", district="chaoyang", submission=True, today=TODAY):
    return clean_details(data, SEASON, registration(hukou_type, district), today,
                         submission=submission)


def errors(data, hukou_type="beijing", district="chaoyang", submission=True,
           today=TODAY) -> dict:
    with pytest.raises(DomainError) as caught:
        clean(data, hukou_type, district, submission, today)
    assert caught.value.code == "VALIDATION_ERROR" and caught.value.http_status == 422
    return caught.value.fields


def with_value(data: dict, path: str, value) -> dict:
    """`path` like "housing.kind" or "guardians.1.phone"."""
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value
    return data


def test_every_field_type_of_season_files_has_a_check():
    assert set(_SHAPES) == set(_TYPE_OPTIONS)


# Complete details ------------------------------------------------------------------------

def test_complete_beijing_details_are_accepted_and_normalised():
    cleaned = clean(beijing_details())
    assert list(cleaned) == ["household", "hukou_address", "residence", "housing", "guardians"]
    assert cleaned["guardians"][1]["document_number"] == MOTHER_ID  # the x upper-cased
    assert "employer" not in cleaned["guardians"][1]  # optional, not given


def test_complete_non_beijing_details_are_accepted():
    cleaned = clean(non_beijing_details(), "non_beijing")
    assert cleaned["employment"] == {"kind": "labour_contract",
                                     "employer_name": "北京某科技有限公司", "uscc": USCC,
                                     "insurance_months": 24}
    assert cleaned["no_guardianship"]["has_certificate"] is True


def test_every_bad_field_is_reported_at_once():
    data = beijing_details()
    with_value(data, "household.relation_to_head", "cousin")
    with_value(data, "hukou_address.district", "tianjin")
    with_value(data, "residence.address", "")
    with_value(data, "guardians.0.phone", "12345")
    with_value(data, "guardians.1.document_number", FATHER_ID[:17] + "0")
    data["child_name"] = "张大明"
    assert set(errors(data)) == {"household.relation_to_head", "hukou_address.district",
                                 "residence.address", "guardians.0.phone",
                                 "guardians.1.document_number", "child_name"}


def test_details_that_are_not_an_object_are_refused():
    assert errors(["household"]) == {"body": "应为 JSON 对象。"}


# Each type's shape (drafts included) -------------------------------------------------------

@pytest.mark.parametrize("path, value, message", [
    ("household.head_name", "张" * 31, "户主姓名不能超过30个字。"),
    ("household.head_name", 42, "应为文本。"),
    ("housing.kind", "hotel", "请从给定选项中选择住房类型。"),
    ("housing.kind", ["own"], "请从给定选项中选择住房类型。"),
    ("hukou_address.district", "outside", "请选择北京市的区。"),
    ("hukou_address.district", {"code": "chaoyang"}, "请选择北京市的区。"),
    ("guardians.0.phone", "23800138000", "请输入11位手机号码。"),
    ("guardians.0.phone", "1380013800", "请输入11位手机号码。"),
    ("guardians.0.document_number", FATHER_ID[:17] + "9",
     "证件号码校验位不正确，请核对后重新输入。"),
    ("guardians.0.document_number", "1101051985010100",
     "证件号码应为18位，前17位为数字，最后一位为数字或X。"),
    ("guardians.0.document_number", id_number("81000019850101001"),
     "该号码为港澳台居民居住证号码，请选择对应的证件类型。"),
    ("guardians.0.document_number", id_number("11010519850230001"), "证件号码中的出生日期无效。"),
])
def test_a_value_of_the_wrong_shape_is_refused_even_in_a_draft(path, value, message):
    data = with_value(beijing_details(), path, value)
    assert errors(data, submission=False) == {path: message}
    assert errors(data) == {path: message}


@pytest.mark.parametrize("path, value, message", [
    ("employment.uscc", USCC[:17] + "0", "统一社会信用代码校验位不正确"),
    ("employment.uscc", "91110108551385O82Q", "统一社会信用代码应为18位"),
    ("employment.insurance_months", -1, "应为整数月数"),
    ("employment.insurance_months", 12.5, "应为整数月数"),
    ("employment.insurance_months", True, "应为整数月数"),
    ("employment.insurance_months", "十二", "应为整数月数"),
    ("no_guardianship.has_certificate", "yes", "请选择“是”或“否”。"),
    ("no_guardianship.has_certificate", 1, "请选择“是”或“否”。"),
    ("permit.valid_until", "2028-02-30", "日期格式应为 YYYY-MM-DD"),
    ("permit.valid_until", "2028/03/01", "日期格式应为 YYYY-MM-DD"),
    ("permit.valid_until", "20280301", "日期格式应为 YYYY-MM-DD"),
    ("permit.valid_until", 20280301, "应为文本"),
    ("hukou_origin.region", "1301", "请依次选择省、市、县（区）。"),
    ("hukou_origin.region", "990102", "请依次选择省、市、县（区）。"),
    ("hukou_origin.region", "110105", "不能选择该省份"),
    ("hukou_origin.region", "810000", "不能选择该省份"),
    ("hukou_origin.region", "130100", "请选择到县（区）一级。"),
    ("hukou_origin.region", "130002", "请选择到县（区）一级。"),
    ("permit.number", "京-123", "居住证号码由字母、数字组成"),
    ("dwelling.lease_registration_no", "ZL 123456", "登记备案号由字母、数字组成"),
])
def test_non_beijing_types_refuse_bad_values_even_in_a_draft(path, value, message):
    data = with_value(non_beijing_details(), path, value)
    for submission in (False, True):
        found = errors(data, "non_beijing", submission=submission)
        assert list(found) == [path] and message in found[path]


@pytest.mark.parametrize("path, value, stored", [
    ("employment.uscc", " " + USCC.lower() + " ", USCC),
    ("employment.insurance_months", "36", 36),
    ("employment.insurance_months", 0, None),  # a draft may hold 0; submission needs 12
    ("no_guardianship.has_certificate", False, False),
    ("permit.valid_until", "2028-03-01", "2028-03-01"),
    ("hukou_origin.region", "419001", "419001"),  # 济源市: a county-level city of a province
    ("household.head_name", "  张伟  ", "张伟"),
])
def test_accepted_values_are_stored_normalised(path, value, stored):
    data = with_value(non_beijing_details(), path, value)
    cleaned = clean(data, "non_beijing", submission=False)
    section, key = path.split(".")
    assert cleaned[section][key] == (value if stored is None else stored)


def test_other_documents_are_checked_for_shape_only():
    data = with_value(beijing_details(), "guardians.0.document_type", "passport")
    with_value(data, "guardians.0.document_number", "e12345678")
    assert clean(data)["guardians"][0]["document_number"] == "E12345678"
    with_value(data, "guardians.0.document_number", "E12")
    assert errors(data) == {"guardians.0.document_number": "证件号码由字母、数字组成，5～30位。"}


def test_a_document_number_needs_its_type():
    data = beijing_details()
    del data["guardians"][0]["document_type"]
    assert errors(data, submission=False) == {"guardians.0.document_number": "请先选择证件类型。"}


def test_a_residence_permit_number_must_start_with_81_82_or_83():
    data = with_value(beijing_details(), "guardians.0.document_type", "hkmt_residence_permit")
    assert errors(data) == {
        "guardians.0.document_number": "港澳台居民居住证号码应以81、82或83开头。"}
    with_value(data, "guardians.0.document_number", id_number("81000019850101001"))
    clean(data)


# Drafts and submissions ------------------------------------------------------------------

def test_an_empty_draft_is_fine_and_an_empty_submission_lists_every_required_field():
    assert clean({}, submission=False) == {}
    missing = errors({})
    assert missing["household.head_name"] == "请填写户主姓名。"
    assert missing["housing.kind"] == "请选择住房类型。"
    assert missing["guardians"] == "监护人信息至少填写1项，最多填写2项。"
    assert "housing.certificate_no" not in missing  # applies only once 自有住房 is chosen


def test_a_half_filled_draft_keeps_what_was_given():
    data = {"household": {"head_name": "张建国"}, "housing": {"kind": "rent"},
            "guardians": [{"name": "张伟", "phone": ""}]}
    assert clean(data, submission=False) == {"household": {"head_name": "张建国"},
                                             "housing": {"kind": "rent"},
                                             "guardians": [{"name": "张伟"}]}


def test_blank_values_count_as_not_given():
    data = with_value(beijing_details(), "guardians.0.employer", "   ")
    with_value(data, "residence.address", None)
    assert errors(data) == {"residence.address": "请填写现住址详细地址。"}
    assert "employer" not in clean(data, submission=False)["guardians"][0]


def test_minimum_lengths_apply_to_submissions():
    data = with_value(beijing_details(), "residence.address", "朝阳")
    assert clean(data, submission=False)["residence"]["address"] == "朝阳"
    assert errors(data) == {"residence.address": "现住址详细地址至少4个字。"}


# Conditions -----------------------------------------------------------------------------

def test_own_housing_needs_its_certificate_and_drops_lease_fields():
    data = beijing_details()
    data["housing"] = {"kind": "own", "lease_registration_no": "ZL2024-0012345"}
    assert errors(data) == {"housing.certificate_kind": "请选择产权证类型。",
                            "housing.certificate_no": "请填写产权证号。",
                            "housing.owner_relation": "请选择产权人与儿童关系。"}
    assert clean(data, submission=False)["housing"] == {"kind": "own"}


def test_rented_housing_needs_the_lease_registration_and_its_start():
    data = beijing_details()
    data["housing"] = {"kind": "rent", "certificate_no": "京（2019）朝阳区不动产权第0012345号"}
    assert errors(data) == {"housing.lease_registration_no": "请填写租赁合同登记备案号。",
                            "housing.lease_start": "请填写起租日期。"}
    data["housing"].update(lease_registration_no="ZL2024-0012345", lease_start="2024-03-01")
    assert clean(data)["housing"] == {"kind": "rent", "lease_registration_no": "ZL2024-0012345",
                                      "lease_start": "2024-03-01"}


@pytest.mark.parametrize("kind", ["borrow", "collective"])
def test_borrowed_housing_and_collective_hukou_need_nothing_more(kind):
    data = beijing_details()
    data["housing"] = {"kind": kind}
    assert clean(data)["housing"] == {"kind": kind}


def test_a_labour_contract_names_the_employer_and_a_business_licence_the_business():
    data = non_beijing_details()
    data["employment"]["kind"] = "business_licence"
    assert errors(data, "non_beijing") == {"employment.business_name": "请填写营业执照名称。"}
    data["employment"]["business_name"] = "朝阳区张伟便利店"
    assert clean(data, "non_beijing")["employment"] == {
        "kind": "business_licence", "business_name": "朝阳区张伟便利店", "uscc": USCC,
        "insurance_months": 24}


def test_the_issuer_is_asked_only_when_there_is_a_certificate():
    data = with_value(non_beijing_details(), "no_guardianship.has_certificate", False)
    assert clean(data, "non_beijing")["no_guardianship"] == {"has_certificate": False}
    data = non_beijing_details()
    del data["no_guardianship"]["issuer"]
    assert errors(data, "non_beijing") == {"no_guardianship.issuer": "请填写出具机关。"}


def test_a_condition_on_a_bad_value_reports_only_that_value():
    data = with_value(beijing_details(), "housing.kind", "hotel")
    assert errors(data) == {"housing.kind": "请从给定选项中选择住房类型。"}


# The guardians' group ---------------------------------------------------------------------

def test_one_guardian_is_enough_and_two_are_allowed():
    data = beijing_details()
    data["guardians"] = data["guardians"][:1]
    assert len(clean(data)["guardians"]) == 1


def test_a_third_guardian_is_refused_even_in_a_draft():
    data = beijing_details()
    data["guardians"].append(dict(data["guardians"][0]))
    assert errors(data, submission=False) == {"guardians": "监护人信息至少填写1项，最多填写2项。"}


def test_a_wholly_blank_entry_is_no_guardian():
    data = beijing_details()
    data["guardians"][1] = {"name": "", "phone": " ", "employer": None}
    assert len(clean(data)["guardians"]) == 1
    data["guardians"] = [{"name": ""}, data["guardians"][0]]
    assert len(clean(data)["guardians"]) == 1


def test_errors_in_the_second_guardian_name_its_position():
    data = with_value(beijing_details(), "guardians.1.relation", "uncle")
    del data["guardians"][1]["name"]
    assert errors(data) == {"guardians.1.relation": "请从给定选项中选择与儿童关系。",
                            "guardians.1.name": "请填写姓名。"}


@pytest.mark.parametrize("value, path, message", [
    ({"name": "张伟"}, "guardians", "应为列表。"),
    (["张伟"], "guardians.0", "应为 JSON 对象。"),
])
def test_a_group_must_be_a_list_of_objects(value, path, message):
    data = beijing_details()
    data["guardians"] = value
    assert errors(data, submission=False) == {path: message}


# Unknown and read-only data ---------------------------------------------------------------

def test_unknown_sections_and_fields_are_refused():
    data = beijing_details()
    data["pets"] = {"cat": "咪咪"}
    data["housing"]["floor"] = 3
    data["guardians"][0]["wechat"] = "zw"
    data["permit"] = {"holder": "father"}  # a non-Beijing section
    assert errors(data, submission=False) == {
        "pets": "不支持该项。", "housing.floor": "不支持该项。",
        "guardians.0.wechat": "不支持该项。", "permit": "不支持该项。"}


@pytest.mark.parametrize("key, value", [
    ("child_name", "张大明"), ("document_type", "other"),
    ("document_number", id_number("11010520200902001")), ("birth_date", "2020-09-02"),
    ("sex", "female"), ("hukou_type", "non_beijing"), ("district", "haidian"),
    ("birth_date", None), ("child_name", ""),
])
def test_registration_data_cannot_be_changed(key, value):
    data = beijing_details()
    data[key] = value
    assert errors(data, submission=False) == {key: READ_ONLY_MESSAGE}


def test_registration_data_sent_back_unchanged_is_accepted_and_not_stored():
    data = beijing_details()
    data.update(child_name="张小明", document_type="resident_id",
                document_number=CHILD_ID.lower(), birth_date="2020-09-01", sex="male",
                hukou_type="beijing", district="chaoyang")
    assert clean(data) == clean(beijing_details())


def test_registration_data_sent_back_as_the_view_masks_it_is_accepted():
    data = beijing_details()
    data.update(child_name="张**", document_number=CHILD_ID[:4] + "*" * 13 + CHILD_ID[-1])
    assert clean(data) == clean(beijing_details())
    data.update(child_name="李**")
    assert errors(data, submission=False) == {"child_name": READ_ONLY_MESSAGE}


# Season dates and district parameters (submissions only) ---------------------------------

def test_the_residence_permit_must_be_valid_on_the_reference_date():
    data = with_value(non_beijing_details(), "permit.valid_until", "2027-05-05")
    assert clean(data, "non_beijing", submission=False)["permit"]["valid_until"] == "2027-05-05"
    assert errors(data, "non_beijing") == {"permit.valid_until": "有效期至不能早于2027年5月6日。"}
    with_value(data, "permit.valid_until", "2027-05-06")
    clean(data, "non_beijing")


def test_a_lease_cannot_start_after_today():
    data = beijing_details()
    data["housing"] = {"kind": "rent", "lease_registration_no": "ZL2024-0012345",
                       "lease_start": "2027-05-11"}
    assert errors(data, today=date(2027, 5, 10)) == {
        "housing.lease_start": "起租日期不能晚于2027年5月10日。"}
    clean(data, today=date(2027, 5, 11))
    with_value(data, "housing.lease_start", "1999-12-31")
    assert errors(data) == {"housing.lease_start": "起租日期不能早于2000年1月1日。"}


def test_social_insurance_months_meet_the_districts_minimum():
    data = with_value(non_beijing_details(), "employment.insurance_months", 11)
    assert clean(data, "non_beijing", submission=False)  # drafts do not apply it
    assert errors(data, "non_beijing") == {
        "employment.insurance_months": "朝阳区要求在京连续缴纳社会保险月数不少于12个月。"}
    with_value(data, "employment.insurance_months", 12)
    clean(data, "non_beijing")
    with_value(data, "employment.insurance_months", 601)
    assert errors(data, "non_beijing") == {
        "employment.insurance_months": "在京连续缴纳社会保险月数应在0～600之间。"}


def test_each_district_applies_its_own_minimum():
    data = with_value(non_beijing_details(), "employment.insurance_months", 3)
    for residence in ("dwelling.district", "residence.district"):
        with_value(data, residence, "huairou")
    with_value(data, "dwelling.since", "2027-01-30")
    clean(data, "non_beijing", district="huairou")
    assert set(errors(data, "non_beijing", district="chaoyang")) == {
        "employment.insurance_months", "dwelling.since", "dwelling.district"}


@pytest.mark.parametrize("district, latest", [("chaoyang", "2026-04-30"),
                                              ("shijingshan", "2026-10-30"),
                                              ("huairou", "2027-01-30")])
def test_residence_began_the_districts_months_before_the_counting_date(district, latest):
    data = non_beijing_details()
    data["dwelling"]["district"] = district
    with_value(data, "dwelling.since", latest)
    clean(data, "non_beijing", district=district)
    limit = date.fromisoformat(latest)
    with_value(data, "dwelling.since", (limit + timedelta(days=1)).isoformat())
    message = errors(data, "non_beijing", district=district)["dwelling.since"]
    assert message.endswith(f"开始居住日期不能晚于{limit.year}年{limit.month}月{limit.day}日。")
    assert "截至2027年4月30日满" in message


def test_the_dwelling_must_be_in_the_enrollment_district():
    data = with_value(non_beijing_details(), "dwelling.district", "haidian")
    assert clean(data, "non_beijing", submission=False)["dwelling"]["district"] == "haidian"
    assert errors(data, "non_beijing") == {"dwelling.district": "住所所在区须为入学区（朝阳区）。"}


@pytest.mark.parametrize("day, months, expected", [
    (date(2027, 4, 30), 12, date(2026, 4, 30)),
    (date(2027, 3, 31), 1, date(2027, 2, 28)),
    (date(2024, 2, 29), 12, date(2023, 2, 28)),
    (date(2027, 1, 15), 3, date(2026, 10, 15)),
    (date(2027, 4, 30), 0, date(2027, 4, 30)),
])
def test_months_before_keeps_the_day_or_takes_the_months_last(day, months, expected):
    assert months_before(day, months) == expected
