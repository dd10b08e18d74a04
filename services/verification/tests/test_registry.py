"""The registry CSV format, the embedded registry on the demo data, ask(), and the circuit
breaker on a clock the test turns."""

from __future__ import annotations

import pytest

from common.csv_file import CsvFileError
from services.verification.registry import (
    CSV_COLUMNS,
    CircuitBreaker,
    CircuitOpen,
    LocalRegistry,
    MemoryStore,
    RegistryRejected,
    RegistryUnavailable,
    ask,
    load_csv,
)
from services.verification.rules.checks import CheckRequest, judge
from services.verification.tests.conftest import DEMO_CSV

HEADER = ",".join(CSV_COLUMNS)
CHILD_ROW = "resident_id,110108202009010019,王小明,male,2020-09-01,haidian,,,,"
GUARDIAN_ROW = ("resident_id,370102198803150116,陈建国,male,1988-03-15,outside,"
                "JZ1101052026001,2026-03-01,2028-02-29,chaoyang")


def write(tmp_path, *rows, header=HEADER, encoding="utf-8"):
    path = tmp_path / "registry.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding=encoding)
    return path


def test_a_registry_file_gives_people_and_the_permits_they_hold(tmp_path):
    # Blank lines, spaces around values and a lower-case permit number are fine.
    data = load_csv(write(tmp_path, CHILD_ROW, "", GUARDIAN_ROW.replace("JZ", "jz").replace(
        "陈建国", " 陈建国 ")))
    assert [p.name for p in data.persons] == ["王小明", "陈建国"]
    [permit] = data.permits
    assert (permit.permit_number, permit.holder_name, permit.holder_document_number,
            permit.valid_until.isoformat(), permit.issuing_district) == (
        "JZ1101052026001", "陈建国", "370102198803150116", "2028-02-29", "chaoyang")


def test_a_byte_order_mark_and_an_hkmt_permit_holder_are_fine(tmp_path):
    hkmt = "hkmt_residence_permit,810000202009010018,李港生,male,2020-09-01,outside,,,,"
    data = load_csv(write(tmp_path, hkmt, encoding="utf-8-sig"))
    assert data.persons[0].document_type == "hkmt_residence_permit"


@pytest.mark.parametrize("row, problem", [
    ("resident_id,110108202009010019,王小明,male,2020-09-01,haidian,,,",
     "line 2: 9 fields, 10 expected"),
    ("passport,110108202009010019,王小明,male,2020-09-01,haidian,,,,", "line 2: document_type"),
    ("resident_id,110108202009010019,王小明,male,2020/09/01,haidian,,,,", "line 2: birth_date"),
    ("resident_id,110108202009010019,,male,2020-09-01,haidian,,,,", "line 2: name"),
    ("resident_id,110108202009010019,王小明,male,2020-09-01,shanghai,,,,",
     "line 2: hukou_district"),
    ("resident_id,110108202009010018,王小明,male,2020-09-01,haidian,,,,",
     "line 2: document_number: not a valid GB 11643 number"),  # check character
    ("resident_id,110108202009010019,王小明,female,2020-09-01,haidian,,,,",
     "line 2: document_number: not a valid GB 11643 number"),  # sex digit
    ("hkmt_residence_permit,110108202009010019,王小明,male,2020-09-01,haidian,,,,",
     "line 2: document_number"),
    ("resident_id,370102198803150116,陈建国,male,1988-03-15,outside,JZ1,2026-03-01,,chaoyang",
     "line 2: the four permit columns are all filled or all empty"),
    ("resident_id,370102198803150116,陈建国,male,1988-03-15,outside,JZ1,2026-03-01,2028-02-29,"
     "outside", "line 2: permit_issuing_district"),
    ("resident_id,370102198803150116,陈建国,male,1988-03-15,outside,JZ1,2026-03-01,2028-02-30,"
     "chaoyang", "line 2: permit_valid_until"),
    ("resident_id,370102198803150116,陈建国,male,1988-03-15,outside,JZ1,2029-03-01,2028-02-28,"
     "chaoyang", "line 2: Value error, valid_from is after valid_until"),
])
def test_a_malformed_row_refuses_the_file_naming_its_line_and_column(tmp_path, row, problem):
    with pytest.raises(CsvFileError) as refused:
        load_csv(write(tmp_path, row))
    [found] = refused.value.problems
    assert found.startswith(problem)
    assert "王小明" not in str(refused.value) and "陈建国" not in str(refused.value)


