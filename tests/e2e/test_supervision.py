"""`make run` (deploy/run.sh) supervises its processes as the systemd units do: one that dies is
started again while the others keep serving, and a shutdown stops everything for good; it runs
on a broker an earlier version left classic event queues on. And deploy/setup.sh starts the
servers through the service manager, so they can be restarted by it."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from common import broker
from common.settings import role_url
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.accounts.contract import SMS_CODE_ISSUED
from services.accounts.settings import AccountsSettings
from services.notify.settings import NotifySettings
from tests.support.infra import (
    drop_amqp_vhost,
    drop_database,
    drop_process_users,
    make_amqp_vhost,
    make_database,
    make_process_users,
)
from tests.support.stack import ROOT, free_port


class Run:
    """deploy/run.sh started from a checkout of its own (`root`: links to this one, with its
    own var/), its output collected line by line."""

    def __init__(self, root: Path, env: dict):
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["bash", str(root / "deploy" / "run.sh")], cwd=root,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if needle in line]
            if found:
                return found[-1]
            assert self.proc.poll() is None, "run.sh ended:\n" + "\n".join(self.lines[-40:])
            time.sleep(0.2)
        raise AssertionError(f"no {needle!r} within {timeout}s:\n" + "\n".join(self.lines[-40:]))


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


@pytest.fixture
def start_run_sh(tmp_path):
    """Starts run.sh on free ports, its own database, vhost and broker users, its own var/."""
    root = tmp_path / "checkout"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "var":
            (root / entry.name).symlink_to(entry)
    database_url, amqp_uri = make_database(), make_amqp_vhost()
    users = make_process_users(amqp_uri)
    amqp_dir = root / "var" / "amqp"  # run.sh keeps these: no shared broker user is touched
    amqp_dir.mkdir(parents=True)
    for name, uri in users.items():
        (amqp_dir / f"{name}.env").write_text(f"AMQP_URI={uri}\n")
    port = free_port()
    env = {**os.environ, "RUN_SKIP_SETUP": "1", "NO_COLOR": "1", "GATEWAY_PORT": str(port),
           "GATEWAY_METRICS_PORT": str(free_port()), "ACCOUNTS_METRICS_PORT": str(free_port()),
           "NOTIFY_METRICS_PORT": str(free_port()), "AMQP_URI": amqp_uri,
           "MIGRATION_DATABASE_URL": database_url,
           "ACCOUNTS_DATABASE_URL": role_url(database_url, AccountsSettings.DATABASE_ROLE),
           "NOTIFY_DATABASE_URL": role_url(database_url, NotifySettings.DATABASE_ROLE),
           "SMS_OUTBOX_PATH": str(tmp_path / "sms-outbox.jsonl")}
    runs = []

    def start() -> Run:
        run = Run(root, env)
        run.url, run.root = f"http://127.0.0.1:{port}", root
        runs.append(run)
        return run

    start.amqp_uri, start.sms_outbox = amqp_uri, tmp_path / "sms-outbox.jsonl"
    try:
        yield start
    finally:
        for run in runs:
            if run.proc.poll() is None:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()
        drop_database(database_url)
        drop_amqp_vhost(amqp_uri)
        drop_process_users(users)


@pytest.fixture
def run_sh(start_run_sh):
    return start_run_sh()


def test_a_killed_process_is_restarted_and_a_shutdown_stops_everything(run_sh):
    run_sh.wait_for_line("the platform is up", timeout=120)
    assert healthy(run_sh.url)
    pids = {name: int((run_sh.root / "var" / "run" / f"{name}.pid").read_text())
            for name in broker.PROCESSES}

    os.kill(pids["accounts"], signal.SIGKILL)
    line = run_sh.wait_for_line("accounts exited with code", timeout=15)
    assert "code 137; restarting in 1 s" in line
    run_sh.wait_for_line("restarted accounts", timeout=15)
    wait_healthy(run_sh.url, timeout=60)
    restarted = int((run_sh.root / "var" / "run" / "accounts.pid").read_text())
    assert restarted != pids["accounts"] and pid_alive(restarted)
    assert pid_alive(pids["gateway"]) and pid_alive(pids["notify"])  # they kept serving

    started = time.monotonic()
    run_sh.proc.send_signal(signal.SIGTERM)
    run_sh.proc.wait(timeout=15)
    assert time.monotonic() - started < 10
    children = [restarted, pids["gateway"], pids["notify"]]
    assert not [pid for pid in children if pid_alive(pid)]
    assert not [line for line in run_sh.lines if "restarted" in line][1:]  # none while stopping


def test_setup_starts_and_restarts_rabbitmq_through_the_service_manager():
    """Never `rabbitmq-server -detached`: it leaves no pid file, and a later
    `service rabbitmq-server restart` then waits for ever. Prints, changes nothing."""
    out = subprocess.run(["bash", str(ROOT / "deploy" / "setup.sh"), "--service-commands"],
                         capture_output=True, text=True, check=True, timeout=30).stdout
    if Path("/run/systemd/system").is_dir():
        expected = ["systemctl start rabbitmq-server", "systemctl restart rabbitmq-server"]
    else:  # a container: Debian's init script, through `service`
        assert Path("/etc/init.d/rabbitmq-server").exists()
        expected = ["service rabbitmq-server start", "service rabbitmq-server restart"]
    assert f"rabbitmq start: {expected[0]}" in out and f"rabbitmq restart: {expected[1]}" in out
    assert "detached" not in out


def test_run_sh_keeps_the_events_of_an_earlier_install_whose_event_queues_were_classic(
        start_run_sh):
    """RabbitMQ would refuse notify's quorum queue over the classic one an earlier `make run`
    left, with a code still to text in it: run.sh makes it a quorum queue first, and the code
    is texted."""
    message_id, phone = f"code-{uuid.uuid4()}", "13912345678"
    with Connection(start_run_sh.amqp_uri) as conn:
        Queue("evt-accounts-sms_code_issued--notify.handle_sms_code_issued",
              exchange=Exchange("accounts.events", type="topic", durable=True),
              routing_key=SMS_CODE_ISSUED, durable=True)(conn.default_channel).declare()
    event_dispatcher({"AMQP_URI": start_run_sh.amqp_uri})(ACCOUNTS, SMS_CODE_ISSUED, {
        "event_id": str(uuid.uuid4()), "message_id": message_id, "phone": phone,
        "purpose": "register", "text": "您的验证码为 135790，5分钟内有效。",
        "not_after": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()})
    run = start_run_sh()
    run.wait_for_line("the platform is up", timeout=120)
    deadline = time.monotonic() + 15
    while not (start_run_sh.sms_outbox.exists()
               and message_id in start_run_sh.sms_outbox.read_text()):
        assert time.monotonic() < deadline, "the code left in the classic queue was not texted"
        time.sleep(0.2)
