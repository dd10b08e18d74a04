"""Fixtures of the verification tests: the registry simulator as a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import psycopg_pool
import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
DEMO_CSV = ROOT / "services" / "verification" / "demo_registry.csv"
TOKEN = "registry-test-token"


class Simulator:
    """`python -m services.verification.simulator` on 127.0.0.1, serving the demo registry.
    A test stops it and starts it again on the same port, and steers it through its admin
    endpoints (see the simulator's docstring)."""

    def __init__(self):
        self.port = 0  # any free port the first time, then the same one
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.verification.simulator", "--csv", str(DEMO_CSV),
             "--port", str(self.port), "--token", TOKEN],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline()  # printed once it accepts requests
        if not ready.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"the registry simulator did not start: {ready!r}")
        self.port = int(ready.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()

    def configure(self, **settings) -> None:
        requests.post(f"{self.url}/_admin/config", json=settings, timeout=5).raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_admin/stats", timeout=5).json()


@pytest.fixture
def simulator():
    simulator = Simulator()
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
