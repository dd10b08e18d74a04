"""Adding a service is one entry in common/registry.py: every entry is complete and whole, and
nothing else lists the processes."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from common import broker
from common.edge.dependencies import Wiring
from common.registry import HEALTH_CHECKED, OWNER_ROLE, PROCESSES, ROOT, WITH_DATABASE, load
from common.settings import ProcessSettings, ServiceSettings

SKIPPED_DIRS = {".git", ".venv", "var", "docs", "__pycache__"}
# Files of the shell, SQL and systemd kinds, whose comments start a line with these.
COMMENTED = {".sh": "#", ".sql": "--", ".service": "#", ".target": "#", ".conf": "#",
             ".example": "#", "Makefile": "#"}


def test_every_entry_names_what_exists():
    for process in PROCESSES.values():
        assert re.fullmatch(r"[a-z]+", process.name), process.name  # schema, unit, env prefix
        assert load(process.service).name == process.name
        settings = load(process.settings)
        assert issubclass(settings, ProcessSettings)
        assert issubclass(settings, ServiceSettings) == process.database, process.name
        assert getattr(settings, "DATABASE_ROLE", None) == process.role
        assert (process.rotate_keys is None) or callable(load(process.rotate_keys))
        assert (ROOT / "deploy" / "env" / f"{process.name}.env.example").is_file()
    ports = [process.metrics_port for process in PROCESSES.values()]
    assert len(set(ports)) == len(ports)
    assert OWNER_ROLE not in {process.role for process in PROCESSES.values()}


def test_every_service_with_migrations_is_in_the_registry_and_the_other_way_round():
    folders = {Path(root) for root, dirs, _ in _walk() if Path(root).name == "migrations"}
    assert folders == {process.migrations for process in WITH_DATABASE}
    for process in WITH_DATABASE:
        assert sorted(process.migrations.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def test_producers_and_consumers_of_events_declare_it_and_get_the_relay():
    """What broker.py lets a process emit and handle, its entry declares (the outbox, the
    record of handled events), and a producer's service runs the outbox relay."""
    for process in PROCESSES.values():
        bus = broker.PROCESSES[process.name]
        assert process.produces_events == bool(bus.emits), process.name
        assert process.consumes_events == bool(bus.handles), process.name
        assert process.database or not (process.produces_events or process.consumes_events)
        wirings = [value for value in vars(load(process.service)).values()
                   if isinstance(value, Wiring)]
        assert any(wiring.relay for wiring in wirings) == process.produces_events, process.name


def test_every_environment_file_belongs_to_a_process():
    examples = {path.name for path in (ROOT / "deploy" / "env").glob("*.env.example")}
    assert examples == {f"{name}.env.example" for name in [*PROCESSES, "common", "migrate"]}


def test_the_broker_says_what_every_process_may_do_and_the_gateway_may_ping_each_service():
    assert broker.PROCESSES.keys() == PROCESSES.keys()
    for name in HEALTH_CHECKED:
        assert "ping" in broker.PROCESSES["gateway"].calls[name]


def test_the_shell_scripts_read_the_registry():
    def ask(command: str) -> list[str]:
        return subprocess.run([sys.executable, "-m", "common.registry", command], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.split("\n")[:-1]

    assert ask("names") == list(PROCESSES)
    assert ask("processes") == [f"{p.name} {p.metrics_port} {p.role or '-'}"
                                for p in PROCESSES.values()]
    assert ask("roles") == [OWNER_ROLE, *(process.role for process in WITH_DATABASE)]


def test_no_module_but_the_registry_lists_the_processes():
    """A collection of process names (Python), or a line naming several of them (shell, SQL,
    systemd), anywhere but in the registry and in the tests of particular behaviours."""
    found = []
    for root, _, files in _walk():
        for file in files:
            path = Path(root) / file
            if path.suffix == ".py" and not file.startswith("test_") and file != "registry.py":
                found += [f"{path}:{line}" for line in _listed_in_python(path)]
            kind = COMMENTED.get(path.suffix) or COMMENTED.get(file)
            if kind:
                found += [f"{path}:{line}" for line in _listed_in_lines(path, kind)]
    assert not found


def _walk():
    for root, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        yield root, dirs, files


COLLECTIONS = (ast.Tuple, ast.List, ast.Set, ast.Dict)


def _listed_in_python(path: Path) -> set[int]:
    return {node.lineno for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, COLLECTIONS) and len(_names_in(node)) > 1}


def _names_in(node) -> set[str]:
    """The process names a literal holds, in collections within it too."""
    if isinstance(node, ast.Constant):
        return {node.value} & PROCESSES.keys() if isinstance(node.value, str) else set()
    if not isinstance(node, COLLECTIONS):
        return set()
    items = [*node.keys, *node.values] if isinstance(node, ast.Dict) else node.elts
    return set().union(*(_names_in(item) for item in items if item is not None))


# The platform's own name, which the enrollment service shares: the database and the broker's
# vhost (`.../enrollment`), the configuration directory and the Unix users
# (`/etc/enrollment-platform`, `enrollment-gateway`).
PLATFORM_NAME = re.compile(r"/enrollment\b|\benrollment(?=-)")


def _listed_in_lines(path: Path, comment: str) -> list[int]:
    return [number for number, line in enumerate(path.read_text().splitlines(), 1)
            if not line.lstrip().startswith(comment)
            and len(set(re.findall(r"[a-z]+", PLATFORM_NAME.sub("", line)))
                    & PROCESSES.keys()) > 1]
