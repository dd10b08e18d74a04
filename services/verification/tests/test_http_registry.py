"""HttpRegistry against the registry simulator running as a real process: normal, slow,
failing and recovering, stopped and restarted, many lookups at once."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import REGISTRY

from services.verification.registry import (
    CircuitBreaker,
    CircuitOpen,
    HttpRegistry,
    RegistryRejected,
    RegistryUnavailable,
    ask,
)
from services.verification.rules.checks import CheckRequest, judge
from services.verification.tests.conftest import TOKEN

DEMO_CHILD = ("resident_id", "110108202009010019")


def http_registry(simulator, token=TOKEN, timeout_s=1.0, max_attempts=3, failures=5,
                  reset_s=30.0, **options):
    return HttpRegistry(simulator.url, token, timeout_s=timeout_s, max_attempts=max_attempts,
                        backoff_s=0.01, backoff_max_s=0.05,
                        breaker=CircuitBreaker(failures, reset_s), **options)


def errors(lookup, reason):
    return REGISTRY.get_sample_value("platform_verification_registry_errors_total",
                                     {"lookup": lookup, "reason": reason}) or 0.0


def test_finds_people_and_permits_and_says_when_it_does_not(simulator):
    registry = http_registry(simulator)

    person = registry.person(*DEMO_CHILD, "27000001-v1-child")
    assert (person.name, person.hukou_district, person.birth_date.isoformat()) == (
        "王小明", "haidian", "2020-09-01")
    assert registry.person("resident_id", "110108202009010027", "27000001-v1-x") is None
    permit = registry.permit("JZ1101052026001", "27000002-v1-permit-0")
    assert (permit.holder_name, permit.issuing_district) == ("陈建国", "chaoyang")
    assert registry.permit("JZ0000000000000", "27000002-v1-permit-1") is None
    assert simulator.stats()["idempotency_keys"] == [
        ["person", "27000001-v1-child"], ["person", "27000001-v1-x"],
        ["permit", "27000002-v1-permit-0"], ["permit", "27000002-v1-permit-1"]]


def test_a_check_asked_over_http_is_judged(simulator):
    request = CheckRequest.parse({
        "account_no": "27000003", "version": 2,
        "child": {"name": "陈思远", "document_type": "resident_id",
                  "document_number": "370102202012050054", "birth_date": "2020-12-05",
                  "sex": "male"},
        "hukou_type": "non_beijing", "hukou_district": "outside", "district": "chaoyang",
        "residence_district": "chaoyang", "reference_date": "2027-05-06",
        "residence_permits": [{"holder_name": "陈建国",
                               "holder_document_number": "370102198803150116",
                               "permit_number": "JZ1101052026001", "valid_until": "2028-02-29",
                               "issuing_district": "chaoyang"}]})

    assert judge(request, ask(http_registry(simulator), request)).status == "verified"
    assert [key for _, key in simulator.stats()["idempotency_keys"]] == [
        "27000003-v2-child", "27000003-v2-permit-0"]


def test_a_slow_answer_times_out_and_the_retry_gets_the_answer_with_the_same_key(simulator):
    simulator.configure(script=[{"delay_ms": 1500}])
    timeouts = errors("person", "timeout")
    registry = http_registry(simulator, timeout_s=0.3)

    started = time.monotonic()
    assert registry.person(*DEMO_CHILD, "27000004-v1-child").name == "王小明"
    assert time.monotonic() - started < 1.2  # the retry did not wait for the slow answer
    assert simulator.stats()["idempotency_keys"] == [["person", "27000004-v1-child"]] * 2
    assert errors("person", "timeout") == timeouts + 1


def test_a_registry_too_slow_every_time_is_unavailable_within_the_lookup_bound(simulator):
    simulator.configure(latency_ms=1000)
    registry = http_registry(simulator, timeout_s=0.2, max_attempts=2)

    started = time.monotonic()
    with pytest.raises(RegistryUnavailable, match="^timeout$"):
        registry.person(*DEMO_CHILD, "27000005-v1-child")
    assert time.monotonic() - started < registry.max_lookup_s
    assert simulator.stats()["requests"] == 2


def test_failures_are_retried_with_one_key_and_recovery_answers(simulator):
    simulator.configure(script=[{"status": 503}, {"status": 500}])
    registry = http_registry(simulator)
    assert registry.person(*DEMO_CHILD, "27000006-v1-child").name == "王小明"
    stats = simulator.stats()
    assert stats["statuses"] == {"503": 1, "500": 1, "200": 1}
    assert stats["idempotency_keys"] == [["person", "27000006-v1-child"]] * 3

    simulator.configure(fail_rate=1.0)
    with pytest.raises(RegistryUnavailable, match="^http_503$") as failure:
        registry.person(*DEMO_CHILD, "27000007-v1-child")
    assert "110108" not in str(failure.value) and failure.value.__cause__ is None
    assert simulator.stats()["statuses"]["503"] == 1 + 3

    simulator.configure(fail_rate=0.0)
    assert registry.person(*DEMO_CHILD, "27000007-v1-child").name == "王小明"


def test_refusals_are_not_retried(simulator):
    with pytest.raises(RegistryRejected, match="^http_401$"):
        http_registry(simulator, token="wrong").person(*DEMO_CHILD, "27000008-v1-child")
    registry = http_registry(simulator)
    registry.person(*DEMO_CHILD, "27000009-v1-child")
    with pytest.raises(RegistryRejected, match="^http_409$"):  # one key, two lookups
        registry.permit("JZ1101052026001", "27000009-v1-child")
    assert simulator.stats()["statuses"] == {"401": 1, "200": 1, "409": 1}


def test_a_wrong_url_is_a_refusal_never_a_person_not_found(simulator):
    registry = HttpRegistry(simulator.url + "/registry", TOKEN)
    with pytest.raises(RegistryRejected, match="^http_404$"):
        registry.person(*DEMO_CHILD, "27000010-v1-child")


def test_a_stopped_registry_opens_the_circuit_which_closes_after_the_restart(simulator):
    registry = http_registry(simulator, max_attempts=2, failures=3, reset_s=1.0)
    simulator.stop()

    with pytest.raises(RegistryUnavailable, match="^connection$"):
        registry.person(*DEMO_CHILD, "27000011-v1-child")  # two failures
    refused = errors("person", "circuit_open")
    with pytest.raises(CircuitOpen) as fast:  # the third failure opens it, mid-lookup
        registry.person(*DEMO_CHILD, "27000012-v1-child")
    assert registry.breaker.state == "open" and 0.5 < fast.value.retry_after_s <= 1.0

    simulator.start()
    started = time.monotonic()
    with pytest.raises(CircuitOpen):  # still open: the registry is left alone
        registry.person(*DEMO_CHILD, "27000013-v1-child")
    assert time.monotonic() - started < 0.1
    assert errors("person", "circuit_open") == refused + 2
    assert simulator.stats()["requests"] == 0

    time.sleep(1.0)
    assert registry.breaker.state == "half_open"
    assert registry.person(*DEMO_CHILD, "27000013-v1-child").name == "王小明"  # the trial
    assert registry.breaker.state == "closed"
    assert registry.person(*DEMO_CHILD, "27000014-v1-child").name == "王小明"


def test_a_failed_trial_opens_the_circuit_again(simulator):
    registry = http_registry(simulator, max_attempts=1, failures=1, reset_s=0.3)
    simulator.stop()
    with pytest.raises(RegistryUnavailable, match="^connection$"):
        registry.person(*DEMO_CHILD, "27000015-v1-child")
    assert registry.breaker.state == "open"

    time.sleep(0.3)
    with pytest.raises(RegistryUnavailable, match="^connection$"):  # the trial
        registry.person(*DEMO_CHILD, "27000015-v1-child")
    with pytest.raises(CircuitOpen):
        registry.person(*DEMO_CHILD, "27000015-v1-child")


def run_at_once(count, lookup):
    """Runs `lookup(n)` for n in range(count) in threads (green ones in these tests); returns
    each one's result or exception, and the time it all took."""
    results: list = [None] * count

    def one(n):
        try:
            results[n] = lookup(n)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.monotonic() - started


