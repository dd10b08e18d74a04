"""A separate process that calls `accounts.ping()` (SELECT 1) sequentially over one long-lived
nameko standalone ClusterRpcProxy, so its timing is not disturbed by the bench's own threads.

Calls are spaced by `gap_s`, idle and under load alike, so the probe itself adds the same small,
bounded load in both cases. A call answered with an error (nameko RemoteError) still made the
whole round trip: its latency is kept, and it is counted as failed.
"""

from __future__ import annotations

import multiprocessing
import time

READY, COUNT, RUN, HALT, QUIT = "ready", "count", "run", "halt", "quit"
REPLY_TIMEOUT_S = 180


def _serve(amqp_uri: str, gap_s: float, conn) -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from nameko.exceptions import RemoteError  # imported here: the child only
    from nameko.standalone.rpc import ClusterRpcProxy

    def one_call(rpc) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            ok = bool(rpc.accounts.ping()["ok"])
        except RemoteError:
            ok = False
        elapsed = time.perf_counter() - started
        time.sleep(gap_s)
        return elapsed, ok

    with ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=30) as rpc:
        for _ in range(20):  # warm-up: connections, reply queue
            one_call(rpc)
        conn.send(READY)
        while True:
            command, arg = conn.recv()
            if command == QUIT:
                return
            if command == COUNT:
                conn.send([one_call(rpc) for _ in range(arg)])
            elif command == RUN:
                samples = []
                while not conn.poll():
                    samples.append(one_call(rpc))
                conn.recv()  # HALT
                conn.send(samples)


class PingProbe:
    def __init__(self, amqp_uri: str, gap_s: float):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(amqp_uri, gap_s, child), daemon=True,
                                 name="ping-probe")
        self._proc.start()
        if self._reply() != READY:
            raise RuntimeError("ping probe did not start")

    def _reply(self):
        if not self._conn.poll(REPLY_TIMEOUT_S):
            raise RuntimeError("ping probe did not answer")
        return self._conn.recv()

    def count(self, calls: int) -> list[tuple[float, bool]]:
        """(latency in s, answered ok) of `calls` sequential pings."""
        self._conn.send((COUNT, calls))
        return self._reply()

    def start(self) -> None:
        """Pings continuously until `stop()`."""
        self._conn.send((RUN, None))

    def stop(self) -> list[tuple[float, bool]]:
        self._conn.send((HALT, None))
        return self._reply()

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._conn.send((QUIT, None))
            except OSError:
                pass
            self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
