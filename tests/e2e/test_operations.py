"""What operators rely on: health, metrics, request ids in logs, no secrets in logs,
production refusing development settings."""

import os
import re
import subprocess
import sys
import time

import requests

from common.registry import PROCESSES
from common.services import HEALTH_CHECKED
from tests.support.family import Family
from tests.support.stack import ROOT


def test_healthz_reports_each_service(stack):
    response = requests.get(stack.url + "/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": dict.fromkeys(HEALTH_CHECKED, "ok")}


def test_healthz_is_503_when_a_service_is_down(stack):
    stack.stop("notify")
    try:
        response = requests.get(stack.url + "/healthz", timeout=30)
        assert response.status_code == 503
        assert response.json()["services"] == {**dict.fromkeys(HEALTH_CHECKED, "ok"),
                                               "notify": "unreachable"}
    finally:
        stack.start("notify")
        stack.wait_healthy()


def test_a_request_id_follows_the_request_through_every_service(stack):
    request_id = "trace-" + str(time.time_ns())
    family = Family(stack)
    family.http.headers["X-Request-Id"] = request_id
    body = family.registration()
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.headers["X-Request-Id"] == request_id
    stack.wait_sms(body["guardian_phone"], "account_registered")
    time.sleep(0.5)
    for name in ("gateway", "accounts", "notify"):
        assert request_id in stack.log_path(name).read_text(), name


def test_every_process_exports_its_metrics(stack):
    Family(stack).register()
    expected = {
        "gateway": ["platform_http_requests_total", "platform_http_latency_seconds_bucket"],
        "accounts": ["platform_rpc_requests_total", "platform_rpc_latency_seconds_bucket",
                     "platform_registrations_total", "platform_logins_total",
                     "platform_outbox_events_relayed_total"],
        "notify": ["platform_sms_sent_total", "platform_events_handled_total",
                   'platform_dead_letters{queue="notify.dead-letters"} 0.0'],
    }
    for name, metrics in expected.items():
        text = requests.get(f"http://127.0.0.1:{stack.metrics_ports[name]}/metrics",
                            timeout=30).text
        for metric in metrics:
            assert metric in text, (name, metric)
    accounts = requests.get(f"http://127.0.0.1:{stack.metrics_ports['accounts']}/metrics",
                            timeout=30).text
    assert re.search(r'platform_registrations_total\{district="haidian"\} [1-9]', accounts)


def test_logs_never_contain_secrets_or_full_personal_data(stack):
    family = Family(stack)
    body = family.registration()
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.status_code == 201
    token = family.http.cookies["sid"]
    family.call("GET", "/api/v1/account")
    stack.wait_sms(body["guardian_phone"], "account_registered")
    lines = [line for n in PROCESSES for line in stack.log_path(n).read_text().splitlines()]
    for secret in (body["password"], body["document_number"], body["guardian_phone"],
                   token, response.json()["csrf_token"], body["child_name"]):
        assert not [line for line in lines if secret in line]
    # The development outbox prints the texts it "sends", codes included; nothing else may.
    with_code = [line for line in lines if body["sms_code"] in line]
    assert with_code and all('"development SMS"' in line for line in with_code)


def test_production_refuses_development_settings():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLATFORM_ENV": "production",
           "CAPTCHA_BACKEND": "fixed", "METRICS_PORT": "1"}
    for name in PROCESSES:
        result = subprocess.run([sys.executable, "-m", "common.edge.launcher", name], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (name, result.stderr[-500:])
        assert "refusing to start in production" in result.stderr


def test_overload_is_shed_with_a_polite_retry_later(strict_stack):
    """Past GATEWAY_MAX_INFLIGHT concurrent requests the gateway answers 503 at once."""
    with strict_stack.gateway_with(GATEWAY_MAX_INFLIGHT=0):  # every request is one too many
        response = requests.get(strict_stack.url + "/api/v1/districts", timeout=5)
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert "不影响入学结果" in response.json()["message"]
        assert response.headers["Retry-After"] == "5"
