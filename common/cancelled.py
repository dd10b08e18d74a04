"""Cancelled accounts, remembered by each service that keeps a family's data, so that an event
of the account handled after its cancellation writes nothing. Events come through one queue per
event type, so a family's `family_registered` or `details_submitted` may be handled after its
`account_cancelled` (held back by a retry, or by the service being down).

The handler that forgets an account, and each one that would write for it, first take the
account's transaction-level advisory lock (`LOCK`), so that the two never interleave; what the
writer then reads, in a new statement, includes the committed cancellation. The table keeps the
account number and when, nothing of the family (the accounts service's audit log keeps as much).
"""

from __future__ import annotations

from psycopg import sql

TABLE = "cancellations"


def lock(schema: str) -> sql.Composed:
    """Waits for, then holds until the transaction ends, the account's lock in `schema`
    (parameter `%(account_no)s`: eight digits, an int4 key of its own)."""
    return sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}), %(account_no)s::int)").format(
        sql.Literal(schema))


def remember(schema: str) -> sql.Composed:
    """`, cancelled AS (...)`: records the cancellation, after a `first` CTE
    (common/consumed.py) whose row says the event is new."""
    return sql.SQL(", cancelled AS (INSERT INTO {} (account_no) SELECT %(account_no)s FROM first "
                   "ON CONFLICT (account_no) DO NOTHING)").format(sql.Identifier(schema, TABLE))


def was_cancelled(schema: str) -> sql.Composed:
    """A condition: the account `%(account_no)s` was cancelled."""
    return sql.SQL("EXISTS (SELECT 1 FROM {} WHERE account_no = %(account_no)s)").format(
        sql.Identifier(schema, TABLE))
