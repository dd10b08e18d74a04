"""The database comes back fast: after an outage a service serves again within 2 s of the
database accepting connections, and never hands a request a connection the server dropped;
meanwhile its callers are told to retry later (SERVICE_UNAVAILABLE), never a bug's RemoteError.

The outage is real for the service, on a database of the test's own: the server ends every
session of it (`pg_terminate_backend`, as a restart does) and refuses new ones
(`ALLOW_CONNECTIONS false`) for 20 s, then accepts them again. The shared server itself is
never restarted.
"""

import time

import eventlet
import pytest
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy

from common.edge.dependencies import Wiring
from common.edge.rpc import rpc
from common.errors import DomainError
from common.settings import ServiceSettings
from tests.support.infra import drop_database, make_database, running_service, set_outage

OUTAGE_S = 20


class ClockService:
    name = "clock"
    db = Wiring(lambda settings, pool: pool)  # the pool itself is the app

    @rpc
    def now(self):
        with self.db.connection() as conn:
            return conn.execute("SELECT now()::text").fetchone()[0]


@pytest.fixture
def own_database():
    url = make_database()
    yield url
    drop_database(url)


def served(cluster) -> bool:
    """True if answered; False if told to retry later or not answered in time. Anything else
    (a RemoteError: the outage seen as a bug) fails the test."""
    try:
        cluster.clock.now()
        return True
    except DomainError as refusal:
        assert refusal.code == "SERVICE_UNAVAILABLE" and refusal.extra["retry_after_s"] > 0
        return False
    except RpcTimeout:
        return False


def test_a_service_serves_within_2_s_of_the_database_coming_back(own_database, amqp_uri):
    settings = ServiceSettings(_env_file=None, AMQP_URI=amqp_uri, DATABASE_URL=own_database)
    with running_service(ClockService, settings), \
            ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=1) as cluster:
        assert served(cluster)
        set_outage(own_database, down=True)
        try:
            outage_ends = time.monotonic() + OUTAGE_S
            # a caller that waits longer than the pool (10 s) hears from the service itself
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=15) as patient:
                with pytest.raises(DomainError) as told:
                    patient.clock.now()
            assert told.value.code == "SERVICE_UNAVAILABLE"
            while time.monotonic() < outage_ends:  # requests keep coming meanwhile
                served(cluster)
                eventlet.sleep(0.5)
        finally:
            set_outage(own_database, down=False)
        back = time.monotonic()
        while not served(cluster):
            assert time.monotonic() - back < 30, "the service never came back"
            eventlet.sleep(0.1)
        recovered_after = time.monotonic() - back
    assert recovered_after < 2, f"served again {recovered_after:.1f} s after the database"
