"""The population registry, as verification asks it: an interface and its two adapters.

- `HttpRegistry`: the registry's JSON API (REGISTRY_API.md), with a timeout per request,
  retries with exponential backoff on failures that may pass, and a circuit breaker.
- `LocalRegistry`: an embedded registry read from a store (verification's own schema; memory
  in tests), loaded from a CSV file (`load_csv`) for development and demos.

Plain code without nameko or eventlet: blocking calls, safe in OS threads and green threads.
Errors name an HTTP status or a kind of failure, never a person; numbers travel in request
bodies, never in URLs, so no proxy or access log holds them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import requests
import tenacity
from prometheus_client import Counter, Histogram
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from common import csv_file
from common.identity import InvalidIdNumber, parse_id_number
from services.verification.rules.checks import (
    CheckRequest,
    PermitRecord,
    PersonRecord,
    RegistryAnswers,
)

log = logging.getLogger(__name__)

REGISTRY_LATENCY = Histogram(
    "platform_verification_registry_seconds",
    "Time of each request to the population registry (circuit-open fast failures excluded)",
    ["lookup", "outcome"], buckets=(.01, .025, .05, .1, .2, .3, .5, 1, 2, 5))
REGISTRY_ERRORS = Counter(
    "platform_verification_registry_errors_total",
    "Registry requests that gave no answer, and lookups refused by the open circuit",
    ["lookup", "reason"])


class RegistryError(Exception):
    """The registry gave no answer to judge by: the check stays pending. The message is a
    short label (`http_503`, `timeout`, ...), also used as the error metric's reason."""

    @property
    def reason(self) -> str:
        return str(self)


class RegistryUnavailable(RegistryError):
    """Down, too slow or overloaded, even after the retries: check again later."""


class CircuitOpen(RegistryUnavailable):
    """Failed fast, the registry untouched: it failed too often lately and is left alone until
    `retry_after_s` has passed."""

    def __init__(self, retry_after_s: float):
        super().__init__("circuit_open")
        self.retry_after_s = retry_after_s


class RegistryRejected(RegistryError):
    """The registry refused the request (a 4xx) or answered outside the contract: sending it
    again cannot help until someone fixes the configuration or one of the two sides."""


class Registry(Protocol):
    """Lookups by the registry's keys, numbers in canonical form (upper-case, as CheckRequest
    has them). `idempotency_key` names the lookup: the same lookup repeated (a retry, a check
    run again after a crash) sends the same key."""

    def person(self, document_type: str, document_number: str,
               idempotency_key: str) -> PersonRecord | None: ...

    def permit(self, permit_number: str, idempotency_key: str) -> PermitRecord | None: ...

    def admitted(self) -> int | None:
        """How many checks may ask it now (None: any number): none while it is known to be
        down, so that checks stay pending untouched instead of each failing fast."""


def ask(registry: Registry, request: CheckRequest) -> RegistryAnswers:
    """Everything `judge` needs for one request, one lookup after the other. Raises
    RegistryError when any lookup gets no answer: a check is judged on all answers or not at
    all. The keys carry the account number and version, never a person's number."""
    check = f"{request.account_no}-v{request.version}"
    child = request.child
    person = registry.person(child.document_type, child.document_number, f"{check}-child")
    permits: dict[str, PermitRecord | None] = {}
    for index, permit in enumerate(request.residence_permits):
        if permit.permit_number not in permits:  # two guardians typed one number
            permits[permit.permit_number] = registry.permit(permit.permit_number,
                                                            f"{check}-permit-{index}")
    return RegistryAnswers(person, permits)


