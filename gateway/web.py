"""The gateway's HTTP edge: a nameko route entrypoint that admits requests by their cost (a
cheap one within one budget, an expensive one through its service's waiting room), limits
bodies, refuses state changes from other sites, answers 405 for a known path's missing
methods, tags every request with an id that follows it through every RPC, times it, and
turns errors into the platform's error shape (a bug anywhere is a 500; only a service out of
reach is a 503).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import partial
from urllib.parse import quote

import eventlet
from eventlet.event import Event
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.web.handlers import HttpRequestHandler
from pydantic import BaseModel
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Response

from common import metrics
from common.client_address import rate_limit_subject
from common.contract_base import Cost
from common.edge.rpc import RpcUnavailable
from common.errors import DomainError
from common.throttle import Limit, MemoryCounter
from gateway import security
from gateway.waiting_room import Limits, Waiting, WaitingRoom

log = logging.getLogger(__name__)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
QUEUE_TICKET_HEADER = "X-Queue-Ticket"  # the API's; a page sends the field `queue_ticket`
QUEUE_TICKET = re.compile(r"[A-Za-z0-9_-]{1,64}")  # gateway.waiting_room issues 24 of them


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    """`body`: JSON data, or a contract model."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")


def error_response(error: DomainError) -> Response:
    headers = {}
    if "retry_after_s" in error.extra:
        headers["Retry-After"] = str(error.extra["retry_after_s"])
    return json_response(error.to_json(), error.http_status, headers)


CHUNK_BASE64 = 64 * 1024  # characters of base64 decoded per chunk: 48 KiB (a multiple of 4)


def base64_chunks(text: str, size: int = CHUNK_BASE64) -> Iterator[bytes]:
    """The bytes `text` encodes, a chunk at a time (`size`: a multiple of 4, so each slice
    decodes on its own)."""
    for start in range(0, len(text), size):
        yield base64.b64decode(text[start:start + size], validate=True)


