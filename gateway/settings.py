"""Environment variables of the gateway (documented in the README)."""

from __future__ import annotations

from pydantic import Field

from common.settings import DEV_KEYS, ProcessSettings


class GatewaySettings(ProcessSettings):
    GATEWAY_HOST: str = "127.0.0.1"
    GATEWAY_PORT: int = 8000
    CSRF_SECRET_KEY: str = DEV_KEYS["CSRF_SECRET_KEY"]
    COOKIE_SECURE: bool | None = None  # None: Secure cookies exactly in production
    MAX_BODY_BYTES: int = 64 * 1024
    # Cheap requests at once (every route that declares no expensive work); beyond this,
    # answer 503 "retry later" at once.
    GATEWAY_MAX_INFLIGHT: int = 400
    # The waiting rooms (gateway/waiting_room.py): one per service whose expensive calls
    # routes make (`@route(..., expensive="accounts")`), each with this many places.
    WAITING_ROOM_SLOTS: int = Field(24, ge=1)
    WAITING_ROOM_HOLD_S: float = Field(0.25, ge=0)  # an asker's wait for a place, at most
    WAITING_ROOM_MAX_LINE: int = Field(20000, ge=1)  # tickets per room
    WAITING_ROOM_MAX_BYTES: int = Field(64 * 1024 * 1024, ge=0)  # kept requests per room
    WAITING_ROOM_PER_ADDRESS: int = Field(30, ge=1)  # tickets per client address and room
    # A ticket not brought back this long after its retry_after_s is dropped.
    WAITING_ROOM_GRACE_S: float = Field(30, ge=1)
    WAITING_ROOM_MAX_RETRY_S: int = Field(10, ge=1)  # the longest retry_after_s given
    MAX_WORKERS: int = 500
    TRUST_FORWARDED_FOR: bool = False  # True behind a reverse proxy that sets X-Forwarded-For
    # How many trusted proxies append to X-Forwarded-For: the client address is this many
    # entries from the right (everything further left was written by the client).
    TRUSTED_PROXY_HOPS: int = Field(1, ge=1)
    # The origin browsers see (https://www.example.gov.cn); unset: the request's own
    # scheme and Host. State-changing requests from any other Origin are refused.
    PUBLIC_ORIGIN: str | None = None
    # Checks of printed forms (/verify/<token>, the QR code) per client address and minute, in
    # each gateway process's memory: a school desk scans a few a minute, a guesser many.
    VERIFY_CHECKS_PER_IP_PER_MINUTE: int = Field(60, ge=1)

    @property
    def secure_cookies(self) -> bool:
        return self.production if self.COOKIE_SECURE is None else self.COOKIE_SECURE

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.COOKIE_SECURE is False:
            problems.append("COOKIE_SECURE=false")
        return problems
