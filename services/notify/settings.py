"""Environment variables of the notify service (documented in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.registry import PROCESSES
from common.settings import DEV_DATABASE, ServiceSettings, role_url


class NotifySettings(ServiceSettings):
    DATABASE_ROLE = PROCESSES["notify"].role
    DATABASE_URL: str = Field(role_url(DEV_DATABASE, DATABASE_ROLE), repr=False)  # a password
    SMS_RETENTION_DAYS: int = 30  # texts to phones that never registered are kept this long
    SMS_BACKEND: Literal["outbox", "http"] = "outbox"
    SMS_OUTBOX_PATH: str = "var/sms-outbox.jsonl"
    SMS_HTTP_URL: str = ""
    SMS_HTTP_TOKEN: str = ""
    SMS_HTTP_TIMEOUT_S: float = 5.0
    SMS_HTTP_MAX_ATTEMPTS: int = 3
    # A text being sent stays with its sender this long beyond the longest send (the backend's
    # timeouts and retries), so that two senders never hold it at once; after that, its sender
    # having died, the retry loop sends it (a repeat of a sent text is refused by its id).
    SMS_LEASE_MARGIN_S: float = Field(30.0, ge=1)
    SMS_SIGNATURE: str = "【北京市义务教育入学服务平台】"

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.SMS_BACKEND == "outbox":
            problems.append("SMS_BACKEND=outbox writes texts to a local file instead of sending")
        elif not self.SMS_HTTP_URL:
            problems.append("SMS_BACKEND=http needs SMS_HTTP_URL")
        return problems
