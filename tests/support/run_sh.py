"""`make run` (deploy/run.sh) started for a test, from a checkout of its own (links to this one,
with its own var/), on free ports, its output collected line by line."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import requests

from common.registry import PROCESSES, WITH_DATABASE
from common.settings import role_url
from tests.support.stack import ROOT, free_port


def checkout_of_own(parent: Path) -> Path:
    """A directory of links to this checkout's entries, without var/: run.sh keeps its pid
    files, logs and broker passwords there, and must not stop a developer's own `make run`."""
    root = parent / "checkout"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "var":
            (root / entry.name).symlink_to(entry)
    return root


def free_port_env() -> dict[str, str]:
    """The settings that keep a run off the ports of anything else on the machine."""
    return {"RUN_SKIP_SETUP": "1", "NO_COLOR": "1", "GATEWAY_PORT": str(free_port()),
            **{f"{name.upper()}_METRICS_PORT": str(free_port()) for name in PROCESSES},
            **{f"{name.upper()}_EXPENSIVE_METRICS_PORT": str(free_port()) for name in PROCESSES}}


def database_env(database_url: str) -> dict[str, str]:
    """Each service's login to `database_url`, as its own role (<NAME>_DATABASE_URL)."""
    return {f"{service.name.upper()}_DATABASE_URL": role_url(database_url, service.role)
            for service in WITH_DATABASE}


class Run:
    def __init__(self, root: Path, env: dict):
        self.root = root
        self.url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["bash", str(root / "deploy" / "run.sh")], cwd=root,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float, after: int = 0) -> str:
        """The newest output line with `needle`, among those from index `after` on."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines[after:] if needle in line]
            if found:
                return found[-1]
            assert self.proc.poll() is None, "run.sh ended:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.2)
        raise AssertionError(f"no {needle!r} within {timeout}s:\n" + "\n".join(self.lines[-40:]))

    def pid(self, name: str) -> int:
        return int((self.root / "var" / "run" / f"{name}.pid").read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def healthy(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not healthy(url):
        assert time.monotonic() < deadline, "the gateway did not report healthy"
        time.sleep(0.3)


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
