"""Fixed-window throttles and the per-address subject they count."""

from datetime import UTC, datetime, timedelta

import pytest

from common.client_address import rate_limit_subject
from common.errors import DomainError
from common.throttle import Limit, alert_due, check, window_start

T0 = datetime(2027, 5, 6, 1, 59, 30, tzinfo=UTC)  # 09:59:30 in Beijing


def test_windows_start_on_the_minute_the_hour_and_beijing_midnight():
    assert window_start(T0, 60) == datetime(2027, 5, 6, 1, 59, tzinfo=UTC)
    assert window_start(T0, 3600) == datetime(2027, 5, 6, 1, 0, tzinfo=UTC)
    assert window_start(T0, 86400) == datetime(2027, 5, 5, 16, 0, tzinfo=UTC)


def test_the_limit_passes_then_refuses_with_the_wait_to_the_next_window():
    limit = Limit("register_ip", 3, 3600)
    for count in (1, 2, 3):
        check(limit, count, T0)
    with pytest.raises(DomainError) as caught:
        check(limit, 4, T0)
    assert caught.value.code == "RATE_LIMITED" and caught.value.http_status == 429
    assert caught.value.extra["retry_after_s"] == 30  # 10:00 in Beijing
    check(limit, 1, T0 + timedelta(seconds=30))  # a new window, a new count


def test_a_limit_can_answer_with_its_own_code():
    with pytest.raises(DomainError) as caught:
        check(Limit("sms_platform", 600, 60, "SMS_BUSY"), 601, T0)
    assert caught.value.code == "SMS_BUSY" and caught.value.http_status == 503
    assert caught.value.extra["retry_after_s"] == 30


def test_the_budget_alert_is_due_once_per_window():
    due = [count for count in range(1, 700) if alert_due(count, 600, 0.8)]
    assert due == [480]


@pytest.mark.parametrize("address, subject", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64: one client
    ("2001:DB8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:198.51.100.2", "198.51.100.2"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", ""),
    ("not an address", "not an address"),
    ("x" * 100, "x" * 64),
])
def test_the_rate_limit_subject_groups_ipv6_by_64(address, subject):
    assert rate_limit_subject(address) == subject
