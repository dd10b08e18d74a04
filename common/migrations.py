"""Applies a service's numbered plain-SQL migrations: `python -m common.migrations accounts`.

Each service keeps `migrations/NNNN_name.sql` and its own `schema_migrations` table inside its
own schema, so services never share migration state. An advisory lock lets several
instances start at once safely.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
SERVICE_DIRS = {"accounts": ROOT / "services/accounts", "notify": ROOT / "services/notify"}


def migrate(database_url: str, service: str) -> list[str]:
    """Applies what is missing, each file in its own transaction; returns the applied names."""
    folder = SERVICE_DIRS[service] / "migrations"
    files = sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    applied = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"migrate:{service}",))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(service)))
            table = sql.Identifier(service, "schema_migrations")
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, "
                                 "applied_at timestamptz NOT NULL DEFAULT now())").format(table))
            done = {r[0] for r in conn.execute(sql.SQL("SELECT name FROM {}").format(table))}
            for path in files:
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text())
                    conn.execute(sql.SQL("INSERT INTO {} (name) VALUES (%s)").format(table),
                                 (path.name,))
                applied.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"migrate:{service}",))
    return applied


def main(argv: list[str]) -> int:
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/enrollment")
    for service in argv[1:] or SERVICE_DIRS:
        for name in migrate(url, service):
            print(f"{service}: applied {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
