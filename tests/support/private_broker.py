"""A private RabbitMQ node for one test run, next to (never instead of) the machine's broker:
its own node name, ports, data and logs in a temporary directory, its own configuration: a
TLS-only listener (`tls_config`) or a plain one (`plain_config`). Fault-injection tests stop
and start it at will: `stop()` keeps its data (durable queues, exchanges), so a `start()`
after it is a real broker restart; `close()` stops it for good and removes everything."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_workdir() -> Path:
    """A fresh directory the broker can use: Debian's rabbitmq-server, started by root, runs as
    the user rabbitmq, which cannot enter root's 0700 temporary directories."""
    workdir = Path(tempfile.mkdtemp(prefix="platform-broker-"))
    if os.getuid() == 0:
        workdir.chmod(0o755)
        user = pwd.getpwnam("rabbitmq")
        os.chown(workdir, user.pw_uid, user.pw_gid)
    return workdir


class PrivateBroker:
    """`workdir` from `broker_workdir()`; removed by `close()`."""

    def __init__(self, workdir: Path, config: str, plugins: tuple[str, ...] = ()):
        """`plugins`: e.g. ("rabbitmq_management",), with `management_config` in `config`."""
        self.workdir = workdir
        self.node = f"platform-test-{secrets.token_hex(3)}@localhost"
        (workdir / "rabbitmq.conf").write_text(config)
        # None by default: the shared node owns :15672
        (workdir / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
        for sub in ("mnesia", "log"):
            (workdir / sub).mkdir(exist_ok=True)
        if os.getuid() == 0:
            for path in (workdir, *workdir.rglob("*")):
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(workdir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(workdir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(workdir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(workdir / "log"),
            "RABBITMQ_PID_FILE": str(workdir / "rabbitmq.pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(workdir / "mnesia" / "feature_flags"),
            "ERL_CRASH_DUMP": str(workdir / "erl_crash.dump"),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> None:
        log = open(self.workdir / "server.out", "ab")
        self.proc = subprocess.Popen(["rabbitmq-server"], env=self.env, cwd=self.workdir,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ctl("await_startup", "--timeout", "5", check=False).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"private broker did not start; see {self.workdir}")

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["rabbitmqctl", "-q", "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=60)

    def stop(self) -> None:
        """Stops the node; its data stays for the next `start()`."""
        if self.proc is None:
            return
        self.ctl("stop", check=False)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def plain_config(port: int) -> str:
    """Plain AMQP on the loopback only (guest may log in from there)."""
    return f"listeners.tcp.default = 127.0.0.1:{port}\n"


def management_config(port: int) -> str:
    """The management API (and the plugin's own listener) on the loopback, on `port`."""
    return f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {port}\n"


def tls_config(certs: Path, port: int) -> str:
    """TLS only: no plain listener at all."""
    return (f"listeners.tcp = none\n"
            f"listeners.ssl.default = 127.0.0.1:{port}\n"
            f"ssl_options.cacertfile = {certs / 'ca.pem'}\n"
            f"ssl_options.certfile = {certs / 'server.pem'}\n"
            f"ssl_options.keyfile = {certs / 'server.key'}\n"
            f"ssl_options.versions.1 = tlsv1.3\n"
            f"ssl_options.versions.2 = tlsv1.2\n"
            f"ssl_options.verify = verify_none\n"
            f"ssl_options.fail_if_no_peer_cert = false\n")


def make_certs(directory: Path, *hosts: str) -> Path:
    subprocess.run(["bash", str(ROOT / "deploy" / "tls-certs.sh"), str(directory), *hosts],
                   check=True, capture_output=True)
    return directory
