"""The running platform's processes log in to PostgreSQL as their own roles, never as the
schemas' owner or a superuser; the gateway not at all."""

import psycopg

from common.registry import WITH_DATABASE


def test_each_service_is_connected_as_its_own_role(stack):
    database = stack.database_url.rsplit("/", 1)[1]
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        logins = {row[0] for row in conn.execute(
            "SELECT usename FROM pg_stat_activity WHERE datname = %s AND pid <> "
            "pg_backend_pid()", (database,))}
    assert logins == {service.role for service in WITH_DATABASE}
