"""CPU-heavy work in worker processes (`python -m common.worker`), waited for on green pipes:
the event loop keeps serving while they work, and they work in parallel on every core (threads
would share one interpreter lock). A worker is replaced after `tasks_per_worker` requests, so
that whatever a long-lived library keeps (WeasyPrint grows with each document) is given back,
and after a failure or a timeout.

concurrent.futures' process pool does not survive eventlet's monkey-patching: its management
thread, its futures and its pipes become green and the pool deadlocks or fails (`Cannot switch
to a different thread`). A pipe per worker, read by the green thread that waits, does.
"""

from __future__ import annotations

import logging
import pickle
import sys

import eventlet
import eventlet.queue
from eventlet.green import subprocess
from nameko.extensions import DependencyProvider

from common.registry import ROOT
from common.worker import read_frame, write_frame

log = logging.getLogger(__name__)


class WorkerFailed(Exception):
    """The worker raised, died or did not answer in time; the message says which."""


class _Worker:
    def __init__(self, target: str):
        self.process = subprocess.Popen([sys.executable, "-m", "common.worker", target],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        cwd=ROOT)
        self.tasks = 0

    def ask(self, request) -> tuple[bool, object]:
        write_frame(self.process.stdin, pickle.dumps(request))
        body = read_frame(self.process.stdout)
        if body is None:
            raise WorkerFailed(f"worker exited ({self.process.poll()})")
        return pickle.loads(body)  # noqa: S301  (our own worker)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Lets the worker finish and exit (its input ends); reaped in the background."""
        self.process.stdin.close()
        eventlet.spawn_n(self.process.wait)


class WorkerPool:
    """`size` workers running `target` ("module:function", its argument and answer
    picklable); `run` waits (green) for an idle one, at most `timeout_s` for the answer."""

    def __init__(self, target: str, size: int, tasks_per_worker: int, timeout_s: float):
        self.target, self.size = target, size
        self.tasks_per_worker, self.timeout_s = tasks_per_worker, timeout_s
        self._idle: eventlet.queue.LightQueue = eventlet.queue.LightQueue()
        self._all: set[_Worker] = set()

    def start(self) -> None:
        for _ in range(self.size):
            self._idle.put(self._new())

    def _new(self) -> _Worker:
        worker = _Worker(self.target)
        self._all.add(worker)
        return worker

    def run(self, request):
        worker = self._idle.get()
        try:
            with eventlet.Timeout(self.timeout_s, WorkerFailed(
                    f"no answer in {self.timeout_s} s")):
                ok, answer = worker.ask(request)
        except BaseException:  # a worker in an unknown state is never asked again
            self._all.discard(worker)
            worker.stop()
            self._idle.put(self._new())
            raise
        worker.tasks += 1
        if worker.tasks >= self.tasks_per_worker:
            self._all.discard(worker)
            worker.close()
            worker = self._new()
        self._idle.put(worker)
        if not ok:
            raise WorkerFailed(answer)
        return answer

    @property
    def pids(self) -> list[int]:
        return [worker.process.pid for worker in self._all]

    def stop(self) -> None:
        for worker in list(self._all):
            worker.stop()
        self._all.clear()


class Workers(DependencyProvider):
    """A WorkerPool for the service's container, made from its settings by `pool(settings)`;
    the workers start and stop with the container."""

    def __init__(self, pool):
        self.make_pool = pool

    def setup(self):
        self.pool = self.make_pool(self.container.config["settings"])

    def start(self):
        self.pool.start()

    def stop(self):
        self.pool.stop()

    def kill(self):
        self.pool.stop()

    def get_dependency(self, worker_ctx):
        return self.pool
