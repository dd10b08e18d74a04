"""The transactional outbox's SQL: events are written in the same transaction as the state
they describe, and published by the relay (common/edge/outbox.py) once that commits.

Every publishing service has `<schema>.outbox (id uuid, event_type, payload bytea,
request_id, created_at)`. Payloads are encrypted at rest because they may carry personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg import sql

from common.crypto import FieldCipher
from common.keys import MasterKeys


def cipher(master: MasterKeys, schema: str) -> FieldCipher:
    """The key of a service's outbox payloads."""
    return master.cipher(f"{schema}/outbox")


def _context(event_id) -> str:
    """Associated data: a payload opens only in its own event's row."""
    return f"outbox:{event_id}"


@dataclass(frozen=True)
class NewEvent:
    """An event about to be recorded: `body` is what is published (its `event_id` is the
    consumer's deduplication key), `sealed_payload` what is stored."""
    id: str
    event_type: str
    body: dict
    sealed_payload: bytes
    request_id: str | None

    @classmethod
    def of(cls, cipher: FieldCipher, event_type: str, payload: dict,
           request_id: str | None) -> NewEvent:
        event_id = str(uuid.uuid4())
        body = {**payload, "event_id": event_id}
        return cls(event_id, event_type, body, cipher.encrypt(body, _context(event_id)), request_id)

    @property
    def params(self) -> dict:
        """The parameters of `insert_sql`."""
        return {"event_id": self.id, "event_type": self.event_type,
                "event_payload": self.sealed_payload, "event_request_id": self.request_id}


def insert_sql(schema: str) -> sql.Composed:
    """INSERT ... SELECT of one NewEvent; a caller may add a FROM clause to make it
    conditional on another part of its statement."""
    return sql.SQL("INSERT INTO {} (id, event_type, payload, request_id) SELECT %(event_id)s, "
                   "%(event_type)s, %(event_payload)s, %(event_request_id)s").format(
        sql.Identifier(schema, "outbox"))


def write_event(conn, schema: str, event: NewEvent) -> None:
    """Records an event inside the caller's transaction."""
    conn.execute(insert_sql(schema), event.params)


def claim_batch(conn, schema: str, cipher: FieldCipher, limit: int,
                older_than_s: float) -> list[tuple]:
    """Locks the oldest events left unpublished for `older_than_s` (other relays skip them).

    Returns (id, event_type, body, request_id) tuples.
    """
    rows = conn.execute(
        sql.SQL("SELECT id, event_type, payload, request_id FROM {} WHERE created_at < "
                "clock_timestamp() - make_interval(secs => %s) ORDER BY created_at LIMIT %s "
                "FOR UPDATE SKIP LOCKED").format(sql.Identifier(schema, "outbox")),
        (older_than_s, limit)).fetchall()
    return [(event_id, event_type, cipher.decrypt(payload, _context(event_id)), request_id)
            for event_id, event_type, payload, request_id in rows]


def delete_published(conn, schema: str, event_ids: list) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)")
                 .format(sql.Identifier(schema, "outbox")), (event_ids,))


def reseal(conn, schema: str, cipher: FieldCipher) -> int:
    """Re-seals payloads sealed under an older key (key rotation); returns how many."""
    table = sql.Identifier(schema, "outbox")
    rows = conn.execute(sql.SQL("SELECT id, payload FROM {} FOR UPDATE").format(table)).fetchall()
    stale = [(cipher.reseal(payload, _context(event_id)), event_id)
             for event_id, payload in rows if not cipher.is_current(payload)]
    if stale:
        conn.cursor().executemany(sql.SQL("UPDATE {} SET payload = %s WHERE id = %s")
                                  .format(table), stale)
    return len(stale)
