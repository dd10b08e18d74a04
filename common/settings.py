"""Settings every process reads from the environment (pydantic-settings).

Each service extends `ProcessSettings` with its own variables. Development defaults let
`make run` work out of the box; `PLATFORM_ENV=production` refuses them.
"""

from __future__ import annotations

import ssl
from typing import Literal
from urllib.parse import urlsplit

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Published on purpose: they protect nothing, and production refuses to start with them.
DEV_KEYS = {
    "DATA_ENCRYPTION_KEY": "ZGV2LW9ubHktZGF0YS1rZXktZG8tbm90LXVzZS0zMjA=",
    "LOOKUP_HASH_KEY": "ZGV2LW9ubHktbG9va3VwLWtleS1kby1ub3QtdXNlLTA=",
    "CSRF_SECRET_KEY": "ZGV2LW9ubHktY3NyZi1rZXktZG8tbm90LXVzZS0wMDA=",
}
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ProcessSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    PLATFORM_ENV: Literal["development", "production"] = "development"
    DATABASE_URL: str = "postgresql://postgres@127.0.0.1:5432/enrollment"
    DATABASE_POOL_SIZE: int = 20
    AMQP_URI: str = "amqp://guest:guest@127.0.0.1:5672/"
    # With an amqps:// AMQP_URI: the CA that signed the broker's certificate ("" = the
    # system's CAs). The certificate and its host name are always verified.
    AMQP_SSL_CA_FILE: str = ""
    RPC_TIMEOUT_S: float = 10.0
    MAX_WORKERS: int = 50
    METRICS_PORT: int = 0  # 0: the process's default port (see README)
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
