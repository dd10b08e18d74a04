"""What the bench needs around the verification service: the registry simulator as a process
of its own, a registry CSV of the bench's children, `details_submitted` events published as
enrollment's outbox relay publishes them, and verification's checks read from its database.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
from kombu import Connection, Exchange, Producer
from kombu.entity import PERSISTENT_DELIVERY_MODE

from services.enrollment.contract import DETAILS_SUBMITTED, DetailsSubmitted
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.enrollment.rules.season import PERMIT_VALID_ON, load_season
from services.enrollment.settings import EnrollmentSettings
from services.enrollment.tests.samples import FATHER_ID
from services.verification.registry import CSV_COLUMNS

# The day permits must be valid on, as enrollment puts it in every submission.
REFERENCE_DATE = load_season(EnrollmentSettings.model_fields["SEASON_YEAR"].default
                             ).dates[PERMIT_VALID_ON].isoformat()


def write_registry_csv(path: Path, children: Iterable[dict]) -> None:
    """A registry file (services/verification/registry.py's format) of these children, each
    a Child of enrollment's contract and its `hukou_district`; nobody holds a permit."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for child in children:
            writer.writerow([child["document_type"], child["document_number"], child["name"],
                             child["sex"], child["birth_date"], child["hukou_district"],
                             "", "", "", ""])


def submission(account_no: str, child: dict) -> dict:
    """A valid `details_submitted` body, version 1, of a 本市户籍 family (no permits)."""
    return DetailsSubmitted(
        event_id=str(uuid.uuid4()), account_no=account_no, version=1, district="haidian",
        hukou_type="beijing",
        child={key: child[key] for key in ("name", "document_type", "document_number",
                                           "birth_date", "sex")},
        household={"head_name": "李大伟", "relation_to_head": "child",
                   "hukou_district": child["hukou_district"],
                   "hukou_address": "海淀区中关村大街1号"},
        guardians=[{"name": "李大伟", "relation": "father", "document_type": "resident_id",
                    "document_number": FATHER_ID}],
        residence_district="haidian", reference_date=REFERENCE_DATE).model_dump(mode="json")


def publish_submissions(amqp_uri: str, bodies: list[dict]) -> None:
    """Publishes each body to enrollment's event exchange as its outbox relay does
    (common/edge/outbox.py: JSON, persistent, confirmed by the broker, no headers needed)."""
    exchange = Exchange(f"{ENROLLMENT}.events", type="topic", durable=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = Producer(connection.default_channel, exchange=exchange, serializer="json")
        for body in bodies:
            producer.publish(body, routing_key=DETAILS_SUBMITTED,
                             delivery_mode=PERSISTENT_DELIVERY_MODE, headers={})


# verification's checks, read from its database (the bench's admin connection) -----------
def wait_for(database_url: str, query: str, params: tuple, done: Callable[[int], bool],
             timeout_s: float, what: str) -> None:
    """Runs `query` (it answers one number) every 0.2 s until `done(number)`, at most
    `timeout_s`, over one connection: a new one each time would have PostgreSQL start a backend
    five times a second, load on the very drain being measured."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        while not done(number := conn.execute(query, params).fetchone()[0]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: still {number} after {timeout_s:.0f} s")
            time.sleep(0.2)


def wait_pending(database_url: str, done: Callable[[int], bool], timeout_s: float,
                 what: str) -> None:
    """Until `done(the number of pending checks)`."""
    wait_for(database_url, "SELECT count(*) FROM verification.checks WHERE status = 'pending'",
             (), done, timeout_s, f"{what}: pending checks")


def wait_finished(database_url: str, account_nos: list[str], timeout_s: float,
                  what: str) -> None:
    """Until every one of these accounts' checks is finished (they may not be recorded yet:
    their events may still wait in verification's queue)."""
    wait_for(database_url, "SELECT count(*) FROM verification.checks "
             "WHERE account_no = ANY(%s) AND status = 'done'", (account_nos,),
             lambda finished: finished >= len(account_nos), timeout_s, f"{what}: finished")


def check_times(database_url: str, account_nos: list[str]
                ) -> tuple[list[float], list[float], dict[str, int]]:
    """Of these accounts' checks: when each was recorded, when each finished (epoch seconds,
    finished ones only) and how many ended with each result."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM created_at)::float8, "
            "extract(epoch FROM finished_at)::float8, coalesce(result, status) "
            "FROM verification.checks WHERE account_no = ANY(%s)", (account_nos,)).fetchall()
    return ([created for created, _, _ in rows],
            [finished for _, finished, _ in rows if finished is not None],
            dict(Counter(result for _, _, result in rows)))


def busy_rate(created: list[float], finished: list[float], slots: int
              ) -> tuple[float, float, int]:
    """Checks finished per second while at least `slots` checks were pending, so that every
    slot had a check to run: the runner's capacity rather than the rate checks came in.
    Returns (rate, seconds so busy, checks finished meanwhile); a rate of 0 if never busy."""
    steps = sorted([(t, 1) for t in created] + [(t, -1) for t in finished])
    pending, last, busy_s, done = 0, 0.0, 0.0, 0
    for t, step in steps:
        if pending >= slots:
            busy_s += t - last
            done += step < 0
        pending += step
        last = t
    return (done / busy_s if busy_s else 0.0), busy_s, done
