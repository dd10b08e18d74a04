"""The district command line without a broker: its arguments, the files it reads, how it
chunks and keys bulk work, what it prints and its exit status; a recording client stands in
for the district client (tests/e2e/test_district_cli.py runs it against the platform)."""

from __future__ import annotations

import io

import pytest

from common.csv_file import CsvFileError
from common.errors import DomainError
from services.enrollment import district_cli
from services.enrollment.contract import (
    ApplicationPage,
    ApplicationRow,
    BulkOutcome,
    ItemOutcome,
    RegistrationFacts,
)
from services.enrollment.district_client import RpcUnavailable

REVIEW_HEADER = "account_no,version,item,result,reason,agency"


def row(account_no: str) -> ApplicationRow:
    return ApplicationRow(
        registration=RegistrationFacts(
            account_no=account_no, district="chaoyang", district_name="朝阳区",
            hukou_type="non_beijing", child_name="张**", document_type="resident_id",
            document_number="1101*************5", sex="male"),
        details="submitted", version=1, verification="verified", review="in_review",
        submitted_at="2027-05-06T09:30:00+08:00", school="9905000001",
        placement="preregistered")


class Recording:
    """Answers as the service would; `calls` keeps (method, request)."""

    def __init__(self, rows=(), refuse: Exception | None = None, fail_accounts=()):
        self.rows, self.refuse, self.fail_accounts = list(rows), refuse, set(fail_accounts)
        self.calls = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass

    def district_list_applications(self, query):
        self.calls.append(("list", query))
        start = int(query.cursor or 0)
        rows = self.rows[start:start + query.limit]
        more = start + query.limit < len(self.rows)
        return ApplicationPage(rows=rows, next_cursor=str(start + query.limit) if more else None)

    def district_bulk_review(self, bulk):
        self.calls.append(("bulk_review", bulk))
        if self.refuse:
            raise self.refuse
        items = [ItemOutcome(index=n, account_no=item.account_no,
                             ok=item.account_no not in self.fail_accounts,
                             **({"code": "NOT_YOUR_DISTRICT", "message": "本区没有该账号的申请，"
                                 "无权查看或办理。"} if item.account_no in self.fail_accounts
                                else {}))
                 for n, item in enumerate(bulk.items)]
        failed = sum(not item.ok for item in items)
        return BulkOutcome(idempotency_key=bulk.idempotency_key, items=items,
                           succeeded=len(items) - failed, failed=failed)

    def district_show_application(self, lookup):
        raise self.refuse


