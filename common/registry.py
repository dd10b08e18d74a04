"""Every process of the platform, once. The launcher, the migrations, the key rotation, `make
run`, `deploy/setup.sh`, the systemd units, the log viewer, the gateway's health check and the
test stack all read this list: adding a service is one entry in PROCESSES (README, "Adding a
service").

Standard library only: `deploy/setup.sh` runs it with the system's python3, before the
virtualenv exists. The shell scripts ask it:

    python3 -m common.registry names       # every process, in start order
    python3 -m common.registry processes   # per process: name, default metrics port, its
                                           # database login role or "-"
    python3 -m common.registry roles       # the database roles: the schemas' owner, then
                                           # each service's login
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Owns every schema; migrations run as this role (common/migrations.py).
OWNER_ROLE = "platform_owner"


@dataclass(frozen=True)
class Process:
    """One process. Its name is also its broker user's (`platform-<name>`), its environment
    file's (`deploy/env/<name>.env.example`), its log's and its systemd unit's
    (`platform-<name>@<metrics port>`); with a database, also its schema's."""

    name: str
    service: str  # "module:Class", the nameko service the launcher runs
    settings: str  # "module:Class", its settings (environment variables)
    metrics_port: int  # its METRICS_PORT unless one is set
    color: str  # ANSI colour of its lines in `make run`'s terminal
    # Keeps data: its schema `<name>`, migrations in the service package's `migrations/`, and
    # a login role `platform_<name>` with only the rights those migrations grant.
    database: bool = False
    # With a database: `produces_events`, its events go through a transactional outbox,
    # `<name>.outbox` (common/outbox.py), published by the OutboxRelay its service's Wiring
    # runs; `consumes_events`, it handles each event once, recording it in
    # `<name>.processed_events` (common/consumed.py). common/migrations.py makes the tables;
    # they agree with what common/broker.py says the process emits and handles.
    produces_events: bool = False
    consumes_events: bool = False
    health_checked: bool = False  # the gateway's /healthz pings it
    # "module:function(database_url, master_keys) -> rows": re-seals its rows under the
    # newest master key (`python -m common.keys rotate <name>`)
    rotate_keys: str | None = None

    @property
    def role(self) -> str | None:
        return f"platform_{self.name}" if self.database else None

    @property
    def migrations(self) -> Path | None:
        package = self.service.partition(":")[0].rpartition(".")[0]
        return ROOT.joinpath(*package.split("."), "migrations") if self.database else None


# In start order: each process starts after those it calls.
PROCESSES = {process.name: process for process in (
    Process("accounts", "services.accounts.service:AccountsService",
            "services.accounts.settings:AccountsSettings", metrics_port=9101, color="35",
            database=True, produces_events=True, consumes_events=True, health_checked=True,
            rotate_keys="services.accounts.storage:rotate_keys"),
    Process("notify", "services.notify.service:NotifyService",
            "services.notify.settings:NotifySettings", metrics_port=9102, color="33",
            database=True, consumes_events=True, health_checked=True,
            rotate_keys="services.notify.storage:rotate_keys"),
    Process("enrollment", "services.enrollment.service:EnrollmentService",
            "services.enrollment.settings:EnrollmentSettings", metrics_port=9103, color="32",
            database=True, produces_events=True, consumes_events=True, health_checked=True,
            rotate_keys="services.enrollment.storage:rotate_keys"),
    Process("verification", "services.verification.service:VerificationService",
            "services.verification.settings:VerificationSettings", metrics_port=9104,
            color="34", database=True, produces_events=True, consumes_events=True,
            health_checked=True, rotate_keys="services.verification.storage:rotate_keys"),
    Process("documents", "services.documents.service:DocumentsService",
            "services.documents.settings:DocumentsSettings", metrics_port=9105, color="31",
            database=True, consumes_events=True, health_checked=True),
    Process("gateway", "gateway.service:GatewayService", "gateway.settings:GatewaySettings",
            metrics_port=9100, color="36"),
)}
WITH_DATABASE = tuple(process for process in PROCESSES.values() if process.database)
HEALTH_CHECKED = tuple(process.name for process in PROCESSES.values() if process.health_checked)


def load(path: str):
    """What a "module:name" path names, importing its module."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str]) -> int:
    if argv[1:] == ["names"]:
        lines = list(PROCESSES)
    elif argv[1:] == ["processes"]:
        lines = [f"{p.name} {p.metrics_port} {p.role or '-'}" for p in PROCESSES.values()]
    elif argv[1:] == ["roles"]:
        lines = [OWNER_ROLE, *(process.role for process in WITH_DATABASE)]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
