"""The SMS backends and the outbox reader, against a real file and a real local HTTP server."""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.notify import delivery
from services.notify.delivery import DeliveryFailed, HttpBackend, OutboxFileBackend
from services.notify.settings import NotifySettings

PHONE = "13812345678"


def http_backend(url, max_attempts=3, timeout_s=2.0):
    return HttpBackend(url, "s3cret", timeout_s=timeout_s, max_attempts=max_attempts,
                       backoff_s=0.01)


def test_outbox_appends_one_json_line_per_text(tmp_path):
    path = tmp_path / "new-dir" / "sms.jsonl"
    backend = OutboxFileBackend(path)
    backend.send("m-1", PHONE, "register", "【平台】验证码 123456")
    backend.send("m-2", PHONE, "reset_password", "second")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert "【平台】验证码 123456" in lines[0]  # Chinese stays readable (ensure_ascii=False)
    first = json.loads(lines[0])
    assert set(first) == {"message_id", "phone", "purpose", "text", "sent_at"}
    assert first["message_id"] == "m-1" and first["phone"] == PHONE
    assert first["purpose"] == "register"


def test_outbox_write_failure_is_a_delivery_failure_worth_retrying(tmp_path):
    (tmp_path / "file").write_text("")
    backend = OutboxFileBackend(tmp_path / "file" / "sms.jsonl")  # parent is not a folder
    with pytest.raises(DeliveryFailed) as failure:
        backend.send("m-1", PHONE, "register", "text")
    assert not failure.value.permanent
    assert PHONE not in str(failure.value)


def test_outbox_tail_is_newest_first_limited_and_skips_a_cut_line(tmp_path):
    path = tmp_path / "sms.jsonl"
    backend = OutboxFileBackend(path)
    for n in range(5):
        backend.send(f"m-{n}", PHONE, "register", f"text {n}")
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write('{"message_id": "cut sh')  # a crash in the middle of a write

    tail = delivery.read_outbox_tail(path, 3)
    assert [entry["message_id"] for entry in tail] == ["m-4", "m-3"]
    assert delivery.read_outbox_tail(tmp_path / "missing.jsonl", 10) == []


def outbox_ids(path):
    """The message id of each whole line, in file order ("cut" for a line cut short)."""
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.append(json.loads(line)["message_id"])
        except json.JSONDecodeError:
            ids.append("cut")
    return ids


def test_outbox_writes_a_repeated_message_id_once(tmp_path):
    path = tmp_path / "sms.jsonl"
    backend = OutboxFileBackend(path)
    backend.send("m-1", PHONE, "register", "first")
    backend.send("m-1", PHONE, "register", "again")  # the resend after a lost sent mark
    backend.send("m-2", PHONE, "register", "second")

    assert outbox_ids(path) == ["m-1", "m-2"]
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[0])["text"] == "first"


def test_outbox_refuses_ids_a_process_before_it_wrote(tmp_path):
    path = tmp_path / "sms.jsonl"
    OutboxFileBackend(path).send("m-1", PHONE, "register", "text")

    restarted = OutboxFileBackend(path)
    restarted.send("m-1", PHONE, "register", "text")
    restarted.send("m-2", PHONE, "register", "text")
    assert outbox_ids(path) == ["m-1", "m-2"]


def test_two_backends_on_one_file_write_each_id_once(tmp_path):
    path = tmp_path / "sms.jsonl"
    first, second = OutboxFileBackend(path), OutboxFileBackend(path)
    first.send("m-1", PHONE, "register", "text")
    second.send("m-1", PHONE, "register", "text")
    second.send("m-2", PHONE, "register", "text")
    first.send("m-2", PHONE, "register", "text")
    first.send("m-3", PHONE, "register", "text")
    second.send("m-3", PHONE, "register", "text")
    assert outbox_ids(path) == ["m-1", "m-2", "m-3"]


def test_a_process_sends_only_after_the_one_appending_is_done_and_sees_its_line(tmp_path):
    """Checking the file and appending hold the file's lock: a process waits while another
    appends, then finds the id there and writes nothing."""
    path = tmp_path / "sms.jsonl"
    sender = [sys.executable, "-c", "import sys; from services.notify.delivery import "
              "OutboxFileBackend; OutboxFileBackend(sys.argv[1]).send('m-1', sys.argv[2], "
              "'register', 'text')", str(path), PHONE]
    with path.open("a", encoding="utf-8") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        process = subprocess.Popen(sender, cwd=Path(__file__).resolve().parents[3])
        time.sleep(1)
        assert process.poll() is None  # waiting for the lock
        other.write(json.dumps({"message_id": "m-1", "phone": PHONE, "purpose": "register",
                                "text": "text", "sent_at": "2027-05-06T10:00:00+00:00"}) + "\n")
    assert process.wait(30) == 0
    assert outbox_ids(path) == ["m-1"]


def test_outbox_goes_on_after_a_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / "sms.jsonl"
    OutboxFileBackend(path).send("m-1", PHONE, "register", "text")
    with path.open("a", encoding="utf-8") as outbox:
        outbox.write('{"message_id": "m-2", "phone": "138')  # the writer died here

    restarted = OutboxFileBackend(path)
    restarted.send("m-1", PHONE, "register", "text")
    restarted.send("m-2", PHONE, "register", "text")  # the text was never whole: sent now
    restarted.send("m-2", PHONE, "register", "text")
    assert outbox_ids(path) == ["m-1", "cut", "m-2"]
    assert [entry["message_id"] for entry in delivery.read_outbox_tail(path, 5)] == [
        "m-2", "m-1"]


