"""judge(): every rule, their combinations, and the request it judges."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import DomainError
from services.verification.rules.checks import (
    REASONS,
    CheckRequest,
    PermitRecord,
    PersonRecord,
    RegistryAnswers,
    judge,
    same_name,
)

CHILD = {"name": "王小明", "document_type": "resident_id",
         "document_number": "110108202009010019", "birth_date": "2020-09-01", "sex": "male"}
GUARDIAN = {"name": "陈建国", "document_number": "370102198803150116"}
PERMIT = {"holder_name": GUARDIAN["name"], "holder_document_number": GUARDIAN["document_number"],
          "permit_number": "JZ1101052026001", "valid_until": "2028-02-29",
          "issuing_district": "chaoyang"}
REFERENCE = date(2027, 5, 6)


def beijing(**changes) -> CheckRequest:
    return CheckRequest.parse({
        "account_no": "27123456", "version": 1, "child": CHILD, "hukou_type": "beijing",
        "hukou_district": "haidian", "district": "haidian", "residence_district": "haidian",
        "reference_date": REFERENCE.isoformat(), **changes})


def non_beijing(*permits, **changes) -> CheckRequest:
    return CheckRequest.parse({
        "account_no": "27123457", "version": 3, "child": CHILD, "hukou_type": "non_beijing",
        "hukou_district": "outside", "district": "chaoyang", "residence_district": "chaoyang",
        "residence_permits": list(permits), "reference_date": REFERENCE.isoformat(), **changes})


def person(**changes) -> PersonRecord:
    return PersonRecord.model_validate({**CHILD, "hukou_district": "haidian", **changes})


def permit_record(**changes) -> PermitRecord:
    return PermitRecord.model_validate({
        "permit_number": PERMIT["permit_number"], "holder_name": GUARDIAN["name"],
        "holder_document_number": GUARDIAN["document_number"], "valid_from": "2026-03-01",
        "valid_until": "2028-02-29", "issuing_district": "chaoyang", **changes})


def codes(outcome) -> list[str]:
    return [item.code for item in outcome.items]


def outside_child(**changes) -> PersonRecord:
    return person(hukou_district="outside", **changes)


def test_a_beijing_child_who_matches_the_registry_is_verified():
    outcome = judge(beijing(), RegistryAnswers(person()))
    assert outcome.status == "verified" and outcome.items == ()


def test_a_child_unknown_to_the_registry_fails_on_the_document_alone():
    outcome = judge(beijing(), RegistryAnswers(None))
    assert outcome.status == "failed"
    [item] = outcome.items
    assert (item.code, item.field) == ("CHILD_NOT_FOUND", "child.document_number")
    assert item.reason == ("人口信息库中未查到儿童的证件类型和证件号码。注册时填写的基本信息"
                           "不能自行修改，请携带户口簿咨询入学所在区教委。")


@pytest.mark.parametrize("hukou_type", ["beijing", "non_beijing"])
@pytest.mark.parametrize("name_ok, birth_ok, sex_ok, registry_hukou", list(itertools.product(
    [True, False], [True, False], [True, False], ["haidian", "chaoyang", "outside"])))
def test_every_combination_of_the_child_rules(hukou_type, name_ok, birth_ok, sex_ok,
                                              registry_hukou):
    record = person(name=CHILD["name"] if name_ok else "王晓明",
                    birth_date="2020-09-01" if birth_ok else "2020-09-02",
                    sex="male" if sex_ok else "female", hukou_district=registry_hukou)
    if hukou_type == "beijing":
        request = beijing()
    else:
        request = non_beijing(PERMIT)
    answers = RegistryAnswers(record, {PERMIT["permit_number"]: permit_record()})

    expected = []
    if not name_ok:
        expected.append("CHILD_NAME_MISMATCH")
    if not birth_ok:
        expected.append("CHILD_BIRTH_DATE_MISMATCH")
    if not sex_ok:
        expected.append("CHILD_SEX_MISMATCH")
    if name_ok:  # hukou is compared only for the child the name says it is
        if hukou_type == "beijing" and registry_hukou == "outside":
            expected.append("HUKOU_NOT_BEIJING")
        elif hukou_type == "beijing" and registry_hukou != "haidian":
            expected.append("HUKOU_DISTRICT_MISMATCH")
        elif hukou_type == "non_beijing" and registry_hukou != "outside":
            expected.append("HUKOU_IS_BEIJING")
    outcome = judge(request, answers)
    assert codes(outcome) == expected
    assert outcome.status == ("failed" if expected else "verified")


def test_each_child_item_names_its_field_and_a_next_step():
    record = person(birth_date="2020-09-02", sex="female", hukou_district="chaoyang")
    items = {item.code: item for item in judge(beijing(), RegistryAnswers(record)).items}
    assert {code: item.field for code, item in items.items()} == {
        "CHILD_BIRTH_DATE_MISMATCH": "child.birth_date", "CHILD_SEX_MISMATCH": "child.sex",
        "HUKOU_DISTRICT_MISMATCH": "hukou_district"}
    assert items["HUKOU_DISTRICT_MISMATCH"].reason.startswith("儿童户籍所在区与人口信息库不一致。")
    assert all(item.reason.endswith("请携带户口簿咨询入学所在区教委。") for item in items.values())
    [name] = judge(beijing(), RegistryAnswers(person(name="王晓明"))).items
    assert (name.field, name.reason) == (
        "child.name", "儿童姓名与人口信息库不一致。注册时填写的基本信息不能自行修改，"
                      "请携带户口簿咨询入学所在区教委。")


def test_the_wrong_hukou_type_points_to_the_other_service():
    [item] = judge(beijing(), RegistryAnswers(outside_child())).items
    assert (item.code, item.field) == ("HUKOU_NOT_BEIJING", "hukou_type")
    assert "“本市户籍适龄儿童入学服务”不符" in item.reason
    [item] = judge(non_beijing(PERMIT), RegistryAnswers(
        person(), {PERMIT["permit_number"]: permit_record()})).items
    assert (item.code, item.field) == ("HUKOU_IS_BEIJING", "hukou_type")
    assert "“非本市户籍适龄儿童入学服务”不符" in item.reason


@pytest.mark.parametrize("entered, held", [
    ("王小明", "王小明"), ("王 小明", "王小明"), (" 王小明 ", "王小明"),
    ("阿依古丽·买买提", "阿依古丽•买买提"), ("阿依古丽・买买提", "阿依古丽·买买提"),
    ("阿依古丽．买买提", "阿依古丽·买买提"), ("阿依古丽.买买提", "阿依古丽·买买提"),
    ("ＡＢＣ", "ABC"),
])
def test_names_compare_as_written_whatever_the_width_spaces_or_dot(entered, held):
    assert same_name(entered, held)


@pytest.mark.parametrize("entered, held", [("王小明", "王晓明"), ("王小明", "王小"),
                                           ("阿依古丽·买买提", "阿依古丽买买提")])
def test_different_names_differ(entered, held):
    assert not same_name(entered, held)


def test_a_non_beijing_child_with_a_good_permit_is_verified():
    outcome = judge(non_beijing(PERMIT), RegistryAnswers(
        outside_child(), {PERMIT["permit_number"]: permit_record()}))
    assert outcome.status == "verified"


def test_a_non_beijing_child_without_a_permit_fails():
    [item] = judge(non_beijing(), RegistryAnswers(outside_child())).items
    assert (item.code, item.field) == ("PERMIT_MISSING", "residence_permits")
    assert "请补充后重新提交" in item.reason


def test_a_permit_unknown_to_the_registry_fails_whether_answered_none_or_not_at_all():
    for permits in ({PERMIT["permit_number"]: None}, {}):
        [item] = judge(non_beijing(PERMIT), RegistryAnswers(outside_child(), permits)).items
        assert (item.code, item.field) == ("PERMIT_NOT_FOUND",
                                           "residence_permits.0.permit_number")
        assert item.reason.startswith("第1位监护人的北京市居住证编号在人口信息库中未查到，")


@pytest.mark.parametrize("changes", [{"holder_name": "陈建民"},
                                     {"holder_document_number": "370102198803150124"}])
def test_someone_elses_permit_fails_on_its_holder_and_nothing_more_is_said(changes):
    record = permit_record(valid_until="2026-12-31", issuing_district="miyun", **changes)
    [item] = judge(non_beijing(PERMIT), RegistryAnswers(
        outside_child(), {PERMIT["permit_number"]: record})).items
    assert (item.code, item.field) == ("PERMIT_HOLDER_MISMATCH", "residence_permits.0")


@pytest.mark.parametrize("valid_until_typo, district_typo, validity, issued_in, in_allowed", [
    combination + (issued_in, issued_in in ("chaoyang", "haidian"))
    for combination in itertools.product([False, True], [False, True],
                                         ["valid", "expired", "not_yet"])
    for issued_in in ("chaoyang", "haidian", "miyun")])
def test_every_combination_of_the_permit_rules(valid_until_typo, district_typo, validity,
                                               issued_in, in_allowed):
    valid_from, valid_until = {"valid": ("2026-03-01", "2028-02-29"),
                               "expired": ("2025-05-01", "2027-05-05"),
                               "not_yet": ("2027-05-07", "2028-05-06")}[validity]
    record = permit_record(valid_from=valid_from, valid_until=valid_until,
                           issuing_district=issued_in)
    entered = {**PERMIT, "valid_until": "2030-01-01" if valid_until_typo else valid_until,
               "issuing_district": "fengtai" if district_typo else issued_in}
    # Chosen 朝阳, living in 海淀: a permit of either district will do.
    request = non_beijing(entered, residence_district="haidian")

    expected = []
    if valid_until_typo:
        expected.append("PERMIT_VALID_UNTIL_MISMATCH")
    if district_typo:
        expected.append("PERMIT_DISTRICT_MISMATCH")
    if validity == "expired":
        expected.append("PERMIT_EXPIRED")
    elif validity == "not_yet":
        expected.append("PERMIT_NOT_YET_VALID")
    if not in_allowed:
        expected.append("PERMIT_WRONG_DISTRICT")
    outcome = judge(request, RegistryAnswers(outside_child(),
                                             {PERMIT["permit_number"]: record}))
    assert codes(outcome) == expected


def test_permit_reasons_say_which_permit_which_date_and_which_districts():
    record = permit_record(valid_until="2027-04-30", issuing_district="miyun")
    entered = {**PERMIT, "valid_until": "2027-04-30", "issuing_district": "miyun"}
    second = {**entered, "permit_number": "JZ0000000000002"}
    outcome = judge(non_beijing(entered, second, residence_district="haidian"), RegistryAnswers(
        outside_child(), {PERMIT["permit_number"]: record, "JZ0000000000002": None}))
    assert [(item.code, item.field) for item in outcome.items] == [
        ("PERMIT_EXPIRED", "residence_permits.0.valid_until"),
        ("PERMIT_WRONG_DISTRICT", "residence_permits.0.issuing_district"),
        ("PERMIT_NOT_FOUND", "residence_permits.1.permit_number")]
    expired, district, missing = (item.reason for item in outcome.items)
    assert expired == ("第1位监护人的北京市居住证到2027年5月6日已过有效期，请办理居住证签注后"
                       "重新提交，或咨询入学所在区教委。")
    assert district.startswith("第1位监护人的北京市居住证不是朝阳区或海淀区签发的。")
    assert missing.startswith("第2位监护人")
    [district] = judge(non_beijing(entered), RegistryAnswers(  # chosen = residence: named once
        outside_child(), {PERMIT["permit_number"]: permit_record(issuing_district="miyun")}
    )).items[1:]
    assert district.reason.startswith("第1位监护人的北京市居住证不是朝阳区签发的。")


@pytest.mark.parametrize("valid_from, valid_until", [("2027-05-06", "2027-12-31"),
                                                     ("2026-05-07", "2027-05-06")])
def test_a_permit_is_valid_on_its_first_and_last_day(valid_from, valid_until):
    record = permit_record(valid_from=valid_from, valid_until=valid_until)
    outcome = judge(non_beijing({**PERMIT, "valid_until": valid_until}), RegistryAnswers(
        outside_child(), {PERMIT["permit_number"]: record}))
    assert outcome.status == "verified"


def test_one_good_permit_is_enough_whatever_the_other():
    other = {**PERMIT, "permit_number": "JZ0000000000002", "holder_name": "林芳"}
    for permits in ((PERMIT, other), (other, PERMIT)):
        outcome = judge(non_beijing(*permits), RegistryAnswers(outside_child(), {
            PERMIT["permit_number"]: permit_record(), "JZ0000000000002": None}))
        assert outcome.status == "verified"


def test_child_and_permit_problems_are_listed_together():
    outcome = judge(non_beijing(PERMIT), RegistryAnswers(None, {PERMIT["permit_number"]: None}))
    assert codes(outcome) == ["CHILD_NOT_FOUND", "PERMIT_NOT_FOUND"]


def test_one_number_typed_for_both_guardians_is_judged_for_each():
    outcome = judge(non_beijing(PERMIT, PERMIT), RegistryAnswers(
        outside_child(), {PERMIT["permit_number"]: permit_record(valid_until="2027-01-31")}))
    assert [(item.code, item.field) for item in outcome.items] == [
        ("PERMIT_VALID_UNTIL_MISMATCH", "residence_permits.0.valid_until"),
        ("PERMIT_EXPIRED", "residence_permits.0.valid_until"),
        ("PERMIT_VALID_UNTIL_MISMATCH", "residence_permits.1.valid_until"),
        ("PERMIT_EXPIRED", "residence_permits.1.valid_until")]


def test_permits_are_not_looked_at_for_a_beijing_child():
    assert judge(beijing(), RegistryAnswers(person(), {"JZ1": None})).status == "verified"


@pytest.mark.parametrize("changes", [
    {"hukou_district": "outside"},  # beijing hukou outside Beijing
    {"hukou_district": "shanghai"},
    {"district": "outside"},
    {"residence_district": "nowhere"},
    {"residence_permits": [PERMIT]},  # asked of non_beijing families only
    {"account_no": "2712345"},
    {"version": 0},
    {"version": "1"},  # strict: no text for numbers
    {"reference_date": "2027/05/06"},
    {"reference_date": "20270506"},
    {"child": {**CHILD, "birth_date": "2020-02-30"}},
    {"child": {**CHILD, "document_type": "other"}},
    {"child": {**CHILD, "sex": "m"}},
    {"child": {**CHILD, "name": " "}},
    {"child": {**CHILD, "phone": "13800138000"}},  # closed: nothing beyond the contract
    {"extra": 1},
])
def test_a_malformed_beijing_request_is_refused(changes):
    with pytest.raises(DomainError) as refused:
        beijing(**changes)
    assert refused.value.code == "VALIDATION_ERROR"


@pytest.mark.parametrize("changes", [
    {"hukou_district": "haidian"},
    {"residence_permits": [PERMIT, PERMIT, PERMIT]},  # both parents at most
    {"residence_permits": [{**PERMIT, "issuing_district": "outside"}]},
    {"residence_permits": [{**PERMIT, "valid_until": "2028-02-30"}]},
    {"residence_permits": [{**PERMIT, "permit_number": ""}]},
])
def test_a_malformed_non_beijing_request_is_refused(changes):
    with pytest.raises(DomainError):
        non_beijing(**changes)


def test_numbers_are_canonical_and_dates_may_come_as_dates():
    request = CheckRequest.parse({**beijing().model_dump(), "child": {
        **CHILD, "document_number": "11010519491231002x", "birth_date": date(2020, 9, 1)}})
    assert request.child.document_number == "11010519491231002X"
    assert request.child.birth_date == date(2020, 9, 1)
    permit = non_beijing({**PERMIT, "permit_number": "jz1101052026001"}).residence_permits[0]
    assert permit.permit_number == "JZ1101052026001"


def test_registry_records_ignore_fields_the_registry_adds_and_refuse_bad_ones():
    assert person(photo_url="x").name == CHILD["name"]
    for changes in ({"hukou_district": "shanghai"}, {"sex": "unknown"}, {"name": ""}):
        with pytest.raises(ValueError):
            person(**changes)
    with pytest.raises(ValueError):
        permit_record(valid_from="2028-03-01")  # after valid_until


# Every request and answer, drawn from small pools so that matches and mismatches both occur.
_names = st.sampled_from(["王小明", "王晓明", "阿依古丽·买买提", "阿依古丽•买买提"])
_dates = st.dates(date(2020, 1, 1), date(2029, 12, 31))
_districts = st.sampled_from(["haidian", "chaoyang", "miyun"])
_permit_numbers = st.sampled_from(["JZ1", "JZ2"])
_holders = st.sampled_from([GUARDIAN["document_number"], "370102198803150124"])
_entered_permits = st.builds(
    lambda name, holder, number, until, district: {
        "holder_name": name, "holder_document_number": holder, "permit_number": number,
        "valid_until": until.isoformat(), "issuing_district": district},
    _names, _holders, _permit_numbers, _dates, _districts)
_requests = st.one_of(
    st.builds(lambda child_name, hukou, chosen, residence, on: beijing(
        child={**CHILD, "name": child_name}, hukou_district=hukou, district=chosen,
        residence_district=residence, reference_date=on.isoformat()),
        _names, _districts, _districts, _districts, _dates),
    st.builds(lambda child_name, permits, chosen, residence, on: non_beijing(
        *permits, child={**CHILD, "name": child_name}, district=chosen,
        residence_district=residence, reference_date=on.isoformat()),
        _names, st.lists(_entered_permits, max_size=2), _districts, _districts, _dates))
_people = st.none() | st.builds(
    lambda name, birth, sex, hukou: person(name=name, birth_date=birth.isoformat(), sex=sex,
                                           hukou_district=hukou),
    _names, _dates, st.sampled_from(["male", "female"]),
    st.sampled_from(["haidian", "chaoyang", "outside"]))
_permit_records = st.none() | st.builds(
    lambda number, name, holder, start, days, district: permit_record(
        permit_number=number, holder_name=name, holder_document_number=holder,
        valid_from=start.isoformat(), valid_until=date.fromordinal(
            start.toordinal() + days).isoformat(), issuing_district=district),
    _permit_numbers, _names, _holders, _dates, st.integers(0, 1000), _districts)
_answers = st.builds(RegistryAnswers, _people,
                     st.dictionaries(_permit_numbers, _permit_records, max_size=2))


@given(_requests, _answers)
def test_judge_is_total_deterministic_and_tells_no_personal_data(request, answers):
    outcome = judge(request, answers)
    assert judge(request, answers) == outcome
    assert (outcome.status == "verified") == (outcome.items == ())
    personal = [request.child.name, request.child.document_number, "买买提", "王",
                *(value for permit in request.residence_permits
                  for value in (permit.holder_document_number, permit.permit_number))]
    for item in outcome.items:
        assert item.code in REASONS and item.field
        assert not any(value in item.reason for value in personal)