def run(client, *argv):
    out, err = io.StringIO(), io.StringIO()
    status = district_cli.main(list(argv), connect=lambda env_file: client, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def decisions(tmp_path, *rows, name="decisions.csv"):
    path = tmp_path / name
    path.write_text("\n".join([REVIEW_HEADER, *rows]) + "\n", encoding="utf-8-sig")
    return path


def test_the_operator_may_come_before_or_after_the_command_or_from_the_environment(
        monkeypatch):
    client = Recording([row("27100001")])
    for argv in (["--operator", "cy0042", "list"], ["list", "--operator", "cy0042"]):
        assert run(client, *argv)[0] == 0
    monkeypatch.setenv("DISTRICT_OPERATOR", "cy0099")
    assert run(client, "list", "--review", "in_review")[0] == 0
    assert [query.operator for _, query in client.calls] == ["cy0042", "cy0042", "cy0099"]
    assert client.calls[-1][1].review == "in_review"
    monkeypatch.delenv("DISTRICT_OPERATOR")
    status, _, err = run(client, "list")
    assert status == 1 and "DISTRICT_OPERATOR" in err


def test_a_wrong_argument_is_refused_with_status_1(capsys):
    with pytest.raises(SystemExit) as exited:
        district_cli.main(["--operator", "cy0042", "list", "--review", "maybe"])
    assert exited.value.code == 1
    assert "参数错误" in capsys.readouterr().err


def test_list_pages_through_cursors_and_prints_a_table():
    client = Recording([row(f"271000{n:02d}") for n in range(12)])
    status, out, _ = run(client, "--operator", "cy0042", "list", "--limit", "11")
    lines = out.splitlines()
    assert status == 0 and lines[0].split()[:3] == ["账号", "儿童姓名", "证件号码"]
    assert lines[1].split() == ["27100000", "张**", "1101*************5", "非本市户籍",
                                "已提交", "1", "已验证", "审核中", "2027-05-06", "09:30",
                                "9905000001", "已预登记"]
    assert lines[-1] == "共 11 条" and len(lines) == 13
    client = Recording([row(f"27{n:06d}") for n in range(1200)])
    assert run(client, "--operator", "cy0042", "list")[1].splitlines()[-1] == "共 1200 条"
    assert [query.limit for _, query in client.calls] == [500, 500, 500]


def test_a_decisions_file_gives_items_with_their_lines(tmp_path):
    path = decisions(tmp_path, "27100001,1,permit,不通过,居住证已过期,公安", "",
                     "27100002, 2 ,dwelling,通过,,住建")
    batch = district_cli.read_batch(str(path), district_cli.REVIEW_COLUMNS,
                                    district_cli._review_item, "cy0042")
    assert [(line, item.account_no, item.version, item.passed, item.reason, item.operator)
            for line, item in batch.items] == [
        (2, "27100001", 1, False, "居住证已过期", "cy0042"),
        (4, "27100002", 2, True, None, "cy0042")]
    assert batch.content == path.read_bytes()


def test_every_bad_line_of_a_decisions_file_is_named_and_nothing_is_sent(tmp_path):
    path = decisions(tmp_path, "27100001,1,permit,驳回,,公安", "2710,x,permit,通过,,公安",
                     "27100003,1,permit,通过,,法院")
    client = Recording()
    status, _, err = run(client, "--operator", "cy0042", "review", "--file", str(path))
    assert status == 1 and client.calls == []
    assert err.splitlines()[1:] == [
        "  line 2: result: 应为 通过 或 不通过。",
        "  line 3: account_no: 格式不正确。",
        "  line 3: version: 格式不正确。",
        "  line 4: agency: 请从给定选项中选择。"]
    with pytest.raises(CsvFileError, match="the columns must be"):
        district_cli.read_batch(str(path), district_cli.PREREGISTER_COLUMNS,
                                district_cli._preregistration, "cy0042")


def test_a_big_file_goes_in_chunks_whose_keys_are_the_same_when_run_again(tmp_path):
    rows = [f"27{n:06d},1,permit,通过,,公安" for n in range(12001)]
    path = decisions(tmp_path, *rows)
    client = Recording(fail_accounts={"27000003", "27012000"})
    status, out, _ = run(client, "--operator", "cy0042", "review", "--file", str(path))
    sent = [bulk for _, bulk in client.calls]
    assert [len(bulk.items) for bulk in sent] == [5000, 5000, 2001]
    keys = [bulk.idempotency_key for bulk in sent]
    assert len(set(keys)) == 3 and all(8 <= len(key) <= 64 for key in keys)
    assert status == 1
    assert out.splitlines() == [
        "第5行 27000003：本区没有该账号的申请，无权查看或办理。（NOT_YOUR_DISTRICT）",
        "第12002行 27012000：本区没有该账号的申请，无权查看或办理。（NOT_YOUR_DISTRICT）",
        "共 12001 条：成功 11999 条，失败 2 条"]
    again = Recording()
    run(again, "--operator", "cy0042", "review", "--file", str(path))
    assert [bulk.idempotency_key for _, bulk in again.calls] == keys
    other = Recording()
    run(other, "--operator", "cy0042", "review", "--file", str(decisions(
        tmp_path, *rows[:-1], name="other.csv")))
    assert other.calls[0][1].idempotency_key != keys[0]


def test_a_refusal_prints_its_message_code_and_fields_and_no_answer_is_status_2():
    refused = DomainError("VALIDATION_ERROR", fields={"purpose": "此项为必填项。"})
    status, out, err = run(Recording(refuse=refused), "--operator", "cy0042", "show",
                           "27100001", "--purpose", "核对")
    assert (status, out) == (1, "")
    assert err.splitlines() == ["错误：提交的信息有误，请检查标出的项目。（VALIDATION_ERROR）",
                                "  purpose：此项为必填项。"]
    status, _, err = run(Recording(refuse=RpcUnavailable("enrollment.x: no reply in time")),
                         "--operator", "cy0042", "show", "27100001", "--purpose", "核对")
    assert status == 2 and err.startswith("服务暂不可用，请稍后重试")


def test_export_writes_every_row_with_a_byte_order_mark_and_chinese_headers(tmp_path):
    client = Recording([row(f"27{n:06d}") for n in range(501)])
    out_file = tmp_path / "export.csv"
    status, out, _ = run(client, "--operator", "cy0042", "export", "--out", str(out_file))
    assert status == 0 and out == f"已导出 501 条到 {out_file}\n"
    content = out_file.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(district_cli.EXPORT_COLUMNS) and len(lines) == 502
    assert lines[1] == ("27000000,朝阳区,非本市户籍,张**,resident_id,1101*************5,男,"
                        "已提交,1,已验证,审核中,2027-05-06T09:30:00+08:00,9905000001,已预登记")
    assert client.calls[0][1].purpose == "导出本区申请名单"
    assert not (tmp_path / "export.csv.partial").exists()


def test_publish_asks_for_yes_first():
    status, _, err = run(Recording(), "--operator", "cy0042", "publish")
    assert status == 1 and "--yes" in err