def test_an_emptied_outbox_is_read_from_its_start_again(tmp_path):
    path = tmp_path / "sms.jsonl"
    backend = OutboxFileBackend(path)
    backend.send("m-1", PHONE, "register", "text")
    backend.send("m-2", PHONE, "register", "text")
    path.write_text("")  # a developer clears it
    backend.send("m-3", PHONE, "register", "text")
    backend.send("m-3", PHONE, "register", "text")
    assert outbox_ids(path) == ["m-3"]


def test_http_posts_the_text_with_token_and_idempotency_key(provider):
    http_backend(provider.url).send("m-1", PHONE, "register", "验证码 123456")

    [request] = provider.requests
    assert request["body"] == {"message_id": "m-1", "phone": PHONE, "text": "验证码 123456"}
    assert request["headers"]["Authorization"] == "Bearer s3cret"
    assert request["headers"]["Idempotency-Key"] == "m-1"


def test_http_retries_server_errors_with_the_same_idempotency_key(provider):
    provider.replies = [500, 503]
    http_backend(provider.url).send("m-1", PHONE, "register", "text")

    assert len(provider.requests) == 3
    assert {r["headers"]["Idempotency-Key"] for r in provider.requests} == {"m-1"}


def test_http_gives_up_after_max_attempts(provider):
    provider.replies = [500, 500, 500, 500]
    with pytest.raises(DeliveryFailed) as failure:
        http_backend(provider.url).send("m-1", PHONE, "register", "text")
    assert len(provider.requests) == 3
    assert str(failure.value) == "HTTP 500" and not failure.value.permanent


def test_http_client_error_is_permanent_and_not_retried(provider):
    provider.replies = [400]
    with pytest.raises(DeliveryFailed) as failure:
        http_backend(provider.url).send("m-1", PHONE, "register", "text")
    assert len(provider.requests) == 1
    assert str(failure.value) == "HTTP 400" and failure.value.permanent


def test_http_times_out_and_retries(provider):
    provider.replies = ["slow", "slow"]
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as failure:
        http_backend(provider.url, max_attempts=2, timeout_s=0.2).send(
            "m-1", PHONE, "register", "text")
    assert time.monotonic() - started < 1.5  # did not wait for the slow answers
    assert len(provider.requests) == 2
    assert str(failure.value) == "ReadTimeout" and not failure.value.permanent


def test_the_provider_texts_a_repeated_idempotency_key_once(provider):
    http_backend(provider.url).send("m-1", PHONE, "register", "text")
    http_backend(provider.url).send("m-1", PHONE, "register", "text")  # after a restart
    http_backend(provider.url).send("m-2", PHONE, "register", "text")

    assert len(provider.requests) == 3
    assert list(provider.delivered) == ["m-1", "m-2"]


def test_a_retry_after_a_lost_answer_texts_once(provider):
    provider.replies = ["slow"]  # the text goes out, its answer never comes
    http_backend(provider.url, max_attempts=2, timeout_s=0.2).send(
        "m-1", PHONE, "register", "text")

    assert len(provider.requests) == 2
    assert provider.delivered == {"m-1": {"message_id": "m-1", "phone": PHONE, "text": "text"}}


def test_a_refused_text_is_not_delivered_and_may_be_sent_again(provider):
    provider.replies = [503]
    with pytest.raises(DeliveryFailed):
        http_backend(provider.url, max_attempts=1).send("m-1", PHONE, "register", "text")
    assert provider.delivered == {}
    http_backend(provider.url).send("m-1", PHONE, "register", "text")
    assert list(provider.delivered) == ["m-1"]


def test_http_unreachable_provider_is_retried_then_fails():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed) as failure:
        http_backend(f"http://127.0.0.1:{port}/sms", max_attempts=2).send(
            "m-1", PHONE, "register", "text")
    assert str(failure.value) == "ConnectionError" and not failure.value.permanent


def test_backend_from_settings(tmp_path):
    outbox = delivery.backend_from_settings(
        NotifySettings(_env_file=None, SMS_OUTBOX_PATH=str(tmp_path / "sms.jsonl")))
    assert isinstance(outbox, OutboxFileBackend) and outbox.path == tmp_path / "sms.jsonl"
    http = delivery.backend_from_settings(NotifySettings(
        _env_file=None, SMS_BACKEND="http", SMS_HTTP_URL="http://127.0.0.1:1/sms"))
    assert isinstance(http, HttpBackend) and http.url == "http://127.0.0.1:1/sms"


def test_account_number_text():
    assert delivery.account_number_text("27123456") == (
        "信息注册成功，您的账号为：27123456。此账号为登录账号，请妥善保存。")


def test_verification_outcome_texts():
    assert delivery.verification_outcome_text("verified") == (
        "您提交的适龄儿童身份证及户籍信息已验证通过。请登录北京市义务教育入学服务平台查看后续步骤。")
    assert delivery.verification_outcome_text("failed") == (
        "您提交的适龄儿童身份证及户籍信息未通过验证，请登录北京市义务教育入学服务平台查看原因并按提示"
        "处理。")


def test_review_outcome_texts():
    assert delivery.review_outcome_text("approved") == (
        "您提交的非本市户籍适龄儿童入学资格审核已通过。请登录北京市义务教育入学服务平台查看后续步骤。")
    assert delivery.review_outcome_text("returned").startswith(
        "您提交的非本市户籍适龄儿童入学资格审核未通过，")


def test_every_text_is_signed_once():
    assert delivery.signed("【平台】", "您的验证码为123456") == "【平台】您的验证码为123456"
    assert delivery.signed("【平台】", "【平台】已签名") == "【平台】已签名"
