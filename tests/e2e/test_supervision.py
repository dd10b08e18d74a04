"""`make run` (deploy/run.sh) supervises its processes as the systemd units do: one that dies is
started again while the others keep serving, and a shutdown stops everything for good. And
deploy/setup.sh starts the servers through the service manager, so they can be restarted by it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from common.registry import PROCESSES
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
def run_sh(tmp_path):
    """run.sh on free ports, its own database, vhost and broker users, its own var/."""
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
    run = Run(root, env)
    try:
        yield run
    finally:
        run.kill()
        drop_database(database_url)
        drop_amqp_vhost(amqp_uri)
        drop_process_users(users)


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
