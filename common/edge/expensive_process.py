"""A service's expensive process. Where a service's contract says `expensive_apart`
(common/contract_base.py), its process starts a second one, `<service>-expensive`, that serves
the expensive methods only, under Linux's SCHED_IDLE policy: it gets whatever CPU cheap work
leaves, at once whenever a core is free. A district's bulk call then runs at full speed on a
quiet machine and gives way to the families' pages on a busy one; in one event loop they would
share the loop and the cores alike.

The two are one unit for a supervisor (`make run`, systemd): the expensive process dies with
its parent (PR_SET_PDEATHSIG), and the parent stops, failing, when the expensive one dies, so
both are started again together.
"""

from __future__ import annotations

import ctypes
import inspect
import logging
import os
import signal
import subprocess
import sys

import eventlet
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from common.contract_base import expensive_process_name

log = logging.getLogger(__name__)

FLAG = "--expensive"  # the launcher's argument that makes it the expensive process
_PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_S = 20


def split(service_cls) -> tuple[type, type | None]:
    """The service without the entrypoints of its methods served apart, and those (with
    `ping`, for the health check) as a service of their own named `<name>-expensive`; None for
    the second if it has none."""
    apart, rest = [], []
    for attribute, function in inspect.getmembers(service_cls, inspect.isfunction):
        if getattr(function, ENTRYPOINT_EXTENSIONS_ATTR, None) and attribute != "ping":
            declared = getattr(function, "declared", None)
            (apart if declared is not None and declared.apart else rest).append(attribute)
    if not apart:
        return service_cls, None
    return (_without(service_cls, service_cls.name, apart),
            _without(service_cls, expensive_process_name(service_cls.name), rest))


def _without(service_cls, name: str, attributes: list[str]) -> type:
    """A subclass of `service_cls` named `name` in which `attributes` are no entrypoints (its
    timers and event handlers stay with the service's own process)."""
    return type(service_cls.__name__, (service_cls,),
                {"name": name, **dict.fromkeys(attributes, _not_served)})


def _not_served(self, *args, **kwargs):
    raise NotImplementedError("served by the other process of this service")


def become_expensive_process() -> None:
    """Called first thing in the expensive process (its parent has set its CPU priority, which
    the threads it starts inherit): death with the parent."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the line above
        sys.exit(1)


class ExpensiveProcess:
    """The parent's handle on its expensive process (`launcher NAME --expensive`)."""

    def __init__(self, name: str):
        self.stopping = False
        self.died = False
        self.child = subprocess.Popen(
            [sys.executable, "-m", "common.edge.launcher", name, FLAG])
        # at once, not after the child's imports
        os.sched_setscheduler(self.child.pid, os.SCHED_IDLE, os.sched_param(0))
        eventlet.spawn_n(self._watch)

    def _watch(self) -> None:
        # eventlet's wait polls: once a second, not every 10 ms on the service's event loop
        code = self.child.wait(check_interval=1.0)
        if not self.stopping:
            log.error("the expensive process stopped; stopping", extra={"exit_code": code})
            self.died = True
            os.kill(os.getpid(), signal.SIGTERM)  # nameko's runner stops the service

    def stop(self) -> None:
        self.stopping = True
        if self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()
