"""What each process may do on RabbitMQ, and the RPC queue bounds: set up by deploy/setup.sh,
`make run` and the tests through the management API.

Each process has its own user. Its permissions on the vhost name the exchanges and queues it
declares, binds, publishes to and consumes from (nameko 2.14's names, below), and topic
permissions on the RPC exchange name the routing keys it may publish (`<service>.<method>`
requests, replies) and bind (its own RPC queue's `<service>.*`, its reply queue's uuid). The
broker refuses anything else with ACCESS_REFUSED: the gateway cannot ask notify to text a phone.

nameko 2.14 names (nameko/rpc.py, nameko/events.py):
- RPC exchange `nameko-rpc` (topic, durable); a request's routing key is `<service>.<method>`;
  a service consumes queue `rpc-<service>`, bound with `<service>.*`;
- a caller's reply queue is `rpc.reply-<caller>-<uuid4>`, bound to `nameko-rpc` with the uuid,
  which is each request's `reply_to` and so each reply's routing key;
- events go to exchange `<source>.events` (topic) with the event type as routing key; a
  SERVICE_POOL handler consumes `evt-<source>-<event>--<service>.<method>`, a quorum queue
  that dead-letters through `platform.dead-letters` (topic) into `<service>.dead-letters`,
  with the event queue's name as routing key (common/dead_letters.py).

Event queues made before they were quorum queues are classic queues of the same name, which
the services can no longer declare: `provision` turns them into quorum queues, messages kept.

Run as `python -m common.broker provision ...` (see `--help`).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import requests

from common import registry
from common.dead_letters import (
    DEAD_LETTER_EXCHANGE,
    dead_letter_queue_name,
    event_queue_arguments,
)
from common.districts import BROKER_USER_PREFIX, DISTRICTS
from common.services import expensive_process_of, served_as
from services.accounts import contract as accounts
from services.documents import contract as documents
from services.enrollment import contract as enrollment
from services.notify import contract as notify
from services.verification import contract as verification

RPC_EXCHANGE = "nameko-rpc"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RPC_POLICY = "platform-rpc-bounds"
RPC_QUEUE_MAX_LENGTH = 1000  # about a deadline's worth of requests at full speed
DEFAULT_API = "http://guest:guest@127.0.0.1:15672/api"
# The classic queue that holds an event queue's messages while it is made again as a quorum
# queue (the name is no event queue's: a method name has no dot).
MIGRATING = ".migrating"


@dataclasses.dataclass(frozen=True)
class Process:
    serves: bool  # has RPC entrypoints
    calls: dict[str, tuple[str, ...]]  # service -> methods it calls
    emits: dict[str, tuple[str, ...]]  # its events exchange's source name -> event types
    handles: dict[str, tuple[str, ...]]  # source service -> event types it handles


PROCESSES = {
    "gateway": Process(
        serves=False,
        calls={accounts.SERVICE_NAME: (
                   "ping", "get_notice", "create_captcha", "request_sms_code", "register",
                   "login", "logout", "get_account", "change_password", "reset_password",
                   "cancel_account"),
               notify.SERVICE_NAME: ("ping", "list_dev_messages"),
               enrollment.SERVICE_NAME: ("ping", "get_journey", "get_details", "save_draft",
                                           "submit", "withdraw", "get_history",
                                           "get_accesses", "get_result"),
               verification.SERVICE_NAME: ("ping",),
               documents.SERVICE_NAME: ("ping", "get_form_status", "get_form", "check_form")},
        emits={}, handles={}),
    accounts.SERVICE_NAME: Process(
        serves=True, calls={},
        emits={accounts.SERVICE_NAME: tuple(accounts.EVENTS)},
        handles={enrollment.SERVICE_NAME: (enrollment.DOCUMENT_MOVED,)}),
    notify.SERVICE_NAME: Process(
        serves=True, calls={},
        emits={},
        handles={accounts.SERVICE_NAME: (accounts.ACCOUNT_REGISTERED,
                                         accounts.ACCOUNT_CANCELLED, accounts.SMS_CODE_ISSUED),
                 enrollment.SERVICE_NAME: (enrollment.VERIFICATION_OUTCOME,
                                           enrollment.REVIEW_OUTCOME,
                                           enrollment.RESULT_PUBLISHED,
                                           enrollment.DOCUMENT_MOVED)}),
    enrollment.SERVICE_NAME: Process(
        serves=True, calls={},
        emits={enrollment.SERVICE_NAME: (enrollment.DETAILS_SUBMITTED,
                                         enrollment.DETAILS_WITHDRAWN,
                                         enrollment.VERIFICATION_OUTCOME,
                                         enrollment.REVIEW_OUTCOME,
                                         enrollment.RESULT_PUBLISHED,
                                         enrollment.DOCUMENT_MOVED)},
        handles={accounts.SERVICE_NAME: (accounts.FAMILY_REGISTERED,
                                         accounts.ACCOUNT_CANCELLED),
                 verification.SERVICE_NAME: (verification.CHECK_FINISHED,)}),
    verification.SERVICE_NAME: Process(
        serves=True, calls={},
        emits={verification.SERVICE_NAME: (verification.CHECK_FINISHED,)},
        handles={enrollment.SERVICE_NAME: (enrollment.DETAILS_SUBMITTED,
                                           enrollment.DETAILS_WITHDRAWN),
                 accounts.SERVICE_NAME: (accounts.ACCOUNT_CANCELLED,)}),
    documents.SERVICE_NAME: Process(
        serves=True,
        calls={enrollment.SERVICE_NAME: ("get_form_data", "get_form_standing")},
        emits={}, handles={accounts.SERVICE_NAME: (accounts.ACCOUNT_CANCELLED,),
                           enrollment.SERVICE_NAME: (enrollment.VERIFICATION_OUTCOME,
                                                     enrollment.REVIEW_OUTCOME)}),
}

# District systems (common/districts.py), each as its own broker user `district-<code>`: they
# call the methods enrollment's DistrictRpc declares only (and its ping), and the service
# knows the district from the user the broker validated (common/edge/rpc.py,
# `serve_district`).
DISTRICT_SYSTEM = Process(
    serves=False, calls={enrollment.SERVICE_NAME: tuple(enrollment.DistrictRpc.methods())},
    emits={}, handles={})
DISTRICT_SYSTEMS = {BROKER_USER_PREFIX + district.code: DISTRICT_SYSTEM for district in DISTRICTS}


def caller(name: str) -> Process:
    """What process `name`, or district system `district-<code>`, may do."""
    return PROCESSES.get(name) or DISTRICT_SYSTEMS[name]


def _any_of(*patterns: str) -> str:
    """An anchored regex matching exactly one of `patterns` ("^$" for none: nothing)."""
    return "^(" + "|".join(patterns) + ")$" if patterns else "^$"


def event_queues(name: str) -> list[str]:
    """Regexes of process `name`'s event queues, one per source it handles events of."""
    return [f"evt-{re.escape(source)}-({'|'.join(events)})--{re.escape(name)}\\.[a-z_]+"
            for source, events in caller(name).handles.items()]


