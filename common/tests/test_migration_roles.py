"""Migrations run as the owner role, also on a database migrated before the roles existed."""

from __future__ import annotations

import psycopg
import pytest

from common.migrations import migrate
from common.registry import OWNER_ROLE, PROCESSES
from common.settings import role_url
from tests.support.infra import drop_database, make_database


@pytest.fixture
def fresh_url():
    url = make_database()
    yield url
    drop_database(url)


def test_a_schema_made_by_the_superuser_before_the_roles_is_handed_to_the_owner(fresh_url):
    with psycopg.connect(fresh_url, autocommit=True) as conn:  # as the old runner did it
        conn.execute("CREATE SCHEMA accounts")
        conn.execute("CREATE TABLE accounts.schema_migrations (name text PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        for path in sorted(PROCESSES["accounts"].migrations.glob("000[12]_*.sql")):
            conn.execute(path.read_text())
            conn.execute("INSERT INTO accounts.schema_migrations (name) VALUES (%s)",
                         (path.name,))

    applied = migrate(fresh_url, "accounts")  # what was missing, from 0003 on
    assert applied[0] == "0003_roles_and_family_keys.sql" and "0002_audit_head.sql" not in applied

    with psycopg.connect(fresh_url, autocommit=True) as conn:
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE n.nspname = 'accounts'").fetchall()
        assert owners == [(OWNER_ROLE,)]
    with psycopg.connect(role_url(fresh_url, PROCESSES["accounts"].role), autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM accounts.accounts")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM accounts.audit_log")
