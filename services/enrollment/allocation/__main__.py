"""`python -m services.enrollment.allocation`: generate, commit, draw, verify (and demo).

Exit status: 0 done (verify: everything matches), 1 verify found a discrepancy,
2 refused (bad input, or seed inputs that are not the announced draw's).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from services.enrollment.allocation import procedure, synthetic
from services.enrollment.allocation.draw import PublicDraw
from services.enrollment.allocation.instance import MECHANISMS, AllocationError, Instance
from services.enrollment.allocation.publication import INSTANCE
from services.enrollment.allocation.verify import verify

DEMO_MARK = ".demo"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except AllocationError as error:
        print(f"拒绝：{error.message}（{error.code}）", file=sys.stderr)
        return 2


def _generate(args) -> int:
    low, _, high = args.choices.partition("-")
    if not (low.isdigit() and (high or low).isdigit() and 1 <= int(low) <= int(high or low)):
        raise AllocationError("ARGUMENT_INVALID", f"--choices {args.choices!r} 应为 N 或 MIN-MAX")
    if args.applicants < 0 or args.schools < 1 or not args.seat_ratio > 0:
        raise AllocationError("ARGUMENT_INVALID",
                              "--applicants 不能为负，--schools 至少为 1，--seat-ratio 须大于 0")
    instance = synthetic.generate(args.applicants, args.schools, seed=args.seed,
                                  min_choices=int(low), max_choices=int(high or low),
                                  seat_ratio=args.seat_ratio, twins=not args.no_twins)
    try:
        args.out.write_text(json.dumps(instance.records(), ensure_ascii=False),
                            encoding="utf-8")
    except OSError as exc:
        raise AllocationError("FILE_WRITE_FAILED", f"无法写入 {args.out}：{exc}") from None
    counts = instance.counts()
    print(f"已生成 {args.out}：{counts['schools']} 所学校，{counts['seats']} 个学位，"
          f"{counts['applicants']} 名申请人，{counts['groups']} 组多胞胎")
    return 0


def _commit(args) -> int:
    try:
        data = json.loads(args.instance.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AllocationError("FILE_MALFORMED", f"无法读取实例 {args.instance}：{exc}") from None
    public_draw = PublicDraw.from_record({"lottery": args.lottery, "issue": args.issue,
                                          "date": args.draw_date, "numbers": args.numbers})
    digest = procedure.commit(Instance.from_records(data), args.out, args.mechanism,
                              public_draw, args.frozen_on)
    print(f"承诺已写入 {args.out}，承诺摘要 {digest}")
    print(f"请在 {args.draw_date} 开奖前公布 commitment.json、records.sha256 与 {INSTANCE}。")
    return 0


def _draw(args) -> int:
    outcome = procedure.draw(args.directory, args.winning_numbers)
    placed = sum(1 for p in outcome.placements if p.school is not None)
    print(f"派位完成：{placed} 人录取，{len(outcome.unassigned)} 人待统筹；"
          f"种子 {outcome.seed}；结果已写入 {args.directory}")
    return 0


def _demo(args) -> int:
    """Demo data for `make run`: a synthetic district draw, committed and drawn. Replaces an
    earlier demo draw (marked as such), never any other directory."""
    if (args.out / DEMO_MARK).exists():
        shutil.rmtree(args.out)
    elif args.out.exists():
        raise AllocationError("ALREADY_EXISTS", f"{args.out} 已存在且不是演示派位目录，不会覆盖")
    try:  # the mark first, so that an interrupted demo is still replaced next time
        args.out.mkdir(parents=True)
        (args.out / DEMO_MARK).write_text("演示数据，可删除\n", encoding="utf-8")
    except OSError as exc:
        raise AllocationError("FILE_WRITE_FAILED", f"无法写入 {args.out}：{exc}") from None
    instance = synthetic.generate(2000, 20, seed=2027)
    procedure.commit(instance, args.out, "deferred_acceptance", synthetic.DEMO_DRAW,
                     synthetic.DEMO_FROZEN_ON)
    outcome = procedure.draw(args.out, synthetic.DEMO_WINNING_NUMBERS)
    print(f"演示派位：{args.out}（2000 名申请人、20 所学校，{len(outcome.unassigned)} 人待统筹）")
    return 0


def _verify(args) -> int:
    report = verify(args.directory)
    if report.matches:
        counts = report.counts
        print(f"全部一致：{counts['applicants']} 名申请人、{counts['schools']} 所学校的随机号与"
              f"录取结果均可由公开数据重新得出。承诺摘要 {report.commitment_sha256}，"
              f"种子 {report.seed}")
        return 0
    print(f"不一致：共 {report.total} 处。第一处：{report.found[0].describe()}")
    for discrepancy in report.found[1:]:
        print(f"  另：{discrepancy.describe()}")
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.enrollment.allocation",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(required=True, metavar="command")

    gen = commands.add_parser("generate", help="write a synthetic instance (JSON)")
    gen.add_argument("--applicants", type=int, default=2000)
    gen.add_argument("--schools", type=int, default=20)
    gen.add_argument("--choices", default="6-12", help="ranked choices per applicant: N or MIN-MAX")
    gen.add_argument("--seat-ratio", type=float, default=1.05, help="total seats / applicants")
    gen.add_argument("--seed", type=int, default=1, help="generator seed (not a draw seed)")
    gen.add_argument("--no-twins", action="store_true")
    gen.add_argument("--out", type=Path, required=True)
    gen.set_defaults(run=_generate)

    com = commands.add_parser("commit", help="step 1: freeze an instance, write the commitment")
    com.add_argument("instance", type=Path)
    com.add_argument("--out", type=Path, required=True, help="publication directory")
    com.add_argument("--mechanism", choices=MECHANISMS, default="deferred_acceptance")
    com.add_argument("--lottery", required=True, help="public lottery, e.g. 中国福利彩票双色球")
    com.add_argument("--issue", required=True, help="its issue number, e.g. 2027071")
    com.add_argument("--draw-date", required=True, help="date of that draw, YYYY-MM-DD")
    com.add_argument("--numbers", type=int, default=7,
                     help="how many winning numbers that draw has (default 7: 双色球 6 + 1)")
    com.add_argument("--frozen-on", required=True,
                     help="date the instance is frozen and this commitment published, YYYY-MM-DD")
    com.set_defaults(run=_commit)

    drw = commands.add_parser("draw", help="step 2: seed from the winning numbers, allocate")
    drw.add_argument("directory", type=Path)
    drw.add_argument("--winning-numbers", required=True, help='e.g. "03 08 15 21 27 33 12"')
    drw.set_defaults(run=_draw)

    dem = commands.add_parser("demo", help="write a demo draw (synthetic, 2000 applicants)")
    dem.add_argument("--out", type=Path, required=True)
    dem.set_defaults(run=_demo)

    ver = commands.add_parser("verify", help="re-derive a published draw and compare")
    ver.add_argument("directory", type=Path)
    ver.set_defaults(run=_verify)
    return parser


if __name__ == "__main__":
    sys.exit(main())
