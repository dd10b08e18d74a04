"""Helpers of the verification service tests: enrollment's events as it publishes them, and a
listener for verification's own."""

from __future__ import annotations

import random
import time
import uuid

import eventlet
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from services.enrollment.contract import DETAILS_SUBMITTED, DETAILS_WITHDRAWN
from services.enrollment.contract import SERVICE_NAME as ENROLLMENT
from services.verification.contract import CHECK_FINISHED, SERVICE_NAME

REFERENCE_DATE = "2027-05-06"

# Demo residents (services/verification/README.md).
WANG = {"name": "王小明", "document_type": "resident_id", "document_number": "110108202009010019",
        "birth_date": "2020-09-01", "sex": "male"}
CHEN = {"name": "陈思远", "document_type": "resident_id", "document_number": "370102202012050054",
        "birth_date": "2020-12-05", "sex": "male"}
CHEN_PERMIT = {"holder_name": "陈建国", "holder_document_number": "370102198803150116",
               "permit_number": "JZ1101052026001", "valid_until": "2028-02-29",
               "issuing_district": "chaoyang"}


def account_no() -> str:
    return f"27{random.randrange(10**6):06d}"


def submitted(account: str, version: int = 1, child: dict | None = None,
              hukou_type: str = "beijing", district: str = "haidian",
              hukou_district: str = "haidian", permits: list | None = None,
              event_id: str | None = None) -> dict:
    """A `details_submitted` payload as enrollment publishes it (with the fields it is adding:
    residence_district, residence_permits, reference_date)."""
    household = {"head_name": "王建", "relation_to_head": "子"}
    if hukou_type == "beijing":
        household.update(hukou_district=hukou_district, hukou_address="北京市某区某街道1号")
    else:
        household.update(hukou_region="370102")
    return {"event_id": event_id or str(uuid.uuid4()), "account_no": account, "version": version,
            "district": district, "hukou_type": hukou_type, "child": child or WANG,
            "household": household,
            "guardians": [{"name": "王建", "relation": "父亲", "document_type": "resident_id",
                           "document_number": "110108198501010013"}],
            "residence_district": district, "residence_permits": permits or [],
            "reference_date": REFERENCE_DATE}


def publish_submitted(amqp_uri: str, payload: dict) -> None:
    event_dispatcher({"AMQP_URI": amqp_uri})(ENROLLMENT, DETAILS_SUBMITTED, payload)


def publish_withdrawn(amqp_uri: str, account: str, version: int) -> None:
    event_dispatcher({"AMQP_URI": amqp_uri})(ENROLLMENT, DETAILS_WITHDRAWN, {
        "event_id": str(uuid.uuid4()), "account_no": account, "version": version})


class FinishedEvents:
    """Collects the `check_finished` events verification publishes, from a queue of its own
    bound before anything is published."""

    def __init__(self, amqp_uri: str):
        self.events: list[dict] = []
        self._connection = Connection(amqp_uri)
        exchange = Exchange(f"{SERVICE_NAME}.events", type="topic", durable=True)
        queue = Queue(f"test-check-finished-{uuid.uuid4().hex}", exchange,
                      routing_key=CHECK_FINISHED, auto_delete=True, exclusive=True)
        self._consumer = self._connection.Consumer(queue, callbacks=[self._got],
                                                   accept=["json"])
        self._consumer.consume()
        self._running = True
        self._thread = eventlet.spawn(self._drain)

    def _got(self, body, message):
        self.events.append(body)
        message.ack()

    def _drain(self):
        while self._running:
            try:
                self._connection.drain_events(timeout=0.2)
            except TimeoutError:
                pass

    def of(self, account: str) -> list[dict]:
        return [event for event in self.events if event["account_no"] == account]

    def close(self):
        self._running = False
        self._thread.wait()
        self._connection.release()


def wait_for(condition, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)
    return result


def check_rows(pool, account: str) -> dict[int, dict]:
    with pool.connection() as conn:
        cursor = conn.execute("SELECT * FROM verification.checks WHERE account_no = %s",
                              (account,))
        names = [column.name for column in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
