"""A private PostgreSQL cluster for one test run, next to (never instead of) the machine's: its
own data directory, port and socket in a temporary directory, trust authentication on the
loopback. Fault-injection tests stop, start and restart it at will; `close()` stops it and
removes everything."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.private_broker import free_port


def _bin(name: str) -> str:
    """Debian keeps the server's programs out of PATH, under /usr/lib/postgresql/<version>."""
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found: is the postgresql package installed?")
    return found if isinstance(found, str) else found[-1]


class PrivateDatabase:
    def __init__(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="platform-pg-"))
        self.port = free_port()
        self.data = self.workdir / "data"
        # initdb and postgres refuse to run as root: as root, they run as the user postgres.
        self._as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        if os.getuid() == 0:
            self.workdir.chmod(0o755)
            user = pwd.getpwnam("postgres")
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.workdir}'\nmax_connections = 200\n"
                       # a test cluster: durability across power loss is not what it tests
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.workdir / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        """A fast shutdown, as `service postgresql stop` does: sessions are disconnected."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.workdir / "server.log"),
                  "-m", "fast", "-w", "-t", "60", "restart")

    def close(self) -> None:
        subprocess.run([*self._as, _bin("pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)
