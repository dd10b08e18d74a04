"""Creates and removes what a test run uses: a database, a RabbitMQ vhost, service containers.

Every run makes its own, so no run depends on what an earlier one left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from urllib.parse import quote

import psycopg
import requests

from common import broker
from common.registry import PROCESSES
from common.settings import role_url

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT_HOST = os.environ.get("TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_API = os.environ.get("TEST_RABBIT_API", "http://guest:guest@127.0.0.1:15672/api")


def make_database() -> str:
    name = f"platform_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def set_outage(database_url: str, down: bool) -> None:
    """A database of the test's own away, as for its services in a real outage: the server ends
    its sessions (as a restart does) and refuses new ones; or back."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down).lower()}')
        if down:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))


def make_amqp_vhost() -> str:
    vhost = f"platform-test-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        api = requests.Session()
        api.put(f"{RABBIT_API}/vhosts/{quote(vhost, safe='')}", timeout=10).raise_for_status()
        api.put(f"{RABBIT_API}/permissions/{quote(vhost, safe='')}/guest",
                json={"configure": ".*", "write": ".*", "read": ".*"},
                timeout=10).raise_for_status()
    except requests.RequestException:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest",
                        ".*", ".*", ".*"], check=True)
    broker.Admin(RABBIT_API).set_rpc_policy(vhost)
    return f"amqp://guest:guest@{RABBIT_HOST}:5672/{quote(vhost, safe='')}"


def make_process_users(amqp_uri: str) -> dict[str, str]:
    """A user per process on the run's vhost, with that process's permissions only
    (common/broker.py): process name -> its AMQP URI."""
    vhost = broker.credentials(amqp_uri)[0]
    admin, uris = broker.Admin(RABBIT_API), {}
    for name in PROCESSES:
        user, password = f"{vhost}-{name}", secrets.token_urlsafe(16)
        admin.provision(vhost, name, user, password)
        uris[name] = broker.with_user(amqp_uri, user, password)
    return uris


def district_user_prefix(amqp_uri: str) -> str:
    """The run's district systems' users are `<vhost>-district-<code>` (users are the
    broker's, shared by every run): the services' DISTRICT_USER_PREFIX."""
    return f"{broker.credentials(amqp_uri)[0]}-{broker.BROKER_USER_PREFIX}"


def make_district_users(amqp_uri: str, codes) -> dict[str, str]:
    """A user per district system on the run's vhost, with a district system's permissions
    only (common/broker.py): district code -> its AMQP URI."""
    vhost = broker.credentials(amqp_uri)[0]
    admin, uris = broker.Admin(RABBIT_API), {}
    for code in codes:
        user, password = district_user_prefix(amqp_uri) + code, secrets.token_urlsafe(16)
        admin.provision(vhost, broker.BROKER_USER_PREFIX + code, user, password)
        uris[code] = broker.with_user(amqp_uri, user, password)
    return uris


@contextlib.contextmanager
def district_clients(amqp_uri: str, codes, timeout_s: float = 15):
    """A DistrictClient per district in `codes` (code -> client), each logged in as a user of
    its own made for the test (make_district_users) and dropped after it."""
    from services.enrollment.district_client import DistrictClient

    users = make_district_users(amqp_uri, codes)
    clients = {code: DistrictClient(uri, timeout_s=timeout_s) for code, uri in users.items()}
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()
        drop_process_users(users)


def drop_process_users(uris: dict[str, str]) -> None:
    admin = broker.Admin(RABBIT_API)
    for uri in uris.values():
        admin.delete_user(broker.credentials(uri)[1])


def drop_amqp_vhost(uri: str) -> None:
    vhost = uri.rsplit("/", 1)[1]
    try:
        requests.delete(f"{RABBIT_API}/vhosts/{vhost}", timeout=10).raise_for_status()
    except requests.RequestException:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost.replace("%2F", "/")],
                       check=False)


def settings_for(settings_cls, database_url: str, amqp_uri: str, **overrides):
    """Settings for a test, independent of the developer's own environment; a service logs
    in to the run's database as its own role, as in production."""
    if hasattr(settings_cls, "DATABASE_ROLE"):
        overrides.setdefault("DATABASE_URL", role_url(database_url, settings_cls.DATABASE_ROLE))
    return settings_cls(_env_file=None, AMQP_URI=amqp_uri, **overrides)


@contextlib.contextmanager
def running_service(service_cls, settings, extra_config: dict | None = None):
    """Runs one real nameko service (real RabbitMQ, real PostgreSQL), split as the launcher
    splits it (common/edge/expensive_process.py), both parts in this process: yields the
    container of its cheap part."""
    from nameko.containers import ServiceContainer

    from common.edge.expensive_process import split
    from common.edge.launcher import nameko_config

    config = nameko_config(settings)
    config.update(extra_config or {})
    containers = [ServiceContainer(part, config) for part in split(service_cls) if part]
    for container in containers:
        container.start()
    try:
        yield containers[0]
    finally:
        for container in reversed(containers):
            container.stop()