def permissions(name: str) -> dict:
    """The vhost permissions and topic permissions of process (or district system) `name`."""
    process = caller(name)
    rpc = re.escape(RPC_EXCHANGE)
    own = []  # queues it declares, binds and consumes
    exchanges = [rpc]  # declared (with its queues) and bound to by every process
    handled = []  # event exchanges it declares and binds to, never publishes to
    served = [service for service in (name, expensive_process_of(name)) if service]
    if process.serves:
        own += [re.escape(f"rpc-{service}") for service in served]
    if process.calls:
        own.append(re.escape(f"rpc.reply-{name}-") + UUID)
    for source in process.handles:
        handled.append(re.escape(f"{source}.events"))
    own += event_queues(name)
    emitted = [re.escape(f"{source}.events") for source in process.emits]
    # A process with event queues declares the dead-letter exchange and binds its dead-letter
    # queue to it (read) under its event queues' names; RabbitMQ also requires write on a
    # queue's dead-letter exchange from whoever declares the queue (the topic permissions let
    # it publish there under no routing key). It declares and binds its dead-letter queue
    # (write), never reads it.
    dlx = [re.escape(DEAD_LETTER_EXCHANGE)] if process.handles else []
    dlq = [re.escape(dead_letter_queue_name(name))] if process.handles else []

    requests_ = [re.escape(f"{served_as(service, method)}.{method}")
                 for service, methods in process.calls.items() for method in methods]
    # who may ping a service may ping its expensive process (the gateway's /healthz)
    requests_ += [re.escape(f"{expensive_process_of(service)}.ping")
                  for service, methods in process.calls.items()
                  if "ping" in methods and expensive_process_of(service)]
    replies = [UUID] if process.serves else []
    bindings = ([re.escape(f"{service}.*") for service in served] if process.serves else []) + (
        [UUID] if process.calls else [])
    topic = [{"exchange": RPC_EXCHANGE, "write": _any_of(*requests_, *replies),
              "read": _any_of(*bindings)}]
    for source, events in process.emits.items():
        topic.append({"exchange": f"{source}.events", "write": _any_of(*events), "read": "^$"})
    for source, events in process.handles.items():
        topic.append({"exchange": f"{source}.events", "write": "^$", "read": _any_of(*events)})
    if process.handles:
        topic.append({"exchange": DEAD_LETTER_EXCHANGE, "write": "^$",
                      "read": _any_of(*event_queues(name))})
    return {
        "configure": _any_of(*exchanges, *emitted, *handled, *own, *dlx, *dlq),
        "write": _any_of(*exchanges, *emitted, *own, *dlx, *dlq),  # publish to it, bind a queue
        "read": _any_of(*exchanges, *handled, *own, *dlx),  # consume a queue, bind to it
        "topic": topic,
    }