def test_every_problem_is_listed_with_its_line(tmp_path):
    with pytest.raises(CsvFileError) as refused:
        load_csv(write(tmp_path, CHILD_ROW, GUARDIAN_ROW, CHILD_ROW, "x",
                       GUARDIAN_ROW.replace("370102198803150116,陈建国,male,1988-03-15",
                                            "410105199007220220,杨丽,female,1990-07-22")))
    assert refused.value.problems == [
        "line 4: document_number repeats line 2", "line 5: 1 fields, 10 expected",
        "line 6: permit_number repeats line 3"]


def test_a_long_list_of_problems_is_cut_in_the_message(tmp_path):
    with pytest.raises(CsvFileError) as refused:
        load_csv(write(tmp_path, *["x"] * 25))
    assert len(refused.value.problems) == 25
    assert str(refused.value).endswith("line 21: 1 fields, 10 expected; and 5 more")


@pytest.mark.parametrize("header", ["", HEADER.replace("name", "full_name"),
                                    HEADER + ",phone"])
def test_a_file_without_the_columns_is_refused(tmp_path, header):
    with pytest.raises(CsvFileError, match="line 1: the columns must be"):
        load_csv(write(tmp_path, header=header))


def request_for(child, hukou_type, district, hukou_district=None, residence_district=None,
                permits=()):
    return CheckRequest.parse({
        "account_no": "27000100", "version": 1, "child": child, "hukou_type": hukou_type,
        "hukou_district": hukou_district or ("outside" if hukou_type == "non_beijing"
                                             else district),
        "district": district, "residence_district": residence_district or district,
        "residence_permits": list(permits), "reference_date": "2027-05-06"})


def child(name, number, birth_date, sex):
    return {"name": name, "document_type": "resident_id", "document_number": number,
            "birth_date": birth_date, "sex": sex}


def permit(holder, number, permit_number, valid_until, district):
    return {"holder_name": holder, "holder_document_number": number,
            "permit_number": permit_number, "valid_until": valid_until,
            "issuing_district": district}


WANG = child("王小明", "110108202009010019", "2020-09-01", "male")
LI = child("李小红", "110105202103150027", "2021-03-15", "female")
ZHAO = child("赵一诺", "110102202011200040", "2020-11-20", "female")
LIU = child("刘浩然", "110112202101080030", "2021-01-08", "male")
AYGUL = child("阿依古丽·买买提", "110101202105200061", "2021-05-20", "female")
CHEN = child("陈思远", "370102202012050054", "2020-12-05", "male")
YANG = child("杨雨桐", "41010520210214008X", "2021-02-14", "female")
ZHOU = child("周子轩", "510104202106300076", "2021-06-30", "male")
CHEN_PERMIT = permit("陈建国", "370102198803150116", "JZ1101052026001", "2028-02-29", "chaoyang")
YANG_PERMIT = permit("杨丽", "410105199007220220", "JZ1101062025017", "2027-03-31", "fengtai")
ZHOU_PERMIT = permit("周强", "510104198611020316", "JZ1101152026042", "2027-08-31", "daxing")


@pytest.mark.parametrize("request_args, expected", [
    # The demo family of services/accounts/demo.py.
    ((WANG, "beijing", "haidian"), []),
    ((LI, "beijing", "chaoyang"), []),
    ((ZHAO, "beijing", "xicheng"), []),
    ((AYGUL, "beijing", "dongcheng"), []),
    (({**AYGUL, "name": "阿依古丽.买买提"}, "beijing", "dongcheng"), []),
    (({**WANG, "name": "王晓明"}, "beijing", "haidian"), ["CHILD_NAME_MISMATCH"]),
    ((LIU, "beijing", "chaoyang"), ["HUKOU_DISTRICT_MISMATCH"]),
    ((LIU, "beijing", "tongzhou"), []),
    ((child("王小明", "110108202009010027", "2020-09-01", "male"), "beijing", "haidian"),
     ["CHILD_NOT_FOUND"]),
    ((LI, "non_beijing", "chaoyang", None, None, [CHEN_PERMIT]), ["HUKOU_IS_BEIJING"]),
    ((CHEN, "non_beijing", "chaoyang", None, None, [CHEN_PERMIT]), []),
    ((CHEN, "beijing", "chaoyang"), ["HUKOU_NOT_BEIJING"]),
    ((YANG, "non_beijing", "fengtai", None, None, [YANG_PERMIT]), ["PERMIT_EXPIRED"]),
    ((ZHOU, "non_beijing", "daxing", None, None, [ZHOU_PERMIT]), []),
    ((ZHOU, "non_beijing", "haidian", None, None, [{**ZHOU_PERMIT}]),
     ["PERMIT_WRONG_DISTRICT"]),
    ((ZHOU, "non_beijing", "daxing", None, None, [{**ZHOU_PERMIT, "holder_name": "周刚"}]),
     ["PERMIT_HOLDER_MISMATCH"]),
])
def test_the_demo_registry_reaches_verified_and_failed_as_the_readme_says(request_args,
                                                                          expected):
    registry = LocalRegistry(MemoryStore(load_csv(DEMO_CSV)))
    request = request_for(*request_args)
    assert [item.code for item in judge(request, ask(registry, request)).items] == expected


