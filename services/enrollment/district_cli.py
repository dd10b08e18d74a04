"""The command line of a district's operators, on the district client (district_client.py):

    python -m services.enrollment.district_cli [--env-file FILE] [--operator ID] COMMAND ...

COMMAND is one of `list`, `show`, `review`, `pre-register`, `approve`, `publish`,
`import-schools`, `export` (`--help` after one says what it takes). The credential is the
district's broker user: AMQP_URI (and AMQP_SSL_CA_FILE, RPC_TIMEOUT_S) from the environment,
or from `--env-file var/amqp/district-<code>.env` as `make run` writes it. Every call names
the operator, `--operator` or DISTRICT_OPERATOR.

Files of decisions (`review --file`, `pre-register --file`) are CSV as common/csv_file.py
reads them (UTF-8, a byte order mark allowed, a header row, the whole file or nothing):
`account_no,version,item,result,reason,agency` (result 通过 or 不通过) and
`account_no,version,school`. They are sent in chunks of at most MAX_BULK, each with an
idempotency key drawn from the file's bytes and the chunk's number, so that running the same
file again after an interruption changes nothing more.

Exit status: 0 done; 1 refused (by the service, or a bad file or argument: what to fix is
printed), or some items of a file refused; 2 the service did not answer (try again later).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from amqp.exceptions import AccessRefused
from kombu.exceptions import OperationalError

from common import csv_file
from common.errors import DomainError
from services.enrollment.contract import (
    MAX_BULK,
    MAX_PAGE,
    ApplicationLookup,
    ApplicationQuery,
    ApplicationRow,
    Approval,
    BulkApproval,
    BulkOutcome,
    BulkPreregistration,
    BulkReview,
    DistrictApplication,
    DistrictRpc,
    ItemDecision,
    OperatorRef,
    Preregistration,
    SchoolsImport,
)
from services.enrollment.district_client import DistrictClient, RpcUnavailable

# What the table and the export show for the contract's values.
HUKOU = {"beijing": "本市户籍", "non_beijing": "非本市户籍"}
DETAILS = {"empty": "未填写", "draft": "已暂存", "submitted": "已提交"}
VERIFICATION = {"pending": "待验证", "verified": "已验证", "failed": "未通过"}
REVIEW = {"not_started": "未开始", "in_review": "审核中", "approved": "审核通过",
          "returned": "审核未通过"}
PLACEMENT = {"preregistered": "已预登记", "approved": "区教委已审核通过"}
SEX = {"male": "男", "female": "女"}
RESULTS = {"通过": True, "不通过": False}

REVIEW_COLUMNS = ("account_no", "version", "item", "result", "reason", "agency")
PREREGISTER_COLUMNS = ("account_no", "version", "school")
EXPORT_COLUMNS = ("账号", "区", "户籍类型", "儿童姓名", "证件类型", "证件号码", "性别",
                  "填报状态", "版本", "身份证及户籍信息核验", "入学资格审核", "提交时间",
                  "预登记学校", "预登记状态")
TABLE_COLUMNS = ("账号", "儿童姓名", "证件号码", "户籍类型", "填报状态", "版本", "核验",
                 "审核", "提交时间", "学校", "预登记")

REFUSED, UNAVAILABLE, INTERRUPTED = 1, 2, 130


class UsageError(Exception):
    """An argument or a file the operator must fix (exit status 1)."""


# Rows as printed and exported -------------------------------------------------------------

def _value(labels: dict[str, str], value: str | None) -> str:
    return "" if value is None else labels.get(value, value)


def _table_row(row: ApplicationRow) -> tuple[str, ...]:
    registration = row.registration
    return (registration.account_no, registration.child_name, registration.document_number,
            HUKOU[registration.hukou_type], DETAILS[row.details], str(row.version),
            _value(VERIFICATION, row.verification), _value(REVIEW, row.review),
            (row.submitted_at or "")[:16].replace("T", " "), row.school or "",
            _value(PLACEMENT, row.placement))


def _export_row(row: ApplicationRow) -> tuple[str, ...]:
    registration = row.registration
    return (registration.account_no, registration.district_name,
            HUKOU[registration.hukou_type], registration.child_name,
            registration.document_type, registration.document_number, SEX[registration.sex],
            DETAILS[row.details], str(row.version), _value(VERIFICATION, row.verification),
            _value(REVIEW, row.review), row.submitted_at or "", row.school or "",
            _value(PLACEMENT, row.placement))


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(_width(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for cells in (header, *rows):
        out.write("  ".join(cell + " " * (width - _width(cell))
                            for cell, width in zip(cells, widths, strict=True)).rstrip() + "\n")


class Progress:
    """One line on stderr, rewritten in place, when stderr is a terminal (a log file or a
    pipe gets the summary only)."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO = sys.stderr):
        self.label, self.total, self.stream = label, total, stream
        self.shown = stream.isatty()

    def update(self, done: int) -> None:
        if self.shown:
            of = f"/{self.total}" if self.total is not None else ""
            self.stream.write(f"\r{self.label} {done}{of}")
            self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


