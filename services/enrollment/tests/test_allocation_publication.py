"""A published draw can be re-run by anyone; any change to the published files is found."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.enrollment.allocation import procedure, synthetic
from services.enrollment.allocation.__main__ import main
from services.enrollment.allocation.instance import AllocationError
from services.enrollment.allocation.verify import verify as verify_directory
from services.enrollment.tests.strategies import instances

DRAW = synthetic.DEMO_DRAW
NUMBERS = synthetic.DEMO_WINNING_NUMBERS
ROOT = Path(__file__).resolve().parents[3]


FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
winning = st.lists(st.integers(1, 33), min_size=7, max_size=7).map(
    lambda numbers: " ".join(map(str, numbers)))


def publish(directory: Path, mechanism: str = "deferred_acceptance", seed: int = 3) -> Path:
    choices = (1, 1) if mechanism == "single_school_lottery" else (3, 6)
    instance = synthetic.generate(400, 8, seed=seed, min_choices=choices[0],
                                  max_choices=choices[1], seat_ratio=0.8)
    procedure.commit(instance, directory, mechanism, DRAW, synthetic.DEMO_FROZEN_ON)
    procedure.draw(directory, NUMBERS)
    return directory


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return publish(tmp_path_factory.mktemp("draw"))


@pytest.fixture
def copy(published, tmp_path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    for file in published.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def verify(directory: Path, capsys) -> tuple[int, str]:
    status = main(["verify", str(directory)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def first_line(output: str) -> str:
    return output.splitlines()[0]


def test_the_verify_command_confirms_an_untouched_publication(published):
    run = subprocess.run([sys.executable, "-m", "services.enrollment.allocation", "verify",
                          str(published)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("全部一致：400 名申请人、8 所学校")


def test_the_same_instance_and_draw_give_byte_identical_files(published, tmp_path):
    again = publish(tmp_path / "again")
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in published.iterdir())
    for file in published.iterdir():
        assert (again / file.name).read_bytes() == file.read_bytes(), file.name


def test_a_different_seed_gives_different_lottery_numbers(published, tmp_path):
    other = tmp_path / "other"
    instance = synthetic.generate(400, 8, seed=3, min_choices=3, max_choices=6, seat_ratio=0.8)
    procedure.commit(instance, other, "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    procedure.draw(other, "01 02 03 04 05 06 07")
    assert (other / "results.csv").read_bytes() != (published / "results.csv").read_bytes()


def test_a_changed_assigned_school_is_found_and_the_applicant_named(copy, capsys):
    rows = read_csv(copy / "results.csv")
    row = next(r for r in rows[1:] if r[3])
    entry, school = row[0], row[3]
    row[3] = "S0001" if school != "S0001" else "S0002"
    write_csv(copy / "results.csv", rows)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"报名号 {entry} 的录取学校应为 {school}，公布为 {row[3]}" in first_line(output)


def test_a_changed_lottery_number_is_found_and_the_applicant_named(copy, capsys):
    rows = read_csv(copy / "results.csv")
    entry, number = rows[7][0], rows[7][2]
    rows[7][2] = "0" * 16
    write_csv(copy / "results.csv", rows)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"报名号 {entry} 的随机号应为 {number}，公布为 {'0' * 16}" in first_line(output)


def test_a_change_only_in_the_machine_readable_results_is_found(copy, capsys):
    results = read_json(copy / "results.json")
    placement = results["placements"][11]
    placement["rank"] = (placement["rank"] or 0) + 1
    write_json(copy / "results.json", results)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"报名号 {placement['entry']} 的rank" in first_line(output)


def test_a_reordered_admission_list_is_found(copy, capsys):
    rows = read_csv(copy / "admissions.csv")
    rows[1][2], rows[2][2] = rows[2][2], rows[1][2]
    write_csv(copy / "admissions.csv", rows)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"admissions.csv 第 1 条：报名号 {rows[2][2]} 的报名号应为 {rows[2][2]}" \
        in first_line(output)


def test_changed_preferences_are_found_and_the_applicant_named(copy, capsys):
    instance = read_json(copy / "instance.json")
    applicant = next(a for a in instance["applicants"]
                     if a["group"] is None and len(a["choices"]) > 1)
    applicant["choices"].reverse()
    write_json(copy / "instance.json", instance)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"records.sha256：报名号 {applicant['id']} 的记录摘要" in first_line(output)


def test_changed_winning_numbers_are_found_and_the_first_applicant_named(copy, capsys):
    seed = read_json(copy / "seed.json")
    seed["winning_numbers"] = "03 08 15 21 27 33 13"
    write_json(copy / "seed.json", seed)
    first_entry = read_csv(copy / "results.csv")[1][0]
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"results.csv 第 1 条：报名号 {first_entry} 的随机号应为" in first_line(output)


def test_seed_inputs_from_another_draw_are_refused(copy, capsys):
    seed = read_json(copy / "seed.json")
    seed["draw"]["issue"] = "2027072"
    write_json(copy / "seed.json", seed)
    status, output = verify(copy, capsys)
    assert status == 2
    assert "不是承诺中事先声明的开奖" in output and "SEED_DRAW_MISMATCH" in output


def test_a_changed_commitment_is_found(copy, capsys):
    commitment = read_json(copy / "commitment.json")
    commitment["counts"]["seats"] += 1
    write_json(copy / "commitment.json", commitment)
    status, output = verify(copy, capsys)
    assert status == 1
    assert "commitment.json：承诺 的counts应为" in first_line(output)


def test_reordered_or_duplicated_record_lines_are_found(copy, capsys):
    lines = (copy / "records.sha256").read_text(encoding="utf-8").splitlines(keepends=True)
    fake = "0" * 64 + lines[20][64:]
    (copy / "records.sha256").write_text("".join(lines[:20] + [fake] + lines[20:]),
                                         encoding="utf-8")
    status, output = verify(copy, capsys)
    assert status == 1
    assert "records.sha256：第 21 行 的内容（逐字节比对）" in first_line(output)


def test_an_extra_cell_in_a_row_is_found(copy, capsys):
    rows = read_csv(copy / "results.csv")
    rows[5].append("S0001")
    write_csv(copy / "results.csv", rows)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"results.csv 第 5 条：报名号 {rows[5][0]} 的…应为 （空），公布为 S0001" \
        in first_line(output)


def test_a_value_of_another_json_type_is_found(copy, capsys):
    results = read_json(copy / "results.json")
    placement = next(p for p in results["placements"] if p["rank"] == 1)
    placement["rank"] = True
    write_json(copy / "results.json", results)
    status, output = verify(copy, capsys)
    assert status == 1
    assert f"报名号 {placement['entry']} 的rank应为 1，公布为 True" in first_line(output)


def test_duplicate_json_keys_are_refused(copy, capsys):
    text = (copy / "seed.json").read_text(encoding="utf-8")
    (copy / "seed.json").write_text(text.replace('"winning_numbers"', '"winning_numbers": "1",'
                                                 ' "winning_numbers"'), encoding="utf-8")
    status, output = verify(copy, capsys)
    assert status == 2 and "重复的键 winning_numbers" in output


@pytest.mark.parametrize("change, code", [
    (lambda c: c.update(nonce="1"), "FILE_MALFORMED"),
    (lambda c: c.update(frozen_on="2027-07-01"), "DRAW_NOT_AFTER_FREEZE"),
    (lambda c: c["draw"].update(date="20270624"), "DRAW_INVALID"),
    (lambda c: c.update(draw="x"), "DRAW_INVALID"),
])
def test_a_commitment_of_the_wrong_shape_is_refused(copy, capsys, change, code):
    commitment = read_json(copy / "commitment.json")
    change(commitment)
    write_json(copy / "commitment.json", commitment)
    status, output = verify(copy, capsys)
    assert status == 2 and code in output


def test_a_draw_is_run_once(published):
    with pytest.raises(AllocationError) as refused:
        procedure.draw(published, "01 02 03 04 05 06 07")
    assert refused.value.code == "ALREADY_DRAWN"


def test_verify_refuses_what_is_not_a_publication_directory(published, capsys):
    status, output = verify(published / "results.csv", capsys)
    assert status == 2 and "不是公示文件目录" in output


def test_bad_command_arguments_are_refused_without_a_traceback(tmp_path, capsys):
    for argv in (["generate", "--choices", "12-6", "--out", str(tmp_path / "i.json")],
                 ["generate", "--schools", "0", "--out", str(tmp_path / "i.json")],
                 ["generate", "--out", str(tmp_path / "missing" / "i.json")],
                 ["commit", str(tmp_path / "none.json"), "--out", str(tmp_path / "d"),
                  "--lottery", "x", "--issue", "1", "--draw-date", "2027-06-24",
                  "--frozen-on", "2027-06-20"]):
        assert main(argv) == 2, argv
        assert "拒绝：" in capsys.readouterr().err


def test_the_demo_never_replaces_a_directory_it_did_not_write(published, capsys):
    assert main(["demo", "--out", str(published)]) == 2
    assert "不会覆盖" in capsys.readouterr().err
    assert (published / "results.csv").exists()


def test_a_missing_file_is_refused_with_its_name(copy, capsys):
    (copy / "admissions.csv").unlink()
    status, output = verify(copy, capsys)
    assert status == 2
    assert "缺少文件 admissions.csv" in output


def test_a_single_school_lottery_publication_verifies(tmp_path, capsys):
    directory = publish(tmp_path / "lottery", "single_school_lottery")
    status, output = verify(directory, capsys)
    assert status == 0, output


def test_draw_refuses_an_instance_changed_after_the_commitment(tmp_path):
    directory = tmp_path / "changed"
    instance = synthetic.generate(50, 3, seed=5, min_choices=2, max_choices=3)
    procedure.commit(instance, directory, "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    data = read_json(directory / "instance.json")
    data["schools"][0]["seats"] += 5
    write_json(directory / "instance.json", data)
    with pytest.raises(AllocationError) as refused:
        procedure.draw(directory, NUMBERS)
    assert refused.value.code == "INSTANCE_CHANGED"


def test_a_commitment_is_never_overwritten(published):
    instance = synthetic.generate(10, 2, seed=1, min_choices=1, max_choices=2)
    with pytest.raises(AllocationError) as refused:
        procedure.commit(instance, published, "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    assert refused.value.code == "ALREADY_COMMITTED"


def test_the_demo_draw_can_be_written_again_and_verifies(tmp_path, capsys):
    directory = tmp_path / "demo-draw"
    assert main(["demo", "--out", str(directory)]) == 0
    assert main(["demo", "--out", str(directory)]) == 0
    status, output = verify(directory, capsys)
    assert status == 0, output


def publish_instance(instance, directory: Path, numbers: str) -> Path:
    procedure.commit(instance, directory, "deferred_acceptance", DRAW, synthetic.DEMO_FROZEN_ON)
    procedure.draw(directory, numbers)
    return directory


@FILES
@given(instances(), winning)
def test_any_draw_publishes_byte_identical_files_that_verify(instance, numbers):
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        a = publish_instance(instance, Path(first), numbers)
        b = publish_instance(instance, Path(second), numbers)
        for file in sorted(a.iterdir()):
            assert (b / file.name).read_bytes() == file.read_bytes(), file.name
        assert verify_directory(a).matches


@FILES
@given(instances(), winning, st.data())
def test_any_changed_placement_is_found_and_names_that_applicant(instance, numbers, data):
    assume(instance.applicants)
    with tempfile.TemporaryDirectory() as scratch:
        directory = publish_instance(instance, Path(scratch), numbers)
        rows = read_csv(directory / "results.csv")
        row = rows[data.draw(st.integers(1, len(rows) - 1))]
        others = [s.id for s in instance.schools if s.id != row[3]] + ([""] if row[3] else [])
        row[3] = data.draw(st.sampled_from(others))
        write_csv(directory / "results.csv", rows)
        report = verify_directory(directory)
        assert not report.matches
        assert report.found[0].file.startswith("results.csv")
        assert report.found[0].subject == f"报名号 {row[0]}"
