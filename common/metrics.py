"""Prometheus metrics shared by every process. Domain counters live with their service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RPC_REQUESTS = Counter(
    "platform_rpc_requests_total", "RPC requests handled", ["service", "method", "outcome"])
RPC_LATENCY = Histogram(
    "platform_rpc_latency_seconds", "RPC handling time", ["service", "method"],
    buckets=(.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
RPC_EXPIRED = Counter(
    "platform_rpc_expired_total", "RPC requests dropped unrun: their caller's deadline had passed",
    ["service", "method"])
EVENTS_HANDLED = Counter(
    "platform_events_handled_total", "Events handled", ["service", "event", "outcome"])
EVENTS_RELAYED = Counter(
    "platform_outbox_events_relayed_total", "Outbox events published to the bus",
    ["service", "event", "outcome"])
DEAD_LETTERS = Gauge(
    "platform_dead_letters", "Events set aside in a dead-letter queue after too many failures",
    ["queue"])
HTTP_REQUESTS = Counter(
    "platform_http_requests_total", "HTTP requests", ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "platform_http_latency_seconds", "HTTP request time", ["route", "method"],
    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
ADMISSIONS = Counter(
    "platform_admissions_total", "Requests and RPC calls by declared cost: admitted, queued "
    "(given a place in a waiting room) or refused at once", ["process", "cost", "outcome"])
WAITING_ROOM_LENGTH = Gauge(
    "platform_waiting_room_length", "Tickets in a waiting room's line", ["room"])
WAITING_ROOM_IN_USE = Gauge(
    "platform_waiting_room_in_use", "A waiting room's places in use", ["room"])
WAITING_ROOM_WAIT = Histogram(
    "platform_waiting_room_wait_seconds", "Time from arrival to admission in a waiting room",
    ["room"], buckets=(0, .1, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600))
