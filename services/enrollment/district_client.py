"""The client a district education committee's system imports to call the enrollment service:
the methods of `DistrictRpc` (services/enrollment/contract.py), each request validated before
it is sent and each reply parsed into its declared type; refusals are DomainErrors
(common/errors.py), a call without an answer in time RpcUnavailable.

It logs in as the district's own broker user (`AMQP_URI` from var/amqp/district-<code>.env,
made by `make run` and deploy/setup.sh), which may call nothing else, and the service knows
the district from that user alone:

    with DistrictClient.from_env() as enrollment:
        page = enrollment.district_list_applications(
            ApplicationQuery(operator="cy0042", verification="verified", limit=100))

No nameko service, no eventlet: a script's plain blocking calls.
"""

from __future__ import annotations

import warnings
from urllib.parse import unquote, urlsplit

# The RPC edge the client shares with the services imports eventlet, whose deprecation notice
# means nothing to a district's program.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from dotenv import dotenv_values  # noqa: E402

from common.districts import BROKER_USER_PREFIX  # noqa: E402
from common.edge.rpc import RpcUnavailable, StandaloneRpc  # noqa: E402
from common.settings import ProcessSettings  # noqa: E402
from services.enrollment.contract import SERVICE_NAME, DistrictRpc  # noqa: E402

__all__ = ["DistrictClient", "RpcUnavailable"]  # what a district's program catches, too


class DistrictClient(DistrictRpc):
    def __init__(self, amqp_uri: str, timeout_s: float = 10.0, ssl: dict | None = None):
        # the reply queue's name, `rpc.reply-district-<code>-<uuid>`, is the one its broker
        # user may declare (the user may carry a prefix before `district-`: the tests')
        code = unquote(urlsplit(amqp_uri).username or "").rpartition(BROKER_USER_PREFIX)[2]
        super().__init__(StandaloneRpc(amqp_uri, SERVICE_NAME, BROKER_USER_PREFIX + code,
                                       timeout_s, ssl))

    @classmethod
    def from_env(cls, env_file: str | None = None) -> DistrictClient:
        """AMQP_URI, AMQP_SSL_CA_FILE and RPC_TIMEOUT_S from the environment, or first from
        `env_file` (KEY=VALUE lines, as var/amqp/district-<code>.env), whose values win."""
        settings = ProcessSettings(**{key: value for key, value in dotenv_values(env_file).items()
                                      if value is not None}) if env_file else ProcessSettings()
        return cls(settings.AMQP_URI, settings.RPC_TIMEOUT_S, settings.amqp_ssl)

    def close(self) -> None:
        self._rpc.close()

    def __enter__(self) -> DistrictClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