def content_disposition(file_name: str, inline: bool = False, prefix: str = "file") -> str:
    """RFC 6266 with the RFC 5987 `filename*` for the real (Chinese) name, and a plain ASCII
    `filename` for clients that read only that one: `prefix` and the name's ASCII words, e.g.
    学龄人口信息采集表-27000001-第1版.pdf -> form-27000001-1.pdf."""
    stem, dot, extension = file_name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", extension):
        stem, extension = file_name, "bin"
    fallback = "-".join([prefix, *re.findall(r"[A-Za-z0-9]+", stem)])[:100] + "." + extension
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def streamed_file(chunks: Iterable[bytes], mimetype: str, file_name: str,
                  inline: bool = False, prefix: str = "file") -> Response:
    """A download sent as it is produced (chunked: no Content-Length), kept by no shared
    cache (it is one family's)."""
    response = Response(chunks, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Disposition"] = content_disposition(file_name, inline, prefix)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def is_api(request) -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


class RouteHelpers:
    """What the API and the pages both need from the gateway's settings."""

    def _client_ip(self, request) -> str:
        return security.client_ip(request.environ, self.settings.TRUST_FORWARDED_FOR,
                                  self.settings.TRUSTED_PROXY_HOPS)

    def _session_token(self, request) -> str:
        return security.session_token(request, self.settings.secure_cookies)

    def _set_session_cookie(self, response, token: str) -> None:
        security.set_cookie(response, security.SESSION_COOKIE, token,
                            self.settings.secure_cookies)

    def _csrf_key(self) -> bytes:
        return self.settings.CSRF_SECRET_KEY.encode()

    def _count_attempt(self, request, counter: MemoryCounter) -> None:
        """RATE_LIMITED (with retry_after_s) past the counter's limit for this client."""
        counter.attempt(rate_limit_subject(self._client_ip(request)), datetime.now(UTC))


class PerAddressLimit(DependencyProvider):
    """A per-client-address limit on an entry point that reaches no service able to count
    (the gateway has no database): counted in this process's memory, `setting` attempts per
    `window_s`."""

    def __init__(self, kind: str, setting: str, window_s: int):
        self.kind, self.setting, self.window_s = kind, setting, window_s

    def setup(self):
        limit = getattr(self.container.config["settings"], self.setting)
        self.counter = MemoryCounter(Limit(self.kind, limit, self.window_s))

    def get_dependency(self, worker_ctx):
        return self.counter


class WaitingRooms(SharedExtension):
    """The gateway process's waiting rooms (gateway/waiting_room.py), one per service that
    expensive routes name, made on first use. Blocks an asker for a place (at most
    WAITING_ROOM_HOLD_S) and wakes it when `release` hands it one."""

    def setup(self):
        settings = self.container.config["settings"]
        self.limits = Limits(
            slots=settings.WAITING_ROOM_SLOTS, hold_s=settings.WAITING_ROOM_HOLD_S,
            max_line=settings.WAITING_ROOM_MAX_LINE, max_bytes=settings.WAITING_ROOM_MAX_BYTES,
            per_address=settings.WAITING_ROOM_PER_ADDRESS, grace_s=settings.WAITING_ROOM_GRACE_S,
            max_retry_s=settings.WAITING_ROOM_MAX_RETRY_S)
        self.rooms: dict[str, WaitingRoom] = {}
        self._asleep: dict[tuple[str, int], Event] = {}

    def room(self, name: str) -> WaitingRoom:
        if name not in self.rooms:
            self.rooms[name] = WaitingRoom(name, self.limits, time.monotonic)
        return self.rooms[name]

    def serve(self, name: str, request, address: str, handle):
        """`handle(request)`'s answer once `request` has a place in the room `name`: the
        request as first made if it brings a ticket of the line issued for its method and path,
        else itself. QUEUED (503, with its ticket, position and retry_after_s) if no place frees
        in time."""
        room = self.room(name)
        body = request.get_data(cache=True)
        try:
            arrival = room.arrive(queue_ticket(request), address, (body, request.content_type),
                                  len(body), (request.method, request.path))
        except DomainError:
            metrics.ADMISSIONS.labels("gateway", Cost.EXPENSIVE, "refused").inc()
            raise
        waited_s = arrival.waited_s
        if not arrival.admitted:
            key, started = (name, arrival.seq), time.monotonic()
            self._asleep[key] = event = Event()
            with eventlet.Timeout(self.limits.hold_s, False):
                event.wait()
            del self._asleep[key]
            waited_s += time.monotonic() - started
            waiting = room.give_up(arrival.seq)
            if waiting is not None:
                self._gauge(room)
                metrics.ADMISSIONS.labels("gateway", Cost.EXPENSIVE, "queued").inc()
                raise queued(waiting)
        metrics.ADMISSIONS.labels("gateway", Cost.EXPENSIVE, "admitted").inc()
        metrics.WAITING_ROOM_WAIT.labels(name).observe(waited_s)
        self._gauge(room)
        try:
            return handle(request if arrival.payload is None
                          else with_body(request, *arrival.payload))
        finally:
            woken = room.release()
            if woken is not None:
                self._asleep[(name, woken)].send()
            self._gauge(room)

    @staticmethod
    def _gauge(room: WaitingRoom) -> None:
        metrics.WAITING_ROOM_LENGTH.labels(room.name).set(room.length)
        metrics.WAITING_ROOM_IN_USE.labels(room.name).set(room.in_use)


def queue_ticket(request) -> str | None:
    """The ticket a request brings back: the API's header, or a waiting page's field.
    VALIDATION_ERROR if it cannot be one (a ticket of no line is a newcomer's request)."""
    ticket = request.headers.get(QUEUE_TICKET_HEADER, request.args.get("queue_ticket"))
    if ticket is None and request.mimetype == "application/x-www-form-urlencoded":
        ticket = request.form.get("queue_ticket")
    if ticket is not None and not QUEUE_TICKET.fullmatch(ticket):
        raise DomainError("VALIDATION_ERROR", fields={QUEUE_TICKET_HEADER: "格式不正确。"})
    return ticket


def queued(waiting: Waiting) -> DomainError:
    return DomainError("QUEUED", extra={
        "retry_after_s": waiting.retry_after_s, "queue_position": waiting.position + 1,
        "wait_estimate_s": waiting.wait_s, "queue_ticket": waiting.ticket})


def with_body(request, body: bytes, content_type: str | None):
    """`request` (its path, headers and cookies, as they are now) with the body kept in line."""
    environ = dict(request.environ, CONTENT_LENGTH=str(len(body)),
                   CONTENT_TYPE=content_type or "")
    environ["wsgi.input"] = io.BytesIO(body)
    again = type(request)(environ)
    again.shallow = False
    again.path_values = request.path_values  # what nameko's server matched in the path
    return again


class Route(HttpRequestHandler):
    """`@route("GET", "/path")`. The handler gets the request and returns a Response.
    `expensive="accounts"`: the handler spends that service's expensive calls
    (common.contract_base.Cost), and is served through its waiting room; any other handler
    is cheap, and may call only cheap methods.

    A `fallback` route catches what no other route matched, whatever the method (its handler
    answers 404; werkzeug would answer a bare HTML 405): when another route serves the path
    with other methods, the answer is 405 with `Allow` instead.
    """

    inflight = 0  # per process: every cheap route shares the budget
    waiting_rooms = WaitingRooms()

    def __init__(self, method, url, fallback: bool = False, expensive: str | None = None,
                 **kwargs):
        kwargs.setdefault("expected_exceptions", (DomainError,))
        super().__init__(method, url, **kwargs)
        self.fallback = fallback
        self.expensive = expensive
        self.cost = Cost.EXPENSIVE if expensive else Cost.CHEAP
        self._routes = None  # the other routes' map, built on first use

    def get_url_rule(self):
        return Rule(self.url, methods=None) if self.fallback else super().get_url_rule()

    def handle_request(self, request):
        request.shallow = False
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-Id", "")
        if not _REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        settings = self.container.config["settings"]
        allowed = []
        try:
            if self.cost is Cost.CHEAP and Route.inflight >= settings.GATEWAY_MAX_INFLIGHT:
                metrics.ADMISSIONS.labels("gateway", Cost.CHEAP, "refused").inc()
                raise DomainError("SERVICE_UNAVAILABLE", extra={"retry_after_s": 5})
            if (request.content_length or 0) > settings.MAX_BODY_BYTES:
                raise DomainError("PAYLOAD_TOO_LARGE")
            if self.fallback:
                allowed = self._methods_of_other_routes(request)
                if allowed:
                    raise DomainError("METHOD_NOT_ALLOWED")
            if request.method in security.STATE_CHANGING and not security.same_origin(
                    request.headers, settings.PUBLIC_ORIGIN or request.host_url):
                raise DomainError("CSRF_FAILED")
            response = self._admitted(request, request_id)
        except DomainError as error:
            response = self._error_page(request, error)
        except RpcUnavailable as exc:
            log.warning("a service did not answer in time",
                        extra={"request_id": request_id, "error": str(exc)})
            response = self._error_page(request, DomainError("SERVICE_UNAVAILABLE",
                                                             extra={"retry_after_s": 5}))
        except RemoteError as exc:  # a bug in a service: retrying will not help
            log.error("a service failed", extra={"request_id": request_id,
                                                 "error": exc.exc_type})
            response = self._error_page(request, DomainError("INTERNAL_ERROR"))
        except Exception as exc:  # a bug in a handler or here: its traceback is logged
            log.error("unexpected error", exc_info=True,
                      extra={"request_id": request_id, "error": type(exc).__name__})
            response = self._error_page(request, DomainError("INTERNAL_ERROR"))
        response.headers["X-Request-Id"] = request_id
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        for name, value in security.response_headers(settings.secure_cookies).items():
            response.headers.setdefault(name, value)
        elapsed = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels(self.url, request.method, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(self.url, request.method).observe(elapsed)
        log.info("request", extra={"request_id": request_id, "method": request.method,
                                   "route": self.url, "status": response.status_code,
                                   "ms": round(elapsed * 1000, 1)})
        return response

    def _admitted(self, request, request_id: str) -> Response:
        handle = partial(self._run_worker, request_id=request_id)
        if self.expensive:
            address = rate_limit_subject(security.client_ip(
                request.environ, self.container.config["settings"].TRUST_FORWARDED_FOR,
                self.container.config["settings"].TRUSTED_PROXY_HOPS))
            return self.waiting_rooms.serve(self.expensive, request, address, handle)
        metrics.ADMISSIONS.labels("gateway", Cost.CHEAP, "admitted").inc()
        Route.inflight += 1
        try:
            return handle(request)
        finally:
            Route.inflight -= 1

    def _methods_of_other_routes(self, request) -> list[str]:
        if self._routes is None:
            self._routes = Map([Rule(e.url, methods=e.method.split(","))
                                for e in self.container.entrypoints
                                if isinstance(e, Route) and not e.fallback])
        return sorted(self._routes.bind_to_environ(request.environ).allowed_methods())

    def _run_worker(self, request, request_id: str):
        args, kwargs = self.get_entrypoint_parameters(request)
        self.check_signature(args, kwargs)
        done = Event()
        self.container.spawn_worker(self, args, kwargs, context_data={"request_id": request_id},
                                    handle_result=partial(self.handle_result, done))
        return done.wait()  # re-raises the worker's exception

    def _error_page(self, request, error: DomainError) -> Response:
        if is_api(request):
            return error_response(error)
        if error.code == "QUEUED":
            render = getattr(self.container.service_cls, "render_waiting_page", None)
            if render:
                return render(request, error)
        render = getattr(self.container.service_cls, "render_error_page", None)
        return render(error) if render else error_response(error)


route = Route.decorator
