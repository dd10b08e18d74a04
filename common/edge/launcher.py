"""Starts one process of the platform: `python -m common.edge.launcher NAME`, NAME a process of
common/registry.py. A service with methods served apart starts its expensive process itself
(`NAME --expensive`, common/edge/expensive_process.py).

Order matters: psycopg must see PSYCOPG_WAIT_FUNC and eventlet must patch the standard
library before anything else is imported, or database calls block the whole process.
"""

import os

from common.cores import offload_threads  # noqa: E402  (standard library only)

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")
os.environ.setdefault("EVENTLET_THREADPOOL_SIZE", str(offload_threads()))

import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
import eventlet  # noqa: E402

eventlet.monkey_patch()

import gc  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

from nameko.cli.run import run  # noqa: E402
from prometheus_client import start_http_server  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from common.edge import expensive_process  # noqa: E402
from common.logging_setup import configure_logging  # noqa: E402
from common.registry import PROCESSES, load  # noqa: E402


def nameko_config(settings) -> dict:
    config = {
        "AMQP_URI": settings.AMQP_URI,
        "HEARTBEAT": settings.AMQP_HEARTBEAT_S,
        "max_workers": settings.MAX_WORKERS,
        "serializer": "json",
        "settings": settings,
    }
    if settings.amqp_ssl:  # nameko's consumers; our publishers read it too (common/edge/rpc.py)
        config["AMQP_SSL"] = settings.amqp_ssl
    if hasattr(settings, "GATEWAY_PORT"):
        config["WEB_SERVER_ADDRESS"] = f"{settings.GATEWAY_HOST}:{settings.GATEWAY_PORT}"
    return config


def main(argv: list[str]) -> int:
    expensive = argv[2:] == [expensive_process.FLAG]
    if len(argv) != 2 + expensive or argv[1] not in PROCESSES:
        print(f"usage: {argv[0]} {{{'|'.join(PROCESSES)}}}", file=sys.stderr)
        return 2
    process = PROCESSES[argv[1]]
    cheap, apart = expensive_process.split(load(process.service))
    if expensive:
        if apart is None:
            print(f"{process.name} serves no method apart", file=sys.stderr)
            return 2
        expensive_process.become_expensive_process()
    name = (apart if expensive else cheap).name
    try:
        settings = load(process.settings)()
    except ValidationError as exc:
        print(f"{name}: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(name, settings.LOG_LEVEL)
    metrics_port = settings.METRICS_PORT or process.metrics_port
    if expensive:
        metrics_port = settings.EXPENSIVE_METRICS_PORT or metrics_port + 100
    start_http_server(metrics_port, addr=settings.METRICS_HOST)
    logging.getLogger(name).info("starting", extra={"metrics_port": metrics_port})
    # What the imports created lives as long as the process: frozen, it is left out of every
    # later collection. A full collection then takes about 3 ms instead of 30 ms, a pause that
    # every request in flight would otherwise wait out.
    gc.collect()
    gc.freeze()
    if expensive or apart is None:
        run([apart if expensive else cheap], nameko_config(settings))
        return 0
    child = expensive_process.ExpensiveProcess(process.name)
    try:
        run([cheap], nameko_config(settings))
    finally:
        child.stop()
    return 1 if child.died else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