def test_half_open_lets_a_single_trial_through(simulator):
    registry = http_registry(simulator, max_attempts=1, failures=1, reset_s=0.3)
    simulator.configure(script=[{"status": 503}], latency_ms=300)
    with pytest.raises(RegistryUnavailable):
        registry.person(*DEMO_CHILD, "27000016-v1-child")

    time.sleep(0.3)
    results, _ = run_at_once(5, lambda n: registry.person(*DEMO_CHILD, f"2700002{n}-v1-child"))
    assert sum(isinstance(result, CircuitOpen) for result in results) == 4
    assert sum(getattr(result, "name", None) == "王小明" for result in results) == 1
    assert simulator.stats()["requests"] == 2  # the failure, then the one trial
    assert registry.breaker.state == "closed"


def test_lookups_overlap_up_to_the_pool_size(simulator):
    simulator.configure(latency_ms=300)
    registry = http_registry(simulator, pool_size=8)

    results, elapsed = run_at_once(
        8, lambda n: registry.person(*DEMO_CHILD, f"2700003{n}-v1-child"))
    assert [result.name for result in results] == ["王小明"] * 8
    assert simulator.stats()["max_in_flight"] == 8
    assert elapsed < 1.2  # not 8 × 0.3 s one after the other


@pytest.mark.parametrize("answer, reason", [
    ([], "malformed_answer"),
    ({"found": "yes"}, "malformed_answer"),
    ({"found": True}, "malformed_answer"),
    ({"found": True, "person": {"name": "王小明"}}, "malformed_answer"),
    ({"found": True, "person": {"document_type": "resident_id",
                                "document_number": "110105202103150027", "name": "李小红",
                                "birth_date": "2021-03-15", "sex": "female",
                                "hukou_district": "chaoyang"}}, "answer_for_another_key"),
])
def test_an_answer_outside_the_contract_is_a_refusal_not_a_verdict(simulator, answer, reason):
    simulator.configure(script=[{"answer": answer}])
    registry = http_registry(simulator)
    with pytest.raises(RegistryRejected, match=f"^{reason}$"):
        registry.person(*DEMO_CHILD, "27000040-v1-child")
    assert simulator.stats()["requests"] == 1  # not retried
    assert registry.breaker.state == "closed"  # the registry did answer
