"""Environment variables of the accounts service (documented in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.registry import PROCESSES
from common.settings import DEV_DATABASE, ServiceSettings, role_url


class AccountsSettings(ServiceSettings):
    DATABASE_ROLE = PROCESSES["accounts"].role
    DATABASE_URL: str = Field(role_url(DEV_DATABASE, DATABASE_ROLE), repr=False)  # a password
    SEASON_YEAR: int = 2027
    NOTICE_MIN_READ_S: int = 10
    PRIVACY_POLICY_VERSION: str = "2027.1"
    CAPTCHA_BACKEND: Literal["image", "fixed"] = "image"
    CAPTCHA_FIXED_ANSWER: str = "2468"
    CAPTCHA_TTL_S: int = 300
    SMS_CODE_TTL_S: int = 300
    SMS_RESEND_COOLDOWN_S: int = 180
    SMS_DAILY_LIMIT_PER_PHONE: int = 10
    SMS_DAILY_LIMIT_PER_IP: int = 50
    SMS_MAX_WRONG_TRIES: int = 5
    SMS_HOURLY_LIMIT_PER_IP: int = 10
    SMS_PLATFORM_BUDGET_PER_MIN: int = 600
    SMS_BUDGET_ALERT_RATIO: float = 0.8
    CAPTCHAS_PER_IP_PER_MINUTE: int = 30
    REGISTER_ATTEMPTS_PER_IP_PER_HOUR: int = 60
    REGISTER_ATTEMPTS_PER_PHONE_PER_HOUR: int = 10
    ARGON2_MEMORY_KIB: int = 19456
    ARGON2_TIME_COST: int = 2
    ARGON2_PARALLELISM: int = 1
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_LOCK_MINUTES: int = 30
    LOGIN_FAILURES_PER_IP_PER_HOUR: int = 30
    SESSION_IDLE_TIMEOUT_S: int = 1800
    SESSION_ABSOLUTE_TIMEOUT_S: int = 43200

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.CAPTCHA_BACKEND == "fixed":
            problems.append("CAPTCHA_BACKEND=fixed is for tests only")
        if self.ARGON2_MEMORY_KIB < 19456 or self.ARGON2_TIME_COST < 2:
            problems.append("argon2id below m=19 MiB, t=2")
        return problems
