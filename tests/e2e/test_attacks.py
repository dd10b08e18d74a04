"""What an attacker tries first at the gateway: forged client addresses, cross-site requests,
planted cookies, bodies that crash parsers, methods nobody routes; and how failures behind the
gateway are told apart (a bug is a 500, an absent service a 503)."""

import logging

import pytest
import requests

from common.contract_base import RpcContract, RpcMethod
from common.edge.rpc import DeadlineRpcProxy, ServiceRpc
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.web import json_response, route
from services.accounts.contract import AccountsRpc, Captcha
from tests.support.family import Family, unique_phone
from tests.support.infra import running_service, settings_for
from tests.support.stack import free_port

PUBLIC_ORIGIN = "https://www.example.gov.cn"


# client addresses --------------------------------------------------------------------------
def test_writing_x_forwarded_for_does_not_escape_the_per_address_sms_cap(strict_stack):
    """strict_stack trusts one proxy and allows 2 codes an hour per address: the entries a
    client writes itself (left of what the proxy appended) change nothing."""
    family = Family(strict_stack)

    def request_code(forwarded_for: str) -> requests.Response:
        return family.call("POST", "/api/v1/sms-codes", headers={
            "X-Forwarded-For": forwarded_for}, json={
            "purpose": "register", "phone": unique_phone(), **family.captcha()})

    statuses = [request_code(f"198.51.100.{i}, 203.0.113.7").status_code for i in range(4)]
    assert statuses == [201] * 2 + [429] * 2
    assert request_code("203.0.113.7").json()["code"] == "RATE_LIMITED"
    # what counts is the proxy's entry, not the connection: another client still gets a code
    assert request_code("198.51.100.1, 203.0.113.8").status_code == 201


# failures behind the gateway ---------------------------------------------------------------
class DriftedAccountsRpc(RpcContract):
    """What a gateway of another release might take accounts to answer."""
    service = AccountsRpc.service
    get_notice = RpcMethod(None, Captcha)


class GatewayWithFaultyCalls(GatewayService):
    """The real gateway plus routes no real one resembles: calls past the accounts contract
    that fail as a bug would (an argument too many: nameko's IncorrectSignature; a misspelled
    method: its MethodNotFound), a reply the contract does not describe, and a call to a
    service that nobody runs."""

    untyped_accounts = DeadlineRpcProxy(AccountsRpc.service)
    drifted_accounts = ServiceRpc(DriftedAccountsRpc)
    nobody = DeadlineRpcProxy("nobody")

    @route("GET", "/api/v1/test/wrong-arity")
    def api_test_wrong_arity(self, request):
        return json_response(self.untyped_accounts.call("get_account", "token", "more"))

    @route("GET", "/api/v1/test/misspelled")
    def api_test_misspelled(self, request):
        return json_response(self.untyped_accounts.call("get_acount", "token"))

    @route("GET", "/api/v1/test/undescribed-reply")
    def api_test_undescribed_reply(self, request):
        return json_response(self.drifted_accounts.get_notice())

    @route("GET", "/api/v1/test/nobody")
    def api_test_nobody(self, request):
        return json_response(self.nobody.call("ping"))


@pytest.fixture
def faulty_gateway(stack):
    settings = settings_for(GatewaySettings, stack.database_url, stack.env["AMQP_URI"],
                            GATEWAY_PORT=free_port(), RPC_TIMEOUT_S=1)
    with running_service(GatewayWithFaultyCalls, settings):
        yield f"http://127.0.0.1:{settings.GATEWAY_PORT}"


@pytest.mark.parametrize("path, error", [("/api/v1/test/wrong-arity", "IncorrectSignature"),
                                         ("/api/v1/test/misspelled", "MethodNotFound"),
                                         ("/api/v1/test/undescribed-reply", "ValidationError")])
def test_a_bug_in_a_service_is_a_500_logged_as_an_error_with_the_request_id(faulty_gateway,
                                                                           caplog, path, error):
    response = requests.get(faulty_gateway + path, timeout=30,
                            headers={"X-Request-Id": "bug-report-0001"})
    assert response.status_code == 500 and response.json()["code"] == "INTERNAL_ERROR"
    assert "Retry-After" not in response.headers  # retrying will not help
    errors = [r for r in caplog.records if r.name == "gateway.web" and r.levelno == logging.ERROR]
    assert [(r.request_id, r.error) for r in errors] == [("bug-report-0001", error)]


def test_only_a_service_out_of_reach_is_a_503(faulty_gateway, caplog):
    response = requests.get(faulty_gateway + "/api/v1/test/nobody", timeout=30)
    assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["Retry-After"] == "5"
    assert [r.levelno for r in caplog.records if r.name == "gateway.web"] == [logging.WARNING]


# cross-site requests -----------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"},
                                     {"Referer": "https://evil.example/trap.html"},
                                     {"Origin": "null"}])
def test_state_changes_from_another_site_are_refused(stack, headers):
    for method, path in [("POST", "/api/v1/captchas"), ("POST", "/api/v1/sessions"),
                         ("DELETE", "/api/v1/sessions/current"),
                         ("PUT", "/api/v1/account/password")]:
        response = requests.request(method, stack.url + path, headers=headers, json={},
                                    timeout=30)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "CSRF_FAILED"