# Files of decisions -------------------------------------------------------------------------

@dataclass(frozen=True)
class Batch:
    """The items of a file, each with its line, and the file's bytes (its idempotency keys)."""
    items: list[tuple[int, ItemDecision | Preregistration | Approval]]
    content: bytes


def _whole(value: str) -> int | str:
    # left as text when it is not a number: the model refuses it, naming the column
    return int(value) if value.isascii() and value.isdigit() else value


def _review_item(row: dict[str, str], operator: str) -> ItemDecision:
    if row["result"] not in RESULTS:
        raise DomainError("VALIDATION_ERROR", fields={"result": "应为 通过 或 不通过。"})
    return ItemDecision.parse({
        "account_no": row["account_no"], "version": _whole(row["version"]),
        "item": row["item"], "passed": RESULTS[row["result"]],
        "reason": row["reason"] or None, "operator": operator, "agency": row["agency"]})


def _preregistration(row: dict[str, str], operator: str) -> Preregistration:
    return Preregistration.parse({"account_no": row["account_no"],
                                  "version": _whole(row["version"]), "school": row["school"],
                                  "operator": operator})


def read_batch(path: str, columns: tuple[str, ...],
               item: Callable[[dict[str, str], str], object], operator: str) -> Batch:
    """The items of a decisions file, or CsvFileError with every problem of every line."""
    content = Path(path).read_bytes()
    problems: list[str] = []
    items = []
    source = io.StringIO(content.decode("utf-8-sig", errors="replace"), newline="")
    for line, row in csv_file.rows(source, columns, problems):
        try:
            items.append((line, item(row, operator)))
        except DomainError as invalid:
            problems.extend(f"line {line}: {column}: {what}"
                            for column, what in invalid.fields.items())
    if problems:
        raise csv_file.CsvFileError(path, problems)
    if not items:
        raise csv_file.CsvFileError(path, ["the file holds no rows"])
    return Batch(items, content)


def idempotency_key(kind: str, content: bytes, chunk: int) -> str:
    """The same for the same content's chunk, whenever and by whomever it is sent again."""
    return f"{kind}:{hashlib.sha256(content).hexdigest()[:40]}:{chunk}"


def chunks(items: list, size: int = MAX_BULK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# Commands ---------------------------------------------------------------------------------

def _query(args, operator: str, **overrides) -> ApplicationQuery:
    return ApplicationQuery.parse({
        "operator": operator, "purpose": args.purpose, "details": args.details,
        "hukou_type": args.hukou_type, "verification": args.verification,
        "review": args.review, "school": args.school, "placement": args.placement,
        "submitted_from": args.submitted_from, "submitted_to": args.submitted_to,
        **overrides})


def applications(client: DistrictRpc, query: ApplicationQuery,
                 limit: int | None = None) -> Iterator[ApplicationRow]:
    """The rows the query selects, page after page (up to `limit` of them)."""
    cursor, given = None, 0
    while limit is None or given < limit:
        size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - given)
        page = client.district_list_applications(
            query.model_copy(update={"cursor": cursor, "limit": size}))
        yield from page.rows
        given += len(page.rows)
        if (cursor := page.next_cursor) is None:
            return


def list_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    rows = [_table_row(row) for row in applications(client, _query(args, operator), args.limit)]
    if rows:
        print_table(TABLE_COLUMNS, rows, out)
    out.write(f"共 {len(rows)} 条\n")
    return 0


