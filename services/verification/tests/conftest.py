"""Fixtures of the verification tests: the registry simulator as a real process."""

from __future__ import annotations

from pathlib import Path

import psycopg
import psycopg_pool
import pytest

from tests.support.registry_simulator import RegistrySimulator

ROOT = Path(__file__).resolve().parents[3]
DEMO_CSV = ROOT / "services" / "verification" / "demo_registry.csv"
TOKEN = "registry-test-token"


@pytest.fixture
def simulator():
    simulator = RegistrySimulator(DEMO_CSV, token=TOKEN)
    simulator.start()
    yield simulator
    if simulator.process.poll() is None:
        simulator.stop()


@pytest.fixture
def pool(database_url):
    """A connection pool on a migrated, empty verification schema, logged in as its role."""
    from common.migrations import migrate
    from common.settings import role_url
    from services.verification.settings import VerificationSettings

    migrate(database_url, "verification")
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("TRUNCATE verification.checks, verification.people, verification.permits, "
                      "verification.outbox, verification.processed_events, "
                      "verification.cancellations")
    with psycopg_pool.ConnectionPool(role_url(database_url, VerificationSettings.DATABASE_ROLE),
                                     min_size=1, max_size=4, open=True,
                                     kwargs={"autocommit": True}) as pool:
        yield pool
