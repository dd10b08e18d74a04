"""Applies a service's numbered plain-SQL migrations: `python -m common.migrations accounts`
(without a name: every service with a database in common/registry.py, in its order).

Each service keeps `migrations/NNNN_name.sql` and its own `schema_migrations` table inside its
own schema, so services never share migration state. An advisory lock lets several
instances start at once safely.

After its own files come the tables common code works on, as its registry entry declares
them: the outbox (`produces_events`, common/outbox.py) and the record of handled events
(`consumes_events`, common/consumed.py), recorded as `common/outbox` and
`common/processed_events`. They come last, as `CREATE TABLE IF NOT EXISTS`, because accounts'
and notify's first migrations made these tables before (the very same:
common/tests/test_common_tables.py), and those stay as they are, rows and all. So a service's
own files never refer to them; a change to them is a new common step here, for every service.

Migrations run as `platform_owner`, which owns every schema; each service logs in as its own
role (`platform_<service>`) with only the rights its migrations grant it, so a service's login
can neither rewrite the audit log nor read another service's schema. The roles are
cluster-wide: they are created here when the login may create roles (development:
the `postgres` superuser, no passwords, trust on the loopback); in production
`deploy/setup.sh --roles` creates them with passwords and this only checks they exist.
`MIGRATION_DATABASE_URL` is that login (default `postgres@127.0.0.1`).
"""

from __future__ import annotations

import os
import sys

import psycopg
from psycopg import sql

from common import consumed, outbox
from common.registry import OWNER_ROLE, PROCESSES, WITH_DATABASE

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/enrollment"

# Concurrent runs (several test processes, several hosts) may race to create a role.
_CREATE_ROLE = """DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {name}) THEN
        CREATE ROLE {role} {login};
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$"""


def ensure_roles(conn) -> None:
    """Creates the owner and service roles if this login may; grants what the owner needs on
    this database. Without CREATEROLE (production) they must exist already."""
    may = conn.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles "
                       "WHERE rolname = current_user").fetchone()[0]
    if not may:
        return
    for role, login in [(OWNER_ROLE, "NOLOGIN"), *((p.role, "LOGIN") for p in WITH_DATABASE)]:
        conn.execute(sql.SQL(_CREATE_ROLE).format(name=sql.Literal(role),
                                                  role=sql.Identifier(role), login=sql.SQL(login)))
    conn.execute(sql.SQL("GRANT CREATE, CONNECT ON DATABASE {} TO {}").format(
        sql.Identifier(conn.info.dbname), sql.Identifier(OWNER_ROLE)))


def adopt(conn, schema: str) -> None:
    """Hands a schema made before the owner role existed (by the `postgres` login) to it, so
    the owner can migrate it further. Superusers only; a no-op once done."""
    owner = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s",
                         (schema,)).fetchone()
    if owner is None or owner[0] == OWNER_ROLE:
        return
    to = sql.Identifier(OWNER_ROLE)
    conn.execute(sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(sql.Identifier(schema), to))
    for (table,) in conn.execute("SELECT c.oid::regclass::text FROM pg_class c JOIN "
                                 "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                                 "AND c.relkind = 'r'", (schema,)).fetchall():
        conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(sql.SQL(table), to))
    for (function,) in conn.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN "
                                    "pg_namespace n ON n.oid = p.pronamespace "
                                    "WHERE n.nspname = %s", (schema,)).fetchall():
        conn.execute(sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(sql.SQL(function), to))


def steps(process) -> list[tuple[str, sql.Composable]]:
    """A service's migrations in order, (name, SQL): its own files, then the common tables
    it declares."""
    files = sorted(process.migrations.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    common = [("common/outbox", outbox.create_table, process.produces_events),
              ("common/processed_events", consumed.create_table, process.consumes_events)]
    return ([(path.name, sql.SQL(path.read_text())) for path in files]
            + [(name, table(process.name, process.role))
               for name, table, declared in common if declared])


def migrate(database_url: str, service: str) -> list[str]:
    """Applies what is missing, each step in its own transaction; returns the applied names."""
    applied = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"migrate:{service}",))
        try:
            ensure_roles(conn)
            if conn.info.parameter_status("is_superuser") == "on":
                adopt(conn, service)
            # Everything below is created by, hence owned by, the owner role.
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(service)))
            table = sql.Identifier(service, "schema_migrations")
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, "
                                 "applied_at timestamptz NOT NULL DEFAULT now())").format(table))
            done = {r[0] for r in conn.execute(sql.SQL("SELECT name FROM {}").format(table))}
            for name, statements in steps(PROCESSES[service]):
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(statements)
                    conn.execute(sql.SQL("INSERT INTO {} (name) VALUES (%s)").format(table),
                                 (name,))
                applied.append(name)
        finally:
            conn.execute("RESET ROLE")
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"migrate:{service}",))
    return applied


def main(argv: list[str]) -> int:
    url = os.environ.get("MIGRATION_DATABASE_URL", DEFAULT_URL)
    for service in argv[1:] or [process.name for process in WITH_DATABASE]:
        for name in migrate(url, service):
            print(f"{service}: applied {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
