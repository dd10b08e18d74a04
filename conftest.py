"""Test setup shared by every layer. The first lines must run before anything imports psycopg
or the standard library's socket module: see docs in common/edge/launcher.py.

The browser tests drive Playwright, whose own event loop does not survive eventlet's
monkey-patching; they run in a pytest process of their own with PLATFORM_TESTS_EVENTLET=0
(the Makefile does this). They only talk HTTP to the platform's processes.
"""

import os

from common.cores import offload_threads

GREEN = os.environ.get("PLATFORM_TESTS_EVENTLET", "1") != "0"
os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
os.environ.setdefault("EVENTLET_THREADPOOL_SIZE", str(offload_threads()))  # as the launcher

if GREEN:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()

import pytest  # noqa: E402

from tests.support.infra import (  # noqa: E402
    district_user_prefix,
    drop_amqp_vhost,
    drop_database,
    drop_process_users,
    make_amqp_vhost,
    make_database,
    make_process_users,
    settings_for,
)


def pytest_collection_modifyitems(config, items):
    """Each kind of process runs only the tests it can: see the module docstring."""
    keep = [item for item in items if (item.get_closest_marker("browser") is None) == GREEN]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


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
def own_vhost():
    """A RabbitMQ virtual host of the test's own, and a user per process on it with that
    process's permissions only: (the guest's URI, process name -> its URI)."""
    uri = make_amqp_vhost()
    users = make_process_users(uri)
    yield uri, users
    drop_amqp_vhost(uri)
    drop_process_users(users)


@pytest.fixture
def make_settings(database_url, amqp_uri):
    """Builds a service's settings for tests: `make_settings(AccountsSettings, X=...)`."""
    def build(settings_cls, **overrides):
        return settings_for(settings_cls, database_url, amqp_uri, **overrides)
    return build


def _running_stack(tmp_path_factory, name, **overrides):
    from tests.support.stack import platform_on

    amqp_uri = make_amqp_vhost()
    users = make_process_users(amqp_uri)  # each process with only its own permissions
    overrides.setdefault("DISTRICT_USER_PREFIX", district_user_prefix(amqp_uri))
    try:
        with platform_on(amqp_uri, tmp_path_factory.mktemp(name), users, **overrides) as platform:
            yield platform
    finally:
        drop_amqp_vhost(amqp_uri)
        drop_process_users(users)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The whole platform, running as real processes on its own database and vhost, shared
    by the end-to-end tests."""
    yield from _running_stack(tmp_path_factory, "stack")


@pytest.fixture(scope="session")
def strict_stack(tmp_path_factory):
    """A second platform with tight SMS caps and throttles and a short idle timeout, behind a
    proxy as in production: it trusts the last X-Forwarded-For entry (clients that send none
    are counted by their own address)."""
    yield from _running_stack(tmp_path_factory, "strict", SMS_DAILY_LIMIT_PER_PHONE=2,
                              SMS_DAILY_LIMIT_PER_IP=3, SMS_HOURLY_LIMIT_PER_IP=2,
                              SMS_RESEND_COOLDOWN_S=0, SESSION_IDLE_TIMEOUT_S=3,
                              CAPTCHAS_PER_IP_PER_MINUTE=8, LOGIN_FAILURES_PER_IP_PER_HOUR=3,
                              REGISTER_ATTEMPTS_PER_IP_PER_HOUR=5,
                              REGISTER_ATTEMPTS_PER_PHONE_PER_HOUR=3, TRUST_FORWARDED_FOR="true")


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    """A platform of its own for the API fuzzer, whose garbage no other test should meet;
    sign-in never locks, so the fuzzer's many wrong passwords leave its member usable."""
    yield from _running_stack(tmp_path_factory, "fuzz", LOGIN_MAX_FAILURES=1_000_000)
