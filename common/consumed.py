"""Consuming an event once: every consuming service records the ids of the events it has
handled in `<schema>.processed_events`, in the same statement (or transaction) as the
handler's own write, so that a redelivered event (the broker's redelivery, the outbox relay's
republication, a replayed dead letter) changes nothing twice.

The table comes with the registry's `consumes_events` (common/migrations.py makes it). A
handler puts `first_time(schema)` at the head of the statement that makes its write, with the
parameters `%(event_id)s` and `%(event_type)s`, and makes the write depend on `first`
(`... FROM first`, `WHERE EXISTS (SELECT 1 FROM first)`): `first` has a row only the first
time, so the event is recorded exactly when the write is made. A handler whose write takes
several statements first runs `first_time(schema) + sql.SQL(" SELECT count(*) FROM first")`
in its transaction and stops if the count is 0; a concurrent copy of the event then waits for
that transaction and finds the event recorded once it commits, or records it if it rolled
back.

Records are kept: dead letters have no expiry and may be replayed any time, and a producer's
outbox restored from a backup republishes old events, so no age is safe to forget them at.
"""

from __future__ import annotations

from psycopg import sql

TABLE = "processed_events"


def create_table(schema: str, role: str) -> sql.Composed:
    """The table, for `role` to use. A migration; a no-op on the table notify made before,
    which is the same."""
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {table} (\n"
        "    event_id   text PRIMARY KEY,\n"
        "    event_type text NOT NULL,\n"
        "    handled_at timestamptz NOT NULL DEFAULT now()\n"
        ");\n"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {role};\n").format(
        table=sql.Identifier(schema, TABLE), role=sql.Identifier(role))


def first_time(schema: str) -> sql.Composed:
    """`WITH first AS (...)`: records the event as handled; `first` has a row only if the
    event was not recorded before. More CTEs may follow after a comma."""
    return sql.SQL("WITH first AS (INSERT INTO {} (event_id, event_type) "
                   "VALUES (%(event_id)s, %(event_type)s) ON CONFLICT (event_id) DO NOTHING "
                   "RETURNING event_id)").format(sql.Identifier(schema, TABLE))
