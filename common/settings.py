"""Settings every process reads from the environment (pydantic-settings).

Each process extends `ProcessSettings` (the gateway) or `ServiceSettings` (services that keep
data) with its own variables. Development defaults let `make run` work out of the box;
`PLATFORM_ENV=production` refuses them.
"""

from __future__ import annotations

import ssl
from functools import cached_property
from typing import ClassVar, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.districts import BROKER_USER_PREFIX
from common.keys import MasterKeys

_DEV_MASTER_KEY = "ZGV2LW9ubHktbWFzdGVyLWtleS1kby1ub3QtdXNlLTA="
# Published on purpose: they protect nothing, and production refuses to start with them.
DEV_KEYS = {
    "MASTER_KEYS": f"1:{_DEV_MASTER_KEY}",
    "CSRF_SECRET_KEY": "ZGV2LW9ubHktY3NyZi1rZXktZG8tbm90LXVzZS0wMDA=",
}
LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEV_DATABASE = "postgresql://127.0.0.1:5432/enrollment"


def role_url(database_url: str, role: str) -> str:
    """The same server and database, logged in as `role` (no password: trust or .pgpass)."""
    parts = urlsplit(database_url)
    host = parts.hostname or ""
    netloc = f"{quote(role)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class ProcessSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    PLATFORM_ENV: Literal["development", "production"] = "development"
    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    # With an amqps:// AMQP_URI: the CA that signed the broker's certificate ("" = the
    # system's CAs). The certificate and its host name are always verified.
    AMQP_SSL_CA_FILE: str = ""
    RPC_TIMEOUT_S: float = 10.0
    # District systems log in to the broker as `<prefix><district code>` (common/broker.py);
    # the tests, whose users share the broker with others, put their vhost first.
    DISTRICT_USER_PREFIX: str = BROKER_USER_PREFIX
    # Heartbeat of the connections that consume (nameko's HEARTBEAT; whole seconds, as AMQP
    # negotiates it): the broker closes a connection it hears nothing from for two of them.
    AMQP_HEARTBEAT_S: int = 60
    MAX_WORKERS: int = 50
    # Expensive calls (common.contract_base.Cost) running at once in one process; one more is
    # refused at once ("retry later"). Well under MAX_WORKERS, which cheap calls then keep.
    EXPENSIVE_WORKERS: int = Field(32, ge=1)
    # How often a process with event handlers reads its dead-letter queue's depth (the gauge
    # platform_dead_letters).
    DEAD_LETTERS_REFRESH_S: float = 15.0
    METRICS_PORT: int = 0  # 0: the process's default port (see README)
    # its expensive process's, if it has one (common/edge/expensive_process.py); 0: 100 above
    EXPENSIVE_METRICS_PORT: int = 0
    METRICS_HOST: str = "127.0.0.1"
    LOG_LEVEL: str = "INFO"

    @property
    def production(self) -> bool:
        return self.PLATFORM_ENV == "production"

    @property
    def amqp_ssl(self) -> dict | None:
        """kombu's `ssl` option for AMQP_URI: None for amqp://, for amqps:// a verified TLS
        connection (kombu's own amqps:// default checks neither the CA nor the host name)."""
        uri = urlsplit(self.AMQP_URI)
        if uri.scheme != "amqps":
            return None
        return {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": self.AMQP_SSL_CA_FILE or None,
                "server_hostname": uri.hostname}

    def production_problems(self) -> list[str]:
        """What makes this configuration unfit for production; services add their own."""
        problems = []
        if self.amqp_ssl is None and urlsplit(self.AMQP_URI).hostname not in LOOPBACK:
            problems.append("AMQP_URI is not amqps:// (traffic between hosts must be encrypted)")
        for name, dev_value in DEV_KEYS.items():
            if getattr(self, name, None) == dev_value:
                problems.append(f"{name} is the published development key")
        return problems

    @model_validator(mode="after")
    def _refuse_unsafe_production(self):
        if self.production:
            problems = self.production_problems()
            if problems:
                raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self


class ServiceSettings(ProcessSettings):
    """A service that keeps data: its own database login and the master keys."""

    DATABASE_ROLE: ClassVar[str]  # the service's login role, with only the rights it needs
    DATABASE_URL: str  # each service defaults to DEV_DATABASE as its DATABASE_ROLE
    DATABASE_POOL_SIZE: int = 20
    # While the database is away, each lost connection is retried this often (psycopg_pool
    # doubles its wait after each failure: service came back up to an outage's length late).
    DATABASE_RECONNECT_INTERVAL_S: float = 0.5
    MASTER_KEYS: str = Field(DEV_KEYS["MASTER_KEYS"], repr=False)  # kept out of tracebacks

    @model_validator(mode="after")
    def _check_keys(self):
        self.master_keys  # noqa: B018  (refuses a malformed MASTER_KEYS at start)
        return self

    @cached_property
    def master_keys(self) -> MasterKeys:
        return MasterKeys.parse(self.MASTER_KEYS)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.MASTER_KEYS != DEV_KEYS["MASTER_KEYS"] and _DEV_MASTER_KEY in self.MASTER_KEYS:
            problems.append("MASTER_KEYS holds the published development key")
        return problems