class Recording:
    """A Registry that answers nothing and remembers what it was asked."""

    def __init__(self):
        self.asked = []

    def person(self, document_type, document_number, idempotency_key):
        self.asked.append(("person", document_number, idempotency_key))

    def permit(self, permit_number, idempotency_key):
        self.asked.append(("permit", permit_number, idempotency_key))


def test_ask_names_each_lookup_by_account_version_and_item_and_asks_a_number_once():
    registry = Recording()
    request = request_for(CHEN, "non_beijing", "chaoyang", None, None,
                          [CHEN_PERMIT, {**CHEN_PERMIT, "holder_name": "林芳"}])
    answers = ask(registry, request)
    assert registry.asked == [("person", CHEN["document_number"], "27000100-v1-child"),
                              ("permit", "JZ1101052026001", "27000100-v1-permit-0")]
    assert answers.permits == {"JZ1101052026001": None}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def fail(breaker, error=None):
    error = error or RegistryUnavailable("timeout")
    with pytest.raises(type(error)), breaker.guard():
        raise error


def succeed(breaker):
    with breaker.guard():
        pass


def test_the_circuit_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=10, clock=Clock())
    fail(breaker)
    fail(breaker)
    succeed(breaker)  # the count starts again
    fail(breaker)
    fail(breaker, RegistryRejected("http_400"))  # an answer, if unwelcome: a success
    fail(breaker)
    fail(breaker)
    assert breaker.state == "closed"
    fail(breaker)
    assert breaker.state == "open"


def test_an_open_circuit_fails_fast_then_lets_one_trial_through():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    fail(breaker)
    clock.now += 4
    with pytest.raises(CircuitOpen) as fast, breaker.guard():
        pytest.fail("an open circuit runs nothing")
    assert fast.value.retry_after_s == 6 and str(fast.value) == "circuit_open"
    assert isinstance(fast.value, RegistryUnavailable)  # the check stays pending

    clock.now += 6
    assert breaker.state == "half_open"
    with breaker.guard():  # the trial
        with pytest.raises(CircuitOpen) as meanwhile, breaker.guard():
            pass
        assert meanwhile.value.retry_after_s == 0
    assert breaker.state == "closed"


def test_the_circuit_says_how_many_calls_it_would_let_through():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    assert breaker.admitted() is None  # closed: any number
    fail(breaker)
    assert breaker.admitted() == 0  # open
    clock.now += 10
    assert breaker.admitted() == 1  # half-open: the trial
    with breaker.guard():
        assert breaker.admitted() == 0  # the trial is running
    assert breaker.admitted() is None


def test_a_failed_trial_opens_the_circuit_for_another_period():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=10, clock=clock)
    fail(breaker)
    fail(breaker)
    clock.now += 10
    fail(breaker)  # the trial: one failure is enough
    assert breaker.state == "open"
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        succeed(breaker)
    clock.now += 0.1
    succeed(breaker)
    assert breaker.state == "closed"


def test_a_trial_cut_short_frees_the_way_for_the_next():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=10, clock=clock)
    fail(breaker)
    clock.now += 10
    with pytest.raises(KeyboardInterrupt), breaker.guard():  # e.g. its worker was killed
        raise KeyboardInterrupt
    assert breaker.state == "half_open"
    succeed(breaker)
    assert breaker.state == "closed"


@pytest.mark.parametrize("threshold, reset_s", [(0, 10), (1, 0)])
def test_a_breaker_needs_a_threshold_and_a_period(threshold, reset_s):
    with pytest.raises(ValueError):
        CircuitBreaker(threshold, reset_s)