def test_state_changes_from_the_gateways_own_pages_or_without_an_origin_pass(stack):
    for headers in ({}, {"Origin": stack.url}, {"Referer": stack.url + "/d/haidian/beijing"}):
        response = requests.post(stack.url + "/api/v1/captchas", headers=headers, timeout=30)
        assert response.status_code == 201, headers
    # reading is never refused: a cross-site GET cannot change anything
    assert requests.get(stack.url + "/api/v1/districts", timeout=30,
                        headers={"Origin": "https://evil.example"}).status_code == 200


# production: HTTPS only --------------------------------------------------------------------
def test_over_https_cookies_are_host_only_hsts_is_sent_and_the_public_origin_is_checked(
        strict_stack):
    with strict_stack.gateway_with(COOKIE_SECURE="true", PUBLIC_ORIGIN=PUBLIC_ORIGIN):
        page = requests.get(strict_stack.url + "/d/haidian/beijing", timeout=30)
        assert page.headers["Strict-Transport-Security"] == \
            "max-age=31536000; includeSubDomains"
        cookie = page.headers["Set-Cookie"]
        assert cookie.startswith("__Host-pre=") and "Secure" in cookie and "Path=/" in cookie
        assert "Domain" not in cookie

        family = Family(strict_stack)
        registered = family.call("POST", "/api/v1/accounts", json=family.registration(),
                                 headers={"Origin": PUBLIC_ORIGIN})
        assert registered.status_code == 201, registered.text
        cookie = registered.headers["Set-Cookie"]
        assert cookie.startswith("__Host-sid=") and "Secure" in cookie and "Domain" not in cookie
        token = cookie.split(";")[0].split("=", 1)[1]
        account = f"{strict_stack.url}/api/v1/account"
        assert requests.get(account, cookies={"__Host-sid": token}, timeout=30).status_code == 200
        # a cookie without the prefix (planted by a sibling subdomain or over http) is no session
        assert requests.get(account, cookies={"sid": token}, timeout=30).status_code == 401

        logout = f"{strict_stack.url}/api/v1/sessions/current"
        csrf = {"X-CSRF-Token": registered.json()["csrf_token"]}
        # the gateway's own address is not the public origin behind the proxy
        assert requests.delete(logout, cookies={"__Host-sid": token}, timeout=30, headers={
            **csrf, "Origin": strict_stack.url}).json()["code"] == "CSRF_FAILED"
        assert requests.delete(logout, cookies={"__Host-sid": token}, timeout=30, headers={
            **csrf, "Origin": PUBLIC_ORIGIN}).status_code == 200

        document = requests.get(strict_stack.url + "/api/v1/openapi.json", timeout=30).json()
        assert document["components"]["securitySchemes"]["session"]["name"] == "__Host-sid"


# methods -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method, path, allow", [
    ("PATCH", "/api/v1/account", "DELETE, GET, HEAD"),
    ("POST", "/api/v1/districts", "GET, HEAD"),
    ("GET", "/api/v1/sessions", "POST"),
    ("OPTIONS", "/api/v1/captchas", "POST"),
    ("POST", "/healthz", "GET, HEAD"),
])
def test_a_known_path_with_the_wrong_method_is_405_naming_the_right_ones(stack, method, path,
                                                                         allow):
    response = requests.request(method, stack.url + path, timeout=30)
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED" and response.json()["message"]
    assert response.headers["Allow"] == allow
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_answer_a_wrong_method_with_their_own_405_page(stack):
    response = requests.put(stack.url + "/d/haidian/beijing", timeout=30)
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD, POST"
    assert "不支持该请求方法" in response.text and response.headers["Content-Security-Policy"]
    unknown = requests.delete(stack.url + "/api/v1/nothing-here", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


def test_the_document_declares_every_answer_of_every_operation(stack):
    document = requests.get(stack.url + "/api/v1/openapi.json", timeout=30).json()
    operations = {(method.upper(), path): op for path, ops in document["paths"].items()
                  for method, op in ops.items()}
    for (method, path), op in operations.items():
        responses = op["responses"]
        assert {"500", "503"} <= responses.keys(), (method, path)
        if method != "GET":
            assert "403" in responses, (method, path)  # the Origin check
        if "requestBody" in op:
            assert {"400", "413", "415", "422"} <= responses.keys(), (method, path)
        for status, answer in responses.items():
            if status >= "400":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}
    for key in [("POST", "/api/v1/captchas"), ("POST", "/api/v1/sessions"),
                ("POST", "/api/v1/accounts"), ("POST", "/api/v1/sms-codes")]:
        assert "RATE_LIMITED" in operations[key]["responses"]["429"]["description"], key
    assert operations[("GET", "/api/v1/account")]["security"] == [{"session": []}]
    assert operations[("DELETE", "/api/v1/account")]["security"] == [{"session": [],
                                                                     "csrf": []}]
    assert "423" in operations[("POST", "/api/v1/sessions")]["responses"]
