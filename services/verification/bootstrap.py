"""The verification service wired once: what its entrypoints and its check runner use, for
the service (service.py), the load command and the tests. Nothing here imports nameko or
eventlet."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from services.verification.registry import (
    CircuitBreaker,
    CircuitOpen,
    HttpRegistry,
    LocalRegistry,
    Registry,
    RegistryError,
    RegistryRejected,
    ask,
)
from services.verification.rules.checks import judge
from services.verification.storage import CheckStore, Claim, RegistryTable

log = logging.getLogger(__name__)

# The embedded registry answers from the database: a lookup takes milliseconds.
LOCAL_LOOKUP_S = 10.0
# A check asks for the child and at most two permits.
LOOKUPS_PER_CHECK = 3


@dataclass(frozen=True)
class VerificationApp:
    checks: CheckStore
    registry: Registry  # one per container: its connection pool and circuit breaker
    lease_s: float  # a runner holds a check this long: its longest run, and a margin
    retry_s: float
    retry_max_s: float

    def run(self, claim: Claim) -> str:
        """Runs one claimed check to its end or back to pending; returns what happened:
        `verified`, `failed`, `stale` (cancelled or taken over meanwhile), or `retry`."""
        try:
            outcome = judge(claim.request, ask(self.registry, claim.request))
        except RegistryError as exc:
            delay = self.retry_delay(claim.attempts)
            if isinstance(exc, CircuitOpen):
                delay = max(delay, exc.retry_after_s)
            if isinstance(exc, RegistryRejected):  # needs someone to fix it: loudly, slowly
                log.error("registry refused a check; it stays pending", extra={
                    "reason": exc.reason, "attempts": claim.attempts})
                delay = self.retry_max_s
            else:
                log.warning("registry unavailable; check retried later", extra={
                    "reason": exc.reason, "attempts": claim.attempts,
                    "retry_in_s": round(delay, 2)})
            self.checks.retry_later(claim, exc.reason, delay)
            return "retry"
        if not self.checks.finish(claim, outcome):
            return "stale"
        return outcome.status

    def retry_delay(self, attempts: int) -> float:
        """Doubles with each attempt, up to the maximum; up to a quarter more at random, so
        that checks that failed together (an outage) come back spread out."""
        delay = min(self.retry_max_s, self.retry_s * 2 ** min(max(attempts - 1, 0), 20))
        return delay * (1 + random.random() / 4)  # noqa: S311  (not a secret)


def registry_from_settings(settings, pool) -> tuple[Registry, float]:
    """The configured registry adapter and the longest a check's lookups can take."""
    if settings.VERIFICATION_REGISTRY == "http":
        registry = HttpRegistry(
            settings.REGISTRY_HTTP_URL, settings.REGISTRY_HTTP_TOKEN,
            timeout_s=settings.REGISTRY_HTTP_TIMEOUT_S,
            max_attempts=settings.REGISTRY_HTTP_MAX_ATTEMPTS,
            backoff_s=settings.REGISTRY_HTTP_BACKOFF_S,
            backoff_max_s=settings.REGISTRY_HTTP_BACKOFF_MAX_S,
            breaker=CircuitBreaker(settings.REGISTRY_BREAKER_FAILURES,
                                   settings.REGISTRY_BREAKER_RESET_S),
            pool_size=settings.registry_pool_size)
        return registry, registry.max_lookup_s * LOOKUPS_PER_CHECK
    return LocalRegistry(RegistryTable(pool, settings.master_keys)), LOCAL_LOOKUP_S


def build(settings, pool, publish=lambda events: None) -> VerificationApp:
    """Verification's store and registry adapter on `pool` (logged in as its role);
    `publish` is the outbox relay's, which publishes each committed `check_finished`."""
    registry, longest_s = registry_from_settings(settings, pool)
    return VerificationApp(
        checks=CheckStore(pool, settings.master_keys, publish), registry=registry,
        lease_s=longest_s + settings.VERIFICATION_LEASE_MARGIN_S,
        retry_s=settings.VERIFICATION_RETRY_S, retry_max_s=settings.VERIFICATION_RETRY_MAX_S)