def rpc_policy(max_length: int = RPC_QUEUE_MAX_LENGTH) -> dict:
    """Bounds every RPC queue; a full one refuses new requests (the caller's confirm is a nack)
    rather than letting callers wait out their deadlines behind it. A policy, not queue
    arguments, so queues already declared without them need no redeclaration."""
    return {"pattern": "^rpc-", "apply-to": "queues", "priority": 0,
            "definition": {"max-length": max_length, "overflow": "reject-publish"}}


class Admin:
    """RabbitMQ's management API (the plugin rabbitmq_management)."""

    def __init__(self, api: str = DEFAULT_API):
        parts = urlsplit(api)
        self.base = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port
                                                             else "")).geturl().rstrip("/")
        self.http = requests.Session()
        self.http.auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))

    def _call(self, method: str, path: str, body: dict | None = None):
        """The answer's JSON, if any."""
        response = self.http.request(method, f"{self.base}/{path}", json=body, timeout=10)
        if method == "DELETE" and response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json() if response.content else None

    def add_vhost(self, vhost: str) -> None:
        self._call("PUT", f"vhosts/{quote(vhost, safe='')}")

    def provision(self, vhost: str, name: str, user: str, password: str) -> None:
        """Creates or updates `user` with process `name`'s permissions only."""
        v = quote(vhost, safe="")
        grants = permissions(name)
        self._call("PUT", f"users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self._call("PUT", f"permissions/{v}/{quote(user, safe='')}",
                   {k: grants[k] for k in ("configure", "write", "read")})
        self._call("DELETE", f"topic-permissions/{v}/{quote(user, safe='')}")  # stale ones
        for topic in grants["topic"]:
            self._call("PUT", f"topic-permissions/{v}/{quote(user, safe='')}", topic)

    def set_rpc_policy(self, vhost: str, max_length: int = RPC_QUEUE_MAX_LENGTH) -> None:
        self._call("PUT", f"policies/{quote(vhost, safe='')}/{RPC_POLICY}", rpc_policy(max_length))

    def make_event_queues_quorum(self, vhost: str, name: str) -> dict[str, int]:
        """Makes process `name`'s classic event queues (declared before event queues were
        quorum queues) quorum queues of the same name, with their messages and bindings;
        returns how many messages each had. The process must be stopped: a queue something
        consumes is refused. The administrator needs permissions on the vhost.

        Each queue's messages wait in a classic queue `<queue>.migrating`, bound as the queue
        was before the queue is unbound, and unbound only once the quorum queue is bound:
        events published meanwhile reach one or the other (or both: consumers dedupe on the
        event id). A run cut short leaves that queue behind, and the next run finishes."""
        v = quote(vhost, safe="")
        own = re.compile(_any_of(*event_queues(name)))
        classic = [queue["name"] for queue in self._call("GET", f"queues/{v}")
                   if own.fullmatch(queue["name"]) and queue["type"] == "classic"]
        # (the list shows a consumer up to 5 s late, and one that has gone at once; the
        # deletion refuses one that came meanwhile)
        consumed = {consumer["queue"]["name"] for consumer in self._call("GET", f"consumers/{v}")}
        if in_use := sorted(set(classic) & consumed):
            raise RuntimeError(f"{', '.join(in_use)} on vhost {vhost} in use: stop {name} "
                               f"before its event queues are made quorum queues")
        for queue in classic:
            self._park(v, queue)
        moved = {}
        for queue in self._call("GET", f"queues/{v}"):
            original = queue["name"].removesuffix(MIGRATING)
            if original != queue["name"] and own.fullmatch(original):
                moved[original] = self._unpark(v, original)
        return moved

    def _park(self, v: str, queue: str) -> None:
        """Moves classic `queue`'s messages (and, first, its bindings) to its `.migrating`
        queue and deletes it."""
        parked = queue + MIGRATING
        bindings = self._bindings(v, queue)
        self._call("PUT", f"queues/{v}/{quote(parked, safe='')}", {"durable": True})
        self._bind(v, parked, bindings)
        self._unbind(v, queue, bindings)
        self._move(v, queue, parked)
        self._call("DELETE", f"queues/{v}/{quote(queue, safe='')}?if-empty=true&if-unused=true")

    def _unpark(self, v: str, queue: str) -> int:
        """Declares `queue` as the services do, moves its `.migrating` queue's bindings and
        messages to it, deletes that; returns how many messages it moved."""
        parked = queue + MIGRATING
        bindings = self._bindings(v, parked)
        self._call("PUT", f"queues/{v}/{quote(queue, safe='')}", {
            "durable": True, "auto_delete": False, "arguments": event_queue_arguments(queue)})
        self._bind(v, queue, bindings)
        self._unbind(v, parked, bindings)
        moved = self._move(v, parked, queue)
        self._call("DELETE", f"queues/{v}/{quote(parked, safe='')}?if-empty=true")
        return moved

    def _bindings(self, v: str, queue: str) -> list[dict]:
        return [binding for binding in self._call(
            "GET", f"queues/{v}/{quote(queue, safe='')}/bindings") if binding["source"]]

    def _bind(self, v: str, queue: str, bindings: list[dict]) -> None:
        for binding in bindings:
            self._call("POST", f"bindings/{v}/e/{quote(binding['source'], safe='')}/q/"
                               f"{quote(queue, safe='')}",
                       {"routing_key": binding["routing_key"],
                        "arguments": binding["arguments"]})

    def _unbind(self, v: str, queue: str, bindings: list[dict]) -> None:
        for binding in bindings:
            self._call("DELETE", f"bindings/{v}/e/{quote(binding['source'], safe='')}/q/"
                                 f"{quote(queue, safe='')}/"
                                 f"{quote(binding['properties_key'], safe='')}")

    def _move(self, v: str, source: str, target: str, batch: int = 100) -> int:
        """Moves every message of `source` (classic, unbound, unconsumed) to `target`, in
        order: each batch is read and left in place, published (the management API publishes
        with confirms and `mandatory`), and only then taken. A run cut short between the two
        leaves copies in `target`, never a message lost."""
        get = f"queues/{v}/{quote(source, safe='')}/get"
        moved = 0
        while messages := self._call("POST", get, {"count": batch, "encoding": "auto",
                                                   "ackmode": "reject_requeue_true"}):
            for message in messages:
                answer = self._call("POST", f"exchanges/{v}/amq.default/publish", {
                    "routing_key": target, "properties": message["properties"] or {},
                    "payload": message["payload"],
                    "payload_encoding": message["payload_encoding"]})
                if not answer["routed"]:
                    raise RuntimeError(f"a message of {source} could not be moved to {target}")
            self._call("POST", get, {"count": len(messages), "encoding": "auto",
                                     "ackmode": "ack_requeue_false"})
            moved += len(messages)
        return moved

    def delete_user(self, user: str) -> None:
        self._call("DELETE", f"users/{quote(user, safe='')}")