def show_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    shown = client.district_show_application(ApplicationLookup.parse({
        "account_no": args.account_no, "purpose": args.purpose, "operator": operator}))
    if args.json:
        out.write(shown.model_dump_json(indent=2) + "\n")
        return 0
    out.write(describe(shown))
    return 0


def describe(shown: DistrictApplication) -> str:
    child, state = shown.registration, shown.state
    lines = [f"账号：{shown.account_no}（{HUKOU[shown.hukou_type]}）",
             f"儿童：{child.child_name}，{SEX[child.sex]}，出生日期 {child.birth_date}，"
             f"证件号码 {child.document_number}",
             f"监护人手机：{child.guardian_phone or '无'}",
             f"填报状态：{state.details_label}，第 {state.version} 版"]
    if state.verification is not None:
        lines.append(f"身份证及户籍信息核验：{state.verification.label}"
                     + (f"（{state.verification.reason}）" if state.verification.reason else ""))
    if state.review is not None:
        lines.append(f"入学资格审核：{state.review.label}")
        lines += [f"  {result.item}：{'通过' if result.passed else '不通过'}"
                  + (f"（{result.reason}）" if result.reason else "")
                  for result in state.review.results]
    if shown.data is not None:
        lines.append("详细信息：")
        lines += [f"  {section}：{json.dumps(values, ensure_ascii=False)}"
                  for section, values in shown.data.items()]
    return "\n".join(lines) + "\n"


def review_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    if args.file:
        batch = read_batch(args.file, REVIEW_COLUMNS, _review_item, operator)
        return send_batch(batch, "review", lambda key, items: client.district_bulk_review(
            BulkReview(idempotency_key=key, items=items)), out)
    _require(args, "account_no", "version", "item", "passed", "agency")
    decision = ItemDecision.parse({
        "account_no": args.account_no, "version": args.version, "item": args.item,
        "passed": args.passed, "reason": args.reason, "operator": operator,
        "agency": args.agency})
    state = client.district_review_item(decision)
    review = state.review
    out.write(f"已记录：{decision.account_no} 第 {decision.version} 版 {decision.item} "
              f"{'通过' if decision.passed else '不通过'}；入学资格审核："
              f"{review.label if review else '未开始'}\n")
    return 0


def preregister_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    if args.file:
        batch = read_batch(args.file, PREREGISTER_COLUMNS, _preregistration, operator)
        return send_batch(batch, "preregister",
                          lambda key, items: client.district_bulk_preregister(
                              BulkPreregistration(idempotency_key=key, items=items)), out)
    _require(args, "account_no", "version", "school")
    placement = client.district_preregister(Preregistration.parse({
        "account_no": args.account_no, "version": args.version, "school": args.school,
        "operator": operator}))
    out.write(f"已预登记：{placement.account_no} 第 {placement.version} 版，"
              f"{placement.school_name}（{placement.school}），{PLACEMENT[placement.status]}\n")
    return 0


def approve_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    if args.account_no is None:
        if args.school is None:
            raise UsageError("请给出账号，或用 --school 审核该校全部预登记。")
        pending = [row.registration.account_no for row in applications(
            client, ApplicationQuery.parse({"operator": operator, "school": args.school,
                                            "placement": "preregistered"}))]
        if not pending:
            out.write(f"学校 {args.school} 没有待审核的预登记。\n")
            return 0
        items = [(n, Approval.parse({"account_no": account_no, "school": args.school,
                                     "operator": operator}))
                 for n, account_no in enumerate(pending, 1)]
        # the key covers exactly these families: approved ones leave the list, so a run
        # after an interruption sends the rest under a key of its own
        batch = Batch(items, "\n".join([args.school, *pending]).encode())
        return send_batch(batch, "approve", lambda key, chunk: client.district_bulk_approve(
            BulkApproval(idempotency_key=key, items=chunk)), out, what="第{n}个")
    if args.school is None:
        raise UsageError("请用 --school 给出预登记的学校。")
    placement = client.district_approve(Approval.parse({
        "account_no": args.account_no, "school": args.school, "operator": operator}))
    out.write(f"已审核通过：{placement.account_no}，{placement.school_name}"
              f"（{placement.school}）\n")
    return 0


