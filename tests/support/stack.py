"""The whole platform started as real processes (every process of common/registry.py) for
end-to-end and browser tests, on a fresh database and RabbitMQ vhost, with test-friendly
settings."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from common.migrations import migrate
from common.registry import PROCESSES, ROOT, WITH_DATABASE
from common.settings import role_url
from tests.support.infra import drop_database, make_database
from tests.support.limits import GENEROUS_LIMITS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, database_url: str, amqp_uri: str, workdir: Path,
                 amqp_uris: dict[str, str] | None = None, **overrides):
        """`amqp_uris`: each process's own broker user (default: all share `amqp_uri`)."""
        self.workdir = workdir
        self.amqp_uris = amqp_uris or dict.fromkeys(PROCESSES, amqp_uri)
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sms_outbox = workdir / "sms-outbox.jsonl"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PLATFORM_ENV": "development",
            "AMQP_URI": amqp_uri,
            "GATEWAY_PORT": str(self.port),
            "CAPTCHA_BACKEND": "fixed",
            "CAPTCHA_FIXED_ANSWER": "2468",
            "SMS_BACKEND": "outbox",
            "SMS_OUTBOX_PATH": str(self.sms_outbox),
            "SEASON_PHASES": "open",
            "NOTICE_MIN_READ_S": "2",
            "SMS_RESEND_COOLDOWN_S": "2",
            **{name: str(value) for name, value in GENEROUS_LIMITS.items()},
            "RPC_TIMEOUT_S": "15",
            "DEAD_LETTERS_REFRESH_S": "1",
            **{k: str(v) for k, v in overrides.items()},
        }
        self.procs: dict[str, subprocess.Popen] = {}
        # Settings of one process only, over `env` (see `restarted_with`).
        self.process_env: dict[str, dict[str, str]] = {}
        self._codes_read: set[str] = set()  # message ids of codes latest_code handed out
        self.metrics_ports = {name: free_port() for name in PROCESSES}
        # each one's expensive process's, if it has one (common/edge/expensive_process.py)
        self.expensive_metrics_ports = {name: free_port() for name in PROCESSES}
        for service in WITH_DATABASE:
            migrate(database_url, service.name)

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str) -> None:
        env = {**self.env, **self.process_env.get(name, {}),
               "METRICS_PORT": str(self.metrics_ports[name]),
               "EXPENSIVE_METRICS_PORT": str(self.expensive_metrics_ports[name]),
               "AMQP_URI": self.amqp_uris[name]}
        if PROCESSES[name].database:  # each service logs in as its own role, the gateway never
            env["DATABASE_URL"] = role_url(self.database_url, PROCESSES[name].role)
        log = open(self.log_path(name), "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "common.edge.launcher", name], cwd=ROOT, env=env,
            stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @contextlib.contextmanager
    def paused(self, name: str):
        """Process `name` stopped (SIGSTOP) for the block, as a process stuck on a full core
        would be: what it was sent waits, nothing is lost; then it goes on (SIGCONT)."""
        proc = self.procs[name]
        proc.send_signal(signal.SIGSTOP)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGCONT)

    def metric(self, name: str, sample: str) -> float | None:
        """A sample of process `name`'s Prometheus metrics, as its line begins
        (`platform_waiting_room_in_use{room="accounts"}`), or None."""
        text = requests.get(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics",
                            timeout=5).text
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def start_all(self) -> None:
        for name in PROCESSES:
            self.start(name)
        self.wait_healthy()

    def stop_all(self) -> None:
        for name in reversed(PROCESSES):
            self.stop(name)

    @contextlib.contextmanager
    def restarted_with(self, name: str, **overrides):
        """Process `name` restarted with these settings (its own, the others keep theirs) for
        the block, then restarted as it was before. The block starts once the gateway accepts
        connections (restarting the gateway) or the platform is healthy (any other process)."""
        saved = self.process_env.get(name)
        self.stop(name)
        self.process_env[name] = {**(saved or {}), **{k: str(v) for k, v in overrides.items()}}
        self.start(name)
        try:
            if name == "gateway":
                self.wait_listening()
            else:
                self.wait_healthy()
            yield self
        finally:
            self.stop(name)
            if saved is None:
                self.process_env.pop(name, None)
            else:
                self.process_env[name] = saved
            self.start(name)
            self.wait_healthy()

    def gateway_with(self, **overrides):
        """The gateway restarted with these settings for the block, then as it was before."""
        return self.restarted_with("gateway", **overrides)

    def wait_listening(self, timeout: float = 30) -> None:
        """Until the gateway accepts connections (whatever it answers)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=3).status_code == 200:
                    return
            except requests.RequestException:
                pass
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{self.log_path(name).read_text()[-3000:]}")
            time.sleep(0.3)
        raise RuntimeError("platform did not become healthy")

    # reading what was "sent" ------------------------------------------------------------
    def sms_messages(self, phone: str | None = None) -> list[dict]:
        if not self.sms_outbox.exists():
            return []
        lines = [json.loads(line) for line in self.sms_outbox.read_text().splitlines() if line]
        return [m for m in lines if phone is None or m["phone"] == phone]

    def wait_sms(self, phone: str, purpose: str, count: int = 1, timeout: float = 15) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.sms_messages(phone) if m["purpose"] == purpose]
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no {purpose} SMS for {phone} within {timeout}s")

    def latest_code(self, phone: str, purpose: str, timeout: float = 15) -> str:
        """The newest code texted to `phone` for `purpose` that was not read before, waiting
        for it: codes are texted asynchronously, a moment after the request's answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [m for m in self.sms_messages(phone) if m["purpose"] == purpose
                     and m["message_id"] not in self._codes_read]
            if fresh:
                self._codes_read.update(m["message_id"] for m in fresh)
                return re.search(r"\d{6}", fresh[-1]["text"]).group()
            time.sleep(0.05)
        raise AssertionError(f"no new {purpose} code for {phone} within {timeout}s")


@contextlib.contextmanager
def platform_on(amqp_uri: str, workdir: Path, amqp_uris: dict[str, str] | None = None,
                **overrides):
    """The whole platform running on `amqp_uri`'s broker and a fresh database of its own,
    stopped and the database dropped afterwards."""
    database_url = make_database()
    try:
        platform = Stack(database_url, amqp_uri, workdir, amqp_uris, **overrides)
        try:
            platform.start_all()
            yield platform
        finally:
            platform.stop_all()
    finally:
        drop_database(database_url)