def credentials(amqp_uri: str) -> tuple[str, str, str]:
    """(vhost, user, password) of an AMQP URI (an empty path is the vhost "/")."""
    parts = urlsplit(amqp_uri)
    return (unquote(parts.path[1:]) if len(parts.path) > 1 else "/",
            unquote(parts.username or ""), unquote(parts.password or ""))


def with_user(amqp_uri: str, user: str, password: str) -> str:
    """`amqp_uri` logging in as `user`."""
    parts = urlsplit(amqp_uri)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
                          ).geturl()


def write_env_files(base_uri: str, directory: Path) -> None:
    """Creates `<process>.env` with AMQP_URI (user `platform-<process>`, a random password)
    for each process, and `district-<code>.env` (user `district-<code>`) for each district
    system, that has none yet; existing files are kept."""
    directory.mkdir(parents=True, exist_ok=True)
    users = {name: f"platform-{name}" for name in registry.PROCESSES}
    users.update({name: name for name in DISTRICT_SYSTEMS})
    for name, user in users.items():
        path = directory / f"{name}.env"
        if not path.exists():
            uri = with_user(base_uri, user, secrets.token_urlsafe(24))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(f"# {name}'s own RabbitMQ user (common/broker.py)\nAMQP_URI={uri}\n")
            print(f"broker: wrote {path}")