class CircuitBreaker:
    """Keeps calls away from a registry that keeps failing, so that checks fail fast (and stay
    pending) instead of each waiting for its timeouts, and the registry recovers unloaded.

    Closed: calls pass; `failure_threshold` consecutive failures open the circuit. Open: calls
    fail fast with CircuitOpen for `reset_timeout_s`. Then half-open: one trial call passes
    while the others still fail fast; its success closes the circuit, its failure opens it for
    another `reset_timeout_s`.

    A failure is a RegistryUnavailable raised in `guard()`; any answer from the registry, a
    refusal included, is a success. The lock is held only to read and update the state, never
    during a call: safe for OS threads and, monkey-patched, for green threads.
    """

    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError("the threshold is at least 1 and the reset timeout positive")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # consecutive
        self._opened_at: float | None = None  # None while closed
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial_running or self._clock() - self._opened_at >= self.reset_timeout_s:
                return "half_open"
            return "open"

    def admitted(self) -> int | None:
        """How many calls would pass now: None, any number (closed); 1, the trial (half-open,
        none running); 0, none (open, or the trial running)."""
        with self._lock:
            if self._opened_at is None:
                return None
            if self._trial_running or self._clock() - self._opened_at < self.reset_timeout_s:
                return 0
            return 1

    @contextmanager
    def guard(self) -> Iterator[None]:
        trial = self._admit()
        try:
            yield
        except RegistryUnavailable:
            self._settle(trial, failed=True)
            raise
        except RegistryRejected:
            self._settle(trial, failed=False)
            raise
        except BaseException:
            # Neither health nor failure shown (a bug, a killed worker): free the trial, so
            # the next call tries again instead of the circuit staying half-open for good.
            if trial:
                with self._lock:
                    self._trial_running = False
            raise
        else:
            self._settle(trial, failed=False)

    def _admit(self) -> bool:
        """True for the half-open trial; raises CircuitOpen to fail fast."""
        with self._lock:
            if self._opened_at is None:
                return False
            wait = self._opened_at + self.reset_timeout_s - self._clock()
            if wait > 0 or self._trial_running:
                raise CircuitOpen(max(wait, 0.0))
            self._trial_running = True
            return True

    def _settle(self, trial: bool, failed: bool) -> None:
        with self._lock:
            if trial:
                self._trial_running = False
            if not failed:
                if self._opened_at is not None:
                    log.info("registry circuit closed")
                self._failures, self._opened_at = 0, None
                return
            self._failures += 1
            # A failed trial reopens at once; a late failure of a call admitted before the
            # circuit opened only restarts the wait.
            if trial or self._failures >= self.failure_threshold:
                if self._opened_at is None:
                    log.warning("registry circuit opened", extra={
                        "failures": self._failures, "reset_timeout_s": self.reset_timeout_s})
                self._opened_at = self._clock()


Record = TypeVar("Record", PersonRecord, PermitRecord)
# What may pass if asked again: the network, the registry's own trouble, its asking us to slow
# down (429), a gateway's timeout (408).
_TRANSIENT_STATUSES = frozenset({408, 429})


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, RegistryUnavailable) and not isinstance(exc, CircuitOpen)


