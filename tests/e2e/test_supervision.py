"""`make run` (deploy/run.sh) supervises its processes as the systemd units do: one that dies is
started again while the others keep serving, and a shutdown stops everything for good; it runs
on a broker an earlier version left classic event queues on. And deploy/setup.sh starts the
servers through the service manager, so they can be restarted by it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from common.registry import PROCESSES
from services.accounts.contract import SERVICE_NAME as ACCOUNTS
from services.accounts.contract import SMS_CODE_ISSUED
from tests.support.infra import (
    drop_amqp_vhost,
    drop_database,
    drop_process_users,
    make_amqp_vhost,
    make_database,
    make_process_users,
)
from tests.support.run_sh import (
    Run,
    checkout_of_own,
    database_env,
    free_port_env,
    healthy,
    pid_alive,
    wait_healthy,
)
from tests.support.stack import ROOT


@pytest.fixture
def start_run_sh(tmp_path):
    """Starts run.sh on free ports, its own database, vhost and broker users, its own var/."""
    root = checkout_of_own(tmp_path)
    database_url, amqp_uri = make_database(), make_amqp_vhost()
    users = make_process_users(amqp_uri)
    amqp_dir = root / "var" / "amqp"  # run.sh keeps these: no shared broker user is touched
    amqp_dir.mkdir(parents=True)
    for name, uri in users.items():
        (amqp_dir / f"{name}.env").write_text(f"AMQP_URI={uri}\n")
    env = {**os.environ, **free_port_env(), **database_env(database_url), "AMQP_URI": amqp_uri,
           "MIGRATION_DATABASE_URL": database_url,
           "SMS_OUTBOX_PATH": str(tmp_path / "sms-outbox.jsonl")}
    runs = []

    def start() -> Run:
        runs.append(Run(root, env))
        return runs[-1]

    start.amqp_uri, start.sms_outbox = amqp_uri, tmp_path / "sms-outbox.jsonl"
    try:
        yield start
    finally:
        for run in runs:
            run.kill()
        drop_database(database_url)
        drop_amqp_vhost(amqp_uri)
        drop_process_users(users)


@pytest.fixture
def run_sh(start_run_sh):
    return start_run_sh()


def test_a_killed_process_is_restarted_and_a_shutdown_stops_everything(run_sh):
    run_sh.wait_for_line("the platform is up", timeout=120)
    assert healthy(run_sh.url)
    pids = {name: run_sh.pid(name) for name in PROCESSES}

    os.kill(pids["accounts"], signal.SIGKILL)
    line = run_sh.wait_for_line("accounts exited with code", timeout=15)
    assert "code 137; restarting in 1 s" in line
    run_sh.wait_for_line("restarted accounts", timeout=15)
    wait_healthy(run_sh.url, timeout=60)
    restarted = run_sh.pid("accounts")
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
