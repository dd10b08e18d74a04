"""Throttles and caps out of the way, for tests that are not about them: every test client
shares a few loopback addresses and registers many families within the hour."""

GENEROUS_LIMITS = {name: 100000 for name in (
    "SMS_DAILY_LIMIT_PER_PHONE", "SMS_DAILY_LIMIT_PER_IP", "SMS_HOURLY_LIMIT_PER_IP",
    "SMS_PLATFORM_BUDGET_PER_MIN", "CAPTCHAS_PER_IP_PER_MINUTE",
    "REGISTER_ATTEMPTS_PER_IP_PER_HOUR", "REGISTER_ATTEMPTS_PER_PHONE_PER_HOUR",
    "LOGIN_FAILURES_PER_IP_PER_HOUR")}