class HttpRegistry:
    """The registry's JSON API (REGISTRY_API.md). Each attempt has `timeout_s` to connect and
    `timeout_s` between bytes read, and passes the circuit breaker; up to `max_attempts`
    attempts, `backoff_s` doubling up to `backoff_max_s` (plus up to `backoff_s` at random)
    between them. Every attempt of a lookup sends the same Idempotency-Key. One instance serves
    all threads: `pool_size` connections are kept open (set it to the checks run at once)."""

    def __init__(self, url: str, token: str = "", timeout_s: float = 2.0, max_attempts: int = 3,
                 backoff_s: float = 0.2, backoff_max_s: float = 2.0,
                 breaker: CircuitBreaker | None = None, pool_size: int = 10):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker()
        # The longest a lookup can take: a caller leasing a check must hold it at least so long.
        self.max_lookup_s = (max_attempts * 2 * timeout_s
                             + (max_attempts - 1) * (backoff_max_s + backoff_s))
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(_worth_retrying),
            stop=tenacity.stop_after_attempt(max_attempts),
            # The jitter spreads the retries of checks that failed together (an outage).
            wait=(tenacity.wait_exponential(multiplier=backoff_s, max=backoff_max_s)
                  + tenacity.wait_random(0, backoff_s)),
            reraise=True)

    def admitted(self) -> int | None:
        return self.breaker.admitted()

    def person(self, document_type: str, document_number: str,
               idempotency_key: str) -> PersonRecord | None:
        person = self._lookup("person", {"document_type": document_type,
                                         "document_number": document_number},
                              idempotency_key, PersonRecord)
        if person and (person.document_type, person.document_number) != (document_type,
                                                                           document_number):
            raise RegistryRejected("answer_for_another_key")
        return person

    def permit(self, permit_number: str, idempotency_key: str) -> PermitRecord | None:
        permit = self._lookup("permit", {"permit_number": permit_number}, idempotency_key,
                              PermitRecord)
        if permit and permit.permit_number != permit_number:
            raise RegistryRejected("answer_for_another_key")
        return permit

    def _lookup(self, lookup: str, body: dict, key: str, model: type[Record]) -> Record | None:
        try:
            # A copy per lookup: the retry state belongs to this lookup only.
            return self._retrying.copy()(self._attempt, lookup, body, key, model)
        except RegistryError as exc:
            if isinstance(exc, CircuitOpen):  # attempts count their own failures
                REGISTRY_ERRORS.labels(lookup, exc.reason).inc()
            raise

    def _attempt(self, lookup: str, body: dict, key: str, model: type[Record]) -> Record | None:
        with self.breaker.guard():
            started = time.monotonic()
            try:
                answer = self._post(lookup, body, key, model)
            except RegistryError as exc:
                REGISTRY_LATENCY.labels(lookup, "error").observe(time.monotonic() - started)
                REGISTRY_ERRORS.labels(lookup, exc.reason).inc()
                raise
            REGISTRY_LATENCY.labels(lookup, "ok").observe(time.monotonic() - started)
            return answer

    def _post(self, lookup: str, body: dict, key: str, model: type[Record]) -> Record | None:
        try:
            response = self._session.post(f"{self.url}/v1/{lookup}-lookups", json=body,
                                          headers={"Idempotency-Key": key},
                                          timeout=self.timeout_s)
        # `from None` everywhere: requests' own messages name the URL and more.
        except requests.Timeout:
            raise RegistryUnavailable("timeout") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            raise RegistryUnavailable("connection") from None
        except requests.RequestException:  # e.g. an invalid URL: asking again cannot help
            raise RegistryRejected("request_error") from None
        status = response.status_code
        if status >= 500 or status in _TRANSIENT_STATUSES:
            raise RegistryUnavailable(f"http_{status}")
        if status != 200:
            # 404 included: "not found" is a 200 with found=false, so a wrong URL can never
            # fail every family as unknown to the registry.
            raise RegistryRejected(f"http_{status}")
        try:
            answer = response.json()
            if answer["found"] is False:
                return None
            if answer["found"] is not True:
                raise ValueError("found is true or false")
            return model.model_validate(answer[lookup])
        except (ValueError, KeyError, TypeError):  # ValidationError is a ValueError
            raise RegistryRejected("malformed_answer") from None


class RegistryStore(Protocol):
    """Where the embedded registry is kept: verification's schema (storage), or memory. A store
    that cannot answer raises RegistryUnavailable, so that the check stays pending."""

    def find_person(self, document_type: str, document_number: str) -> PersonRecord | None: ...

    def find_permit(self, permit_number: str) -> PermitRecord | None: ...


class LocalRegistry:
    """The embedded registry. Nothing travels, so there is nothing to retry or deduplicate:
    the idempotency key is not needed."""

    def __init__(self, store: RegistryStore):
        self.store = store

    def person(self, document_type: str, document_number: str,
               idempotency_key: str) -> PersonRecord | None:
        return self.store.find_person(document_type, document_number)

    def permit(self, permit_number: str, idempotency_key: str) -> PermitRecord | None:
        return self.store.find_permit(permit_number)

    def admitted(self) -> None:
        return None


