"""The outbox and the record of handled events: defined once in common, made by the migrations
for every service that declares them, the same as the tables accounts and notify made before."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import uuid
from types import SimpleNamespace

import psycopg
import pytest
from psycopg import sql

from common import consumed, outbox
from common.keys import MasterKeys
from common.migrations import migrate
from common.registry import OWNER_ROLE, PROCESSES
from common.settings import role_url
from tests.support.infra import drop_database, make_database

NEW = "probe"  # a service that is not in the registry yet


@pytest.fixture
def make_url():
    """Empty databases of the test's own, dropped afterwards."""
    made = []

    def make() -> str:
        made.append(make_database())
        return made[-1]

    yield make
    for url in made:
        drop_database(url)


@pytest.fixture
def new_service(monkeypatch, tmp_path):
    """A new service that declares both tables; it logs in as accounts' role (a role of its
    own would outlive the test: roles belong to the cluster)."""
    role = PROCESSES["accounts"].role
    (tmp_path / "0001_initial.sql").write_text(
        f"REVOKE ALL ON SCHEMA {NEW} FROM PUBLIC;\nGRANT USAGE ON SCHEMA {NEW} TO {role};\n")
    monkeypatch.setitem(PROCESSES, NEW, SimpleNamespace(
        name=NEW, role=role, migrations=tmp_path, produces_events=True, consumes_events=True))
    return role


def schema_dump(url: str, *tables: str) -> str:
    """`pg_dump --schema-only` of the tables (all with their schema: `-n schema`)."""
    dump = subprocess.run(["pg_dump", "--schema-only", *tables, url], check=True,
                          capture_output=True, text=True).stdout
    # Each dump has its own random \restrict key.
    return "\n".join(line for line in dump.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def test_a_new_service_gets_both_tables_by_declaring_them_and_uses_them(make_url, new_service):
    url = make_url()
    assert migrate(url, NEW) == ["0001_initial.sql", "common/outbox", "common/processed_events"]
    assert migrate(url, NEW) == []

    cipher = outbox.cipher(MasterKeys({1: bytes(32)}), NEW)
    event = outbox.NewEvent.of(cipher, "something_happened", {"what": "it"}, "req-1")
    with psycopg.connect(role_url(url, new_service), autocommit=True) as conn:
        with conn.transaction():
            outbox.write_event(conn, NEW, event)
        with conn.transaction():
            claimed = outbox.claim_batch(conn, NEW, cipher, limit=10, older_than_s=0)
            assert claimed == [(uuid.UUID(event.id), "something_happened", event.body, "req-1")]
            outbox.delete_published(conn, NEW, [event.id])
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            sql.Identifier(NEW, "outbox"))).fetchone() == (0,)

        params = {"event_id": event.id, "event_type": "something_happened"}
        record = consumed.first_time(NEW) + sql.SQL(" SELECT count(*) FROM first")
        assert conn.execute(record, params).fetchone() == (1,)
        assert conn.execute(record, params).fetchone() == (0,)  # redelivered: nothing to do


def test_the_event_is_recorded_exactly_when_the_handlers_write_is_made(make_url, new_service):
    url = make_url()
    migrate(url, NEW)
    with psycopg.connect(role_url(url, new_service), autocommit=True) as conn:
        conn.execute("CREATE TEMPORARY TABLE written (event_id text)")
        handle = consumed.first_time(NEW) + sql.SQL(
            " INSERT INTO written SELECT event_id FROM first RETURNING event_id")
        params = {"event_id": "e-1", "event_type": "something_happened"}

        with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
            assert conn.execute(handle, params).fetchone() == ("e-1",)
            conn.execute("SELECT 1 / 0")  # the handler fails after its write: neither stays
        assert conn.execute(handle, params).fetchone() == ("e-1",)
        assert conn.execute(handle, params).fetchone() is None
        assert conn.execute("SELECT event_id FROM written").fetchall() == [("e-1",)]


@pytest.mark.parametrize(("service", "module"), [("accounts", outbox), ("notify", consumed)])
def test_the_common_tables_are_those_accounts_and_notify_made_before(make_url, service, module):
    """accounts' first migration made its outbox, notify's its record of handled events: a
    new service gets the very same table, columns, keys, indexes, owner and grants."""
    url = make_url()
    migrate(url, service)
    role = PROCESSES[service].role
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(NEW)))
        conn.execute(module.create_table(NEW, role))

    made_before = schema_dump(url, "-t", f"{service}.{module.TABLE}")
    made_now = schema_dump(url, "-t", f"{NEW}.{module.TABLE}")
    assert f"CREATE TABLE {service}.{module.TABLE}" in made_before
    assert re.sub(rf"\b{NEW}\b", service, made_now) == made_before


def test_an_install_of_the_previous_version_keeps_its_rows_and_ends_up_as_a_fresh_one(
        make_url, monkeypatch):
    fresh, upgraded = make_url(), make_url()
    for name in ("accounts", "notify"):
        migrate(fresh, name)

    with monkeypatch.context() as previous:  # no service declared the common tables
        for name in ("accounts", "notify"):
            previous.setitem(PROCESSES, name, dataclasses.replace(
                PROCESSES[name], produces_events=False, consumes_events=False))
            assert not any(step.startswith("common/") for step in migrate(upgraded, name))
    with psycopg.connect(upgraded, autocommit=True) as conn:
        conn.execute("INSERT INTO accounts.outbox (id, event_type, payload) "
                     "VALUES (gen_random_uuid(), 'account_registered', '\\x00')")
        conn.execute("INSERT INTO notify.processed_events (event_id, event_type) "
                     "VALUES ('e-1', 'account_registered')")

    # accounts' own migrations made no record of handled events: it is new to it
    assert migrate(upgraded, "accounts") == ["common/outbox", "common/processed_events"]
    assert migrate(upgraded, "notify") == ["common/processed_events"]
    with psycopg.connect(upgraded, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM accounts.outbox").fetchone() == (1,)
        assert conn.execute("SELECT event_id FROM notify.processed_events").fetchall() == [
            ("e-1",)]
    schemas = ["-n", "accounts", "-n", "notify"]
    assert schema_dump(upgraded, *schemas) == schema_dump(fresh, *schemas)
