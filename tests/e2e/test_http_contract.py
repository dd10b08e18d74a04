"""Bad input gets a stable code, a Chinese message and a 4xx: never a 500."""

import pytest
import requests

from tests.support.family import Family


def post(stack, path, **kwargs):
    return requests.post(stack.url + path, timeout=30, **kwargs)


@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/sessions", "/api/v1/sms-codes",
                                  "/api/v1/password-resets"])
@pytest.mark.parametrize("send, expected", [
    ({"data": b"{not json", "headers": {"Content-Type": "application/json"}},
     (400, "MALFORMED_JSON")),
    ({"data": b"\xff\xfe", "headers": {"Content-Type": "application/json"}},
     (400, "MALFORMED_JSON")),
    ({"json": [1, 2]}, (422, "VALIDATION_ERROR")),
    ({"json": {}}, (422, "VALIDATION_ERROR")),
    ({"data": "a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
     (415, "UNSUPPORTED_MEDIA_TYPE")),
    ({"data": b"{" + b" " * 70000 + b"}", "headers": {"Content-Type": "application/json"}},
     (413, "PAYLOAD_TOO_LARGE")),
    ({"data": b"[" * 40000, "headers": {"Content-Type": "application/json"}},
     (400, "JSON_TOO_DEEP")),  # the parser would recurse 40000 deep
    ({"data": b'{"a":' * 33 + b"1" + b"}" * 33, "headers": {"Content-Type": "application/json"}},
     (400, "JSON_TOO_DEEP")),
])
def test_malformed_requests_are_refused_cleanly(stack, path, send, expected):
    response = post(stack, path, **send)
    assert (response.status_code, response.json()["code"]) == expected
    assert response.json()["message"]


def test_missing_unknown_and_wrongly_typed_fields_are_named(stack):
    family = Family(stack)
    body = family.registration()
    del body["child_name"]
    body["favourite_colour"] = "blue"
    body["privacy_consent"] = "yes"
    body["guardian_phone"] = 13812345678
    response = family.call("POST", "/api/v1/accounts", json=body)
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert {"child_name", "favourite_colour", "privacy_consent", "guardian_phone"} <= set(fields)
    assert fields["child_name"] == "此项为必填项。"


def test_the_gateway_fills_client_ip_and_session_itself(stack):
    response = Family(stack).call("POST", "/api/v1/sms-codes", json={
        "purpose": "register", "phone": "13912345678", "captcha_id": "x",
        "captcha_answer": "1", "client_ip": "1.2.3.4"})
    assert response.status_code == 422 and "client_ip" in response.json()["fields"]


def test_signed_in_endpoints_need_a_session(stack):
    for method, path in [("GET", "/api/v1/account"), ("GET", "/api/v1/journey"),
                         ("PUT", "/api/v1/account/password"),
                         ("DELETE", "/api/v1/account"), ("DELETE", "/api/v1/sessions/current")]:
        response = requests.request(method, stack.url + path, json={}, timeout=30)
        assert response.status_code == 401 and response.json()["code"] == "NOT_AUTHENTICATED"


def test_every_documented_path_is_served(stack):
    document = requests.get(stack.url + "/api/v1/openapi.json", timeout=30).json()
    assert document["openapi"].startswith("3.")
    for path, operations in document["paths"].items():
        for method in operations:
            response = requests.request(method.upper(), stack.url + path, timeout=30)
            assert response.status_code < 500, (method, path, response.text)
            if response.status_code == 404:
                raise AssertionError(f"{method} {path} is not routed")


def test_unknown_api_paths_are_json_404(stack):
    response = requests.get(stack.url + "/api/v1/nothing-here", timeout=30)
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"


def test_districts_lists_the_eighteen_entrances(stack):
    body = requests.get(stack.url + "/api/v1/districts", timeout=30).json()
    names = [d["name"] for d in body["districts"]]
    assert len(names) == 18 and "燕山地区" in names and "北京经济技术开发区" in names
    assert {h["code"] for h in body["hukou_types"]} == {"beijing", "non_beijing"}