def send_batch(batch: Batch, kind: str, send: Callable[[str, list], BulkOutcome],
               out: TextIO, what: str = "第{n}行") -> int:
    """Sends the batch in chunks; prints each refused item (by its line) and a summary."""
    succeeded = failed = 0
    parts = list(chunks(batch.items))
    progress = Progress(f"已发送（共 {len(parts)} 批）", len(batch.items))
    try:
        for number, part in enumerate(parts, 1):
            outcome = send(idempotency_key(kind, batch.content, number),
                           [item for _, item in part])
            for result in outcome.items:
                if not result.ok:
                    out.write(f"{what.format(n=part[result.index][0])} {result.account_no}："
                              f"{result.message}（{result.code}）\n")
            succeeded += outcome.succeeded
            failed += outcome.failed
            progress.update(succeeded + failed)
    finally:
        progress.close()
    out.write(f"共 {succeeded + failed} 条：成功 {succeeded} 条，失败 {failed} 条\n")
    return REFUSED if failed else 0


def publish_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    if not args.yes:
        raise UsageError("公布后本区入学结果对家长可见，且不能再更改。确认公布请加 --yes。")
    published = client.district_publish(OperatorRef.parse({"operator": operator}))
    out.write(f"已公布：{published.published_at}，获得学位 {published.placed} 人（将短信通知）\n")
    return 0


def import_schools_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    text = Path(args.file).read_bytes().decode("utf-8-sig", errors="replace")
    done = client.district_import_schools(SchoolsImport.parse({
        "operator": operator, "csv_text": text, "replace": args.replace}))
    out.write(f"学校名单已导入：新增 {done.added} 所，更新 {done.changed} 所，"
              f"未变 {done.unchanged} 所，删除 {done.removed} 所\n")
    return 0


