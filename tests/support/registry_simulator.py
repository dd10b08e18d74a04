"""The population registry simulator (`python -m services.verification.simulator`) as a real
process on 127.0.0.1, for the tests and the benchmark: stopped (an outage: connections
refused) and started again on the same port, and steered through its admin endpoints (see the
simulator's docstring)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from common.registry import ROOT


class RegistrySimulator:
    def __init__(self, csv_path: Path, token: str = "", latency_ms: int = 0):
        self.csv_path, self.token, self.latency_ms = csv_path, token, latency_ms
        self.port = 0  # any free port the first time, then the same one
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.verification.simulator", "--csv",
             str(self.csv_path), "--port", str(self.port), "--token", self.token,
             "--latency-ms", str(self.latency_ms)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        ready = self.process.stdout.readline()  # printed once it accepts requests
        if not ready.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the registry simulator did not start: {ready!r}")
        self.port = int(ready.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process.stdout.close()

    def configure(self, **settings) -> None:
        requests.post(f"{self.url}/_admin/config", json=settings, timeout=5).raise_for_status()

    def stats(self) -> dict:
        return requests.get(f"{self.url}/_admin/stats", timeout=5).json()