def _uri_from_env_file(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("AMQP_URI="):
            return line.removeprefix("AMQP_URI=").strip()
    raise SystemExit(f"{path}: no AMQP_URI= line")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.broker", description=(
        "Creates or updates each process's RabbitMQ user, with only the permissions it needs, "
        "and the RPC queue bounds policy. Idempotent."))
    sub = parser.add_subparsers(dest="command", required=True)
    make_env = sub.add_parser("make-env", help="a <name>.env file with its own user and a "
                                               "random password, for each process and district "
                                               "system lacking one")
    make_env.add_argument("--base-uri", required=True, help="the broker's AMQP URI (any user)")
    make_env.add_argument("--dir", required=True, type=Path)
    provision = sub.add_parser("provision", help="users, permissions and policy")
    provision.add_argument("--api", default=DEFAULT_API,
                           help="management API with an administrator's credentials")
    provision.add_argument("--env", action="append", required=True, metavar="NAME=FILE",
                           help="a process (or district system district-<code>) and the env "
                                "file holding its AMQP_URI (user, password and vhost are taken "
                                "from it); repeatable")
    provision.add_argument("--max-length", type=int, default=RPC_QUEUE_MAX_LENGTH,
                           help="messages an RPC queue holds before refusing more")
    sub.add_parser("districts", help="the district systems' names (district-<code>), one a line")
    args = parser.parse_args(argv)
    if args.command == "districts":
        print("\n".join(DISTRICT_SYSTEMS))
        return 0
    if args.command == "make-env":
        write_env_files(args.base_uri, args.dir)
        return 0
    admin = Admin(args.api)
    vhosts, processes = set(), []
    for item in args.env:
        name, _, path = item.partition("=")
        if name not in PROCESSES and name not in DISTRICT_SYSTEMS:
            parser.error(f"unknown process {name!r} (one of {', '.join(PROCESSES)}, or "
                         f"{BROKER_USER_PREFIX}<district code>)")
        vhost, user, password = credentials(_uri_from_env_file(Path(path)))
        if not user or not password:
            parser.error(f"{path}: AMQP_URI needs a user and a password")
        admin.add_vhost(vhost)
        admin.provision(vhost, name, user, password)
        vhosts.add(vhost)
        processes.append((vhost, name))
        print(f"broker: user {user} on vhost {vhost}: {name}'s permissions")
    for vhost in vhosts:
        admin.set_rpc_policy(vhost, args.max_length)
        print(f"broker: policy {RPC_POLICY} on vhost {vhost}: RPC queues hold at most "
              f"{args.max_length} messages, then refuse")
    for vhost, name in processes:
        try:
            moved = admin.make_event_queues_quorum(vhost, name)
        except RuntimeError as exc:
            print(f"broker: {exc}", file=sys.stderr)
            return 1
        for queue, count in moved.items():
            print(f"broker: {queue} on vhost {vhost} is now a quorum queue "
                  f"({count} messages kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