def export_command(client: DistrictRpc, args, operator: str, out: TextIO) -> int:
    """Every application of the district as CSV: UTF-8 with a byte order mark (spreadsheets
    then read the Chinese right), written to a temporary file renamed into place at the end."""
    query = _query(args, operator, purpose=args.purpose or "导出本区申请名单")
    target = Path(args.out)
    partial = target.with_name(target.name + ".partial")
    progress = Progress("已导出")
    count = 0
    try:
        with open(partial, "w", encoding="utf-8-sig", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(EXPORT_COLUMNS)
            for row in applications(client, query):
                writer.writerow(_export_row(row))
                count += 1
                if count % MAX_PAGE == 0:
                    progress.update(count)
        partial.replace(target)
    finally:
        progress.close()
        partial.unlink(missing_ok=True)
    out.write(f"已导出 {count} 条到 {target}\n")
    return 0


def _require(args, *names: str) -> None:
    missing = [name for name in names if getattr(args, name) is None]
    if missing:
        raise UsageError("缺少参数：" + "、".join(
            "--" + name.replace("_", "-") if name != "account_no" else "账号" for name in missing)
            + "（或用 --file 给出文件）。")


# Arguments --------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """A wrong argument is the operator's to fix: status 1, as any refusal."""
        self.print_usage(sys.stderr)
        self.exit(REFUSED, f"{self.prog}: 参数错误：{message}\n")


def _choices(values) -> dict:
    return {"choices": list(values)}


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given before or after the command, neither hides the other
    common.add_argument("--env-file", default=argparse.SUPPRESS,
                        help="KEY=VALUE file with AMQP_URI (var/amqp/district-<code>.env)")
    common.add_argument("--operator", default=argparse.SUPPRESS,
                        help="the operator's staff id (default: DISTRICT_OPERATOR)")
    main = _Parser(prog="python -m services.enrollment.district_cli", parents=[common],
                   description=__doc__.split("\n\n")[0])
    commands = main.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=help_text,
                                   description=help_text)

    def filters(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--details", **_choices(DETAILS))
        sub.add_argument("--hukou-type", **_choices(HUKOU))
        sub.add_argument("--verification", **_choices(VERIFICATION))
        sub.add_argument("--review", **_choices(REVIEW))
        sub.add_argument("--school", help="学校标识码: the school's pre-registered families")
        sub.add_argument("--placement", choices=["none", *PLACEMENT])
        sub.add_argument("--submitted-from", metavar="YYYY-MM-DD")
        sub.add_argument("--submitted-to", metavar="YYYY-MM-DD")
        sub.add_argument("--purpose", help="why the list is read (audited)")

    listing = command("list", "the district's applications, masked, as a table")
    filters(listing)
    listing.add_argument("--limit", type=int, help="at most this many rows (default: all)")

    show = command("show", "one application unmasked, for a stated purpose (audited)")
    show.add_argument("account_no", metavar="ACCOUNT")
    show.add_argument("--purpose", required=True)
    show.add_argument("--json", action="store_true", help="the whole answer as JSON")

    review = command("review", "入学资格审核: one item's decision, or a CSV file of them")
    review.add_argument("account_no", metavar="ACCOUNT", nargs="?")
    review.add_argument("--version", type=int)
    review.add_argument("--item")
    result = review.add_mutually_exclusive_group()
    result.add_argument("--pass", dest="passed", action="store_const", const=True)
    result.add_argument("--fail", dest="passed", action="store_const", const=False)
    review.add_argument("--reason")
    review.add_argument("--agency", choices=["人力社保", "住建", "公安", "街道"])
    review.add_argument("--file", help=f"CSV: {','.join(REVIEW_COLUMNS)}")

    preregister = command("pre-register", "学校预登记 of a printed form, or a CSV file of them")
    preregister.add_argument("account_no", metavar="ACCOUNT", nargs="?")
    preregister.add_argument("--version", type=int)
    preregister.add_argument("--school")
    preregister.add_argument("--file", help=f"CSV: {','.join(PREREGISTER_COLUMNS)}")

    approve = command("approve", "approve a pre-registration, or every one of --school")
    approve.add_argument("account_no", metavar="ACCOUNT", nargs="?")
    approve.add_argument("--school")

    publish = command("publish", "publish the district's results to its families")
    publish.add_argument("--yes", action="store_true", help="yes, publish now")

    schools = command("import-schools", "import the district's schools from CSV")
    schools.add_argument("file")
    schools.add_argument("--replace", action="store_true",
                         help="remove the district's schools the file does not hold")

    export = command("export", "every application of the district to CSV (UTF-8, BOM)")
    filters(export)
    export.add_argument("--out", required=True, metavar="FILE.csv")
    return main


COMMANDS = {"list": list_command, "show": show_command, "review": review_command,
            "pre-register": preregister_command, "approve": approve_command,
            "publish": publish_command, "import-schools": import_schools_command,
            "export": export_command}


def main(argv: list[str], connect: Callable[[str | None], DistrictRpc] = DistrictClient.from_env,
         out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    env_file = getattr(args, "env_file", None)
    try:
        operator = getattr(args, "operator", None) or os.environ.get("DISTRICT_OPERATOR")
        if not operator:
            raise UsageError("请用 --operator 或环境变量 DISTRICT_OPERATOR 给出经办人工号。")
        if env_file is not None and not Path(env_file).is_file():
            raise UsageError(f"找不到凭据文件 {env_file}。")
        with connect(env_file) as client:
            return COMMANDS[args.command](client, args, operator, out)
    except DomainError as refused:
        err.write(f"错误：{refused.message}（{refused.code}）\n")
        for field, problem in refused.fields.items():
            err.write(f"  {field}：{problem}\n")
        return REFUSED
    except csv_file.CsvFileError as invalid:
        err.write(f"文件有误，未发送任何内容：{invalid.args[0].split(': ', 1)[0]}\n")
        err.writelines(f"  {problem}\n" for problem in invalid.problems)
        return REFUSED
    # before OSError: a broker that cannot be reached is one (ConnectionError, TimeoutError)
    except (RpcUnavailable, OperationalError, ConnectionError, TimeoutError) as unavailable:
        err.write(f"服务暂不可用，请稍后重试（{unavailable}）。\n")
        return UNAVAILABLE
    except AccessRefused:
        err.write("错误：消息服务器拒绝登录，请核对凭据（AMQP_URI 或 --env-file）。\n")
        return REFUSED
    except (UsageError, OSError) as wrong:
        err.write(f"错误：{wrong}\n")
        return REFUSED
    except Exception as unexpected:  # noqa: BLE001 - an operator gets a line, never a traceback
        err.write(f"意外错误：{type(unexpected).__name__}: {unexpected}\n")
        return REFUSED
    except KeyboardInterrupt:
        err.write("已中断。批量文件可原样重新运行，已办理的不会重复办理。\n")
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