@dataclass(frozen=True)
class RegistryData:
    persons: tuple[PersonRecord, ...] = ()
    permits: tuple[PermitRecord, ...] = ()


class MemoryStore:
    """A RegistryStore in a dict: tests and the registry simulator."""

    def __init__(self, data: RegistryData):
        self._persons = {(p.document_type, p.document_number): p for p in data.persons}
        self._permits = {p.permit_number: p for p in data.permits}

    def find_person(self, document_type: str, document_number: str) -> PersonRecord | None:
        return self._persons.get((document_type, document_number))

    def find_permit(self, permit_number: str) -> PermitRecord | None:
        return self._permits.get(permit_number)


# One row per person; a person holding a 北京市居住证 has the four permit columns filled,
# anyone else has them empty. Dates are YYYY-MM-DD, districts the platform's codes
# (common/districts.py) or `outside` for a hukou outside Beijing.
CSV_COLUMNS = ("document_type", "document_number", "name", "sex", "birth_date",
               "hukou_district", "permit_number", "permit_valid_from", "permit_valid_until",
               "permit_issuing_district")
_PERSON_COLUMNS = CSV_COLUMNS[:6]
_PERMIT_COLUMNS = CSV_COLUMNS[6:]


def load_csv(path: str | Path) -> RegistryData:
    """Reads a registry CSV file (common/csv_file.py, header `CSV_COLUMNS`). The whole file
    or nothing: any malformed row refuses it (CsvFileError)."""
    problems: list[str] = []
    persons: dict[tuple[str, str], tuple[int, PersonRecord]] = {}
    permits: dict[str, tuple[int, PermitRecord]] = {}
    for line, row in csv_file.rows(path, CSV_COLUMNS, problems):
        try:
            person, permit = _row_records(row)
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
            continue
        key = (person.document_type, person.document_number)
        if key in persons:
            problems.append(f"line {line}: document_number repeats line {persons[key][0]}")
            continue
        persons[key] = (line, person)
        if permit is None:
            continue
        if permit.permit_number in permits:
            problems.append(f"line {line}: permit_number repeats line "
                            f"{permits[permit.permit_number][0]}")
            continue
        permits[permit.permit_number] = (line, permit)
    if problems:
        raise csv_file.CsvFileError(path, problems)
    return RegistryData(tuple(person for _, person in persons.values()),
                        tuple(permit for _, permit in permits.values()))


def _row_records(row: dict[str, str]) -> tuple[PersonRecord, PermitRecord | None]:
    person = _validated(PersonRecord, {column: row[column] for column in _PERSON_COLUMNS}, "")
    try:
        parsed = parse_id_number(person.document_type, person.document_number)
    except InvalidIdNumber:
        parsed = None
    if parsed is None or (parsed.birth_date, parsed.sex) != (person.birth_date, person.sex):
        raise ValueError("document_number: not a valid GB 11643 number for this document type, "
                         "birth date and sex") from None
    filled = [column for column in _PERMIT_COLUMNS if row[column]]
    if not filled:
        return person, None
    if len(filled) < len(_PERMIT_COLUMNS):
        raise ValueError("the four permit columns are all filled or all empty")
    permit = _validated(PermitRecord, {
        "permit_number": row["permit_number"], "holder_name": person.name,
        "holder_document_number": person.document_number,
        "valid_from": row["permit_valid_from"], "valid_until": row["permit_valid_until"],
        "issuing_district": row["permit_issuing_district"]}, "permit_")
    return person, permit


def _validated(model: type[BaseModel], values: dict, prefix: str):
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        # Each error's place and message only: pydantic's full text repeats the input.
        raise ValueError("; ".join(
            f"{_column(error['loc'], prefix)}: {error['msg']}" if error["loc"] else error["msg"]
            for error in exc.errors())) from None


def _column(loc: tuple, prefix: str) -> str:
    name = str(loc[0])
    return name if name.startswith(prefix) else prefix + name
