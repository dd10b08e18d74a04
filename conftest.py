"""Test setup shared by every layer. The first lines must run before anything imports psycopg
or the standard library's socket module: see docs in common/edge/launcher.py."""

import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import pytest  # noqa: E402

from tests.support.infra import (  # noqa: E402
    drop_amqp_vhost,
    drop_database,
    make_amqp_vhost,
    make_database,
    settings_for,
)


@pytest.fixture(scope="session")
def database_url():
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    url = make_database()
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def amqp_uri():
    """A fresh RabbitMQ virtual host for this test run, deleted afterwards."""
    uri = make_amqp_vhost()
    yield uri
    drop_amqp_vhost(uri)


@pytest.fixture
def make_settings(database_url, amqp_uri):
    """Builds a service's settings for tests: `make_settings(AccountsSettings, X=...)`."""
    def build(settings_cls, **overrides):
        return settings_for(settings_cls, database_url, amqp_uri, **overrides)
    return build
