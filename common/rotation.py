"""Key rotation's walk over a service's tables (`python -m common.keys rotate SERVICE`): what
is sealed under an older master key is sealed again under the newest. Each service's
`rotate_keys` names its sealed columns; this walks them and the service's outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from common import outbox
from common.crypto import FieldCipher


@dataclass(frozen=True)
class SealedColumn:
    """A column of ciphertexts sealed with `cipher`, each bound to its row: `bound(*key)` is
    its associated data. NULLs (erased data) are passed over."""

    table: str  # in the service's schema
    column: str
    key: tuple[str, ...]  # unique and indexed: the rows are walked in its order
    cipher: FieldCipher
    bound: Callable[..., str]


def reseal(database_url: str, schema: str, outbox_cipher: FieldCipher,
           columns: Sequence[SealedColumn], batch: int = 1000) -> int:
    """Re-seals `columns` and the outbox of `schema` under the newest key; returns how many
    rows changed. A batch of rows is locked at a time, so the service's own writes wait for
    one batch at most, and the rotation may run while the service does."""
    with psycopg.connect(database_url) as conn:
        count = sum(_reseal_column(conn, schema, column, batch) for column in columns)
        with conn.transaction():
            count += outbox.reseal(conn, schema, outbox_cipher)
    return count


def _reseal_column(conn: psycopg.Connection, schema: str, column: SealedColumn,
                   batch: int) -> int:
    names = {"table": sql.Identifier(schema, column.table),
             "sealed": sql.Identifier(column.column),
             "key": sql.SQL(", ").join(map(sql.Identifier, column.key)),
             "values": sql.SQL(", ").join(sql.Placeholder() * len(column.key))}
    select = ("SELECT {key}, {sealed} FROM {table} WHERE {sealed} IS NOT NULL{after} "
              "ORDER BY {key} LIMIT %s FOR UPDATE")
    first = sql.SQL(select).format(**names, after=sql.SQL(""))
    following = sql.SQL(select).format(
        **names, after=sql.SQL(" AND ({key}) > ({values})").format(**names))
    update = sql.SQL("UPDATE {table} SET {sealed} = %s WHERE ({key}) = ({values})").format(
        **names)
    count, last = 0, None
    while True:
        with conn.transaction():
            rows = conn.execute(first if last is None else following,
                                (*(last or ()), batch)).fetchall()
            stale = [(column.cipher.reseal(sealed, column.bound(*key)), *key)
                     for *key, sealed in rows if not column.cipher.is_current(sealed)]
            if stale:
                conn.cursor().executemany(update, stale)
        count += len(stale)
        if len(rows) < batch:
            return count
        last = rows[-1][:-1]
