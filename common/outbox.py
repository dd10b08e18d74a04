"""The transactional outbox's SQL: events are written in the same transaction as the state
they describe, and published by the relay (common/edge/outbox.py) once that commits.

Every publishing service has `<schema>.outbox`, made by `create_table` when the registry
says it `produces_events` (common/migrations.py). Payloads are encrypted at rest because they
may carry personal data, each bound to its row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg import sql

from common.crypto import FieldCipher
from common.keys import MasterKeys

TABLE = "outbox"


def create_table(schema: str, role: str) -> sql.Composed:
    """The table, for `role` to use (UPDATE: `reseal`). A migration; a no-op on the table
    accounts made before, which is the same."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} (\n"
        "    id              uuid PRIMARY KEY,\n"
        "    event_type      text NOT NULL,\n"
        "    payload         bytea NOT NULL,  -- sealed, bound to the row's id\n"
        "    request_id      text,\n"
        "    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()\n"
        ");\n"
        "CREATE INDEX IF NOT EXISTS outbox_in_order ON {table} (created_at);\n"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role};\n").format(
        table=sql.Identifier(schema, TABLE), role=sql.Identifier(role))


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
        sql.Identifier(schema, TABLE))


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
                "FOR UPDATE SKIP LOCKED").format(sql.Identifier(schema, TABLE)),
        (older_than_s, limit)).fetchall()
    return [(event_id, event_type, cipher.decrypt(payload, _context(event_id)), request_id)
            for event_id, event_type, payload, request_id in rows]


def delete_published(conn, schema: str, event_ids: list) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE id = ANY(%s)")
                 .format(sql.Identifier(schema, TABLE)), (event_ids,))


def reseal(conn, schema: str, cipher: FieldCipher) -> int:
    """Re-seals payloads sealed under an older key (key rotation); returns how many."""
    table = sql.Identifier(schema, TABLE)
    rows = conn.execute(sql.SQL("SELECT id, payload FROM {} FOR UPDATE").format(table)).fetchall()
    stale = [(cipher.reseal(payload, _context(event_id)), event_id)
             for event_id, payload in rows if not cipher.is_current(payload)]
    if stale:
        conn.cursor().executemany(sql.SQL("UPDATE {} SET payload = %s WHERE id = %s")
                                  .format(table), stale)
    return len(stale)
