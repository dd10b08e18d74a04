"""The whole platform over a TLS-only broker: RPC requests and replies, the outbox's events
and the reply listeners all go over amqps://, verified against the platform's CA."""

import ssl

import pytest
from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu import Connection
from kombu.exceptions import OperationalError

from common.settings import ProcessSettings
from tests.support.family import Family
from tests.support.private_broker import (
    PrivateBroker,
    broker_workdir,
    free_port,
    make_certs,
    tls_config,
)
from tests.support.stack import platform_on


@pytest.fixture(scope="module")
def tls_broker():
    workdir = broker_workdir()
    certs = make_certs(workdir / "certs", "localhost")
    port = free_port()
    broker = PrivateBroker(workdir, tls_config(certs, port))
    ca_file = certs / "ca.pem"
    broker.start()
    try:
        # the CA is read before close() removes the directory
        yield port, ca_file.read_bytes()
    finally:
        broker.close()


@pytest.fixture(scope="module")
def tls_stack(tls_broker, tmp_path_factory):
    port, ca = tls_broker
    workdir = tmp_path_factory.mktemp("tls")
    (workdir / "ca.pem").write_bytes(ca)
    with platform_on(f"amqps://guest:guest@localhost:{port}/", workdir,
                     AMQP_SSL_CA_FILE=workdir / "ca.pem") as platform:
        yield platform


def test_a_family_registers_over_the_tls_broker(tls_stack):
    """gateway -> accounts RPCs and their replies, and accounts' events from the outbox relay
    to notify (the SMS code's and the account number's texts)."""
    Family(tls_stack).registers_and_is_texted()


def test_the_broker_speaks_only_tls_and_only_with_its_certificate(tls_broker, tmp_path):
    port, ca = tls_broker
    with pytest.raises((OSError, OperationalError, AmqpConnectionError)):  # no plain listener
        Connection(f"amqp://guest:guest@localhost:{port}//", connect_timeout=3).connect()
    settings = ProcessSettings(_env_file=None,
                               AMQP_URI=f"amqps://guest:guest@localhost:{port}/")
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's CAs do not vouch for it
        Connection(settings.AMQP_URI, ssl=settings.amqp_ssl, connect_timeout=3).connect()
    (tmp_path / "ca.pem").write_bytes(ca)
    verified = ProcessSettings(_env_file=None, AMQP_URI=settings.AMQP_URI,
                               AMQP_SSL_CA_FILE=str(tmp_path / "ca.pem"))
    with Connection(verified.AMQP_URI, ssl=verified.amqp_ssl, connect_timeout=3) as conn:
        conn.connect()
        assert conn.connected
