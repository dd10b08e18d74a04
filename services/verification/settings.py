"""Environment variables of the verification service (documented in the README)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.registry import PROCESSES
from common.settings import DEV_DATABASE, ServiceSettings, role_url


class VerificationSettings(ServiceSettings):
    DATABASE_ROLE = PROCESSES["verification"].role
    DATABASE_URL: str = Field(role_url(DEV_DATABASE, DATABASE_ROLE), repr=False)  # a password
    # local: the embedded registry in verification's schema (load_registry); http: the
    # population registry's JSON API (REGISTRY_API.md).
    VERIFICATION_REGISTRY: Literal["local", "http"] = "local"
    REGISTRY_HTTP_URL: str = ""
    REGISTRY_HTTP_TOKEN: str = Field("", repr=False)
    REGISTRY_HTTP_TIMEOUT_S: float = Field(2.0, gt=0)
    REGISTRY_HTTP_MAX_ATTEMPTS: int = Field(3, ge=1)
    REGISTRY_HTTP_BACKOFF_S: float = Field(0.2, ge=0)
    REGISTRY_HTTP_BACKOFF_MAX_S: float = Field(2.0, ge=0)
    REGISTRY_BREAKER_FAILURES: int = Field(5, ge=1)
    REGISTRY_BREAKER_RESET_S: float = Field(10.0, gt=0)
    REGISTRY_HTTP_POOL_SIZE: int = Field(0, ge=0)  # 0: VERIFICATION_CONCURRENCY
    # Checks in flight at once (green threads; the registry's answers are awaited, not
    # computed, so many overlap on one core).
    VERIFICATION_CONCURRENCY: int = Field(16, ge=1, le=500)
    # A check the registry could not answer is tried again after a wait that doubles with
    # each attempt, from VERIFICATION_RETRY_S to VERIFICATION_RETRY_MAX_S.
    VERIFICATION_RETRY_S: float = Field(1.0, gt=0)
    VERIFICATION_RETRY_MAX_S: float = Field(60.0, gt=0)
    # A check being run stays with its runner this long beyond its longest possible lookups,
    # so that two runners never hold it at once.
    VERIFICATION_LEASE_MARGIN_S: float = Field(30.0, ge=1)

    @property
    def registry_pool_size(self) -> int:
        return self.REGISTRY_HTTP_POOL_SIZE or self.VERIFICATION_CONCURRENCY

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.VERIFICATION_REGISTRY == "local":
            problems.append("VERIFICATION_REGISTRY=local checks against the embedded demo "
                            "registry instead of the population registry")
        elif not self.REGISTRY_HTTP_URL.startswith("https://"):
            problems.append("VERIFICATION_REGISTRY=http needs an https:// REGISTRY_HTTP_URL")
        return problems
