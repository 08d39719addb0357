"""CSV imports of the ledgers (issue 4): a row-by-row error report, good rows kept or all or
nothing, and `fieldops import` with a progress bar and exit code 1 on any bad row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from domain.ledgers import qualification_basis as basis
from domain.models import Device, ExamResult, Role, TrainingRecord
from domain.platform.actors import Actor
from tests.cli_support import cli_env, fieldops
from tests.factories import org_tree, person

TODAY = date(2026, 6, 1)
TRAINING_CSV = """employee_no,course,completed_on,hours,trainer
F001,移动展业上岗培训,2026-03-02,16,王老师
F999,移动展业上岗培训,2026-03-02,16,王老师
F002,移动展业上岗培训,2026-03-02,16,王老师
F001,反洗钱培训,2026-13-40,4,李老师
F001,风险提示培训,2026-12-01,4,李老师
F001,凭证管理培训,2026-03-09,four,李老师
F001,机具管理培训,2026-03-10

F001,移动展业上岗培训,2026-03-02,16,王老师
F003,移动展业上岗培训,2026-03-03,12.5,王老师
"""
EXPECTED_ERRORS = [
    (3, "Unknown employee number %(employee_no)s."),
    (4, "Employee %(employee_no)s belongs to an organisation outside your scope."),
    (5, "%(column)s: %(value)s is not a date; write YYYY-MM-DD."),
    (6, "%(column)s: %(value)s lies in the future."),
    (7, "%(column)s: %(value)s is not a valid number with at most one decimal place."),
    (8, "%(column)s is missing."),
    (10, "This row repeats line %(line)s."),
]
EXAMS_CSV = """employee_no,exam,taken_on,score,pass_mark
F001,移动展业资格考试,2026-03-16,88,80
F003,移动展业资格考试,2026-03-16,61.5,80
F003,移动展业补考,2026-03-23,-5,80
"""


@dataclass
class Branch:
    """Operations management of branch a, two agents there and one in branch b."""

    ops_a: Actor


@pytest.fixture
async def branch(database_url: str) -> Branch:
    ids = await org_tree()
    _, ops_a = await person(ids["branch_a"], Role.OPS_ADMIN, no="O002")
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    await person(ids["outlet_b"], Role.FIELD_AGENT, no="F002")
    await person(ids["sub_a"], Role.FIELD_AGENT, no="F003")
    return Branch(ops_a)


async def test_training_import_reports_each_bad_row_and_keeps_the_good_ones(
    branch: Branch,
) -> None:
    seen: list[tuple[int, int, str]] = []
    report = await basis.import_training_csv(
        branch.ops_a, TRAINING_CSV, all_or_nothing=False, today=TODAY,
        progress=lambda done, total, label: seen.append((done, total, label)))
    assert [(row.line, row.error) for row in report.errors] == EXPECTED_ERRORS
    assert report.errors[0].params == {"employee_no": "F999"}
    assert report.errors[2].params == {"column": "completed_on", "value": "2026-13-40"}
    assert report.errors[5].params == {"column": "hours"}
    assert report.errors[6].params == {"line": 2}
    assert (report.read, report.imported) == (9, 2)
    assert seen[-1] == (9, 9, "F003") and len(seen) == 9
    rows = await TrainingRecord.all().prefetch_related("staff").order_by("id")
    assert [(r.staff.employee_no, r.course, r.hours) for r in rows] == [
        ("F001", "移动展业上岗培训", Decimal("16")), ("F003", "移动展业上岗培训", Decimal("12.5"))]


async def test_all_or_nothing_imports_nothing_when_a_row_fails(branch: Branch) -> None:
    report = await basis.import_training_csv(branch.ops_a, TRAINING_CSV, all_or_nothing=True,
                                         today=TODAY)
    assert [(row.line, row.error) for row in report.errors] == EXPECTED_ERRORS
    assert (report.read, report.imported, report.all_or_nothing) == (9, 0, True)
    assert not await TrainingRecord.exists()


async def test_reimporting_reports_rows_already_in_the_ledger(branch: Branch) -> None:
    good = "employee_no,course,completed_on,hours,trainer\nF001,上岗培训,2026-03-02,16,王老师\n"
    first = await basis.import_training_csv(branch.ops_a, good, all_or_nothing=True, today=TODAY)
    assert (first.imported, first.errors) == (1, ())
    second = await basis.import_training_csv(branch.ops_a, good, all_or_nothing=True, today=TODAY)
    assert [(row.line, row.error) for row in second.errors] == [(2, basis.ALREADY_RECORDED)]
    assert await TrainingRecord.all().count() == 1


async def test_a_file_without_its_header_is_refused_as_a_whole(branch: Branch) -> None:
    report = await basis.import_exams_csv(branch.ops_a, "employee_no,exam,score\nF001,x,1\n",
                                      all_or_nothing=False, today=TODAY)
    assert [(row.line, row.error, row.params) for row in report.errors] == [
        (1, "The header row lacks the column %(column)s.", {"column": "taken_on"})]
    assert report.imported == 0


async def test_exam_import_keeps_failed_exams_and_refuses_bad_scores(branch: Branch) -> None:
    report = await basis.import_exams_csv(branch.ops_a, EXAMS_CSV, all_or_nothing=False,
                                          today=TODAY)
    assert [(row.line, row.params) for row in report.errors] == [
        (4, {"column": "score", "value": "-5"})]
    results = {r.score: r.passed for r in await ExamResult.all()}
    assert results == {Decimal("88"): True, Decimal("61.5"): False}


async def write_csv(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return path


async def test_cli_import_shows_progress_reports_rows_and_exits_1(
    database_url: str, tmp_path: Path
) -> None:
    ids = await org_tree()
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    await person(ids["sub_a"], Role.FIELD_AGENT, no="F003")
    env = cli_env(database_url, tmp_path, FIELDOPS_DEFAULT_LOCALE="en")
    path = await write_csv(tmp_path, "training.csv", TRAINING_CSV.replace("2026-12-01",
                                                                          "2999-12-01"))
    strict = await fieldops(env, "import", "training", str(path), "--all-or-nothing",
                            cwd=tmp_path)
    assert strict.returncode == 1, strict.stderr
    assert "nothing imported" in strict.stdout and not await TrainingRecord.exists()
    result = await fieldops(env, "import", "training", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "9/9" in result.stderr and "[" + "#" * 30 + "]" in result.stderr
    assert "line 3: Unknown employee number F999." in result.stdout
    assert "line 4: Unknown employee number F002." in result.stdout
    assert "line 6: completed_on: 2999-12-01 lies in the future." in result.stdout
    assert "line 10: This row repeats line 2." in result.stdout
    assert "2 of 9 row(s) imported; 7 failed" in result.stdout
    assert await TrainingRecord.all().count() == 2


async def test_cli_import_of_a_clean_file_exits_0(database_url: str, tmp_path: Path) -> None:
    ids = await org_tree()
    await person(ids["outlet_a"], Role.FIELD_AGENT, no="F001")
    env = cli_env(database_url, tmp_path)
    path = await write_csv(tmp_path, "exams.csv", EXAMS_CSV.splitlines()[0] + "\n"
                           + EXAMS_CSV.splitlines()[1] + "\n")
    result = await fieldops(env, "import", "exams", str(path), "--all-or-nothing", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 1 row(s) imported" in result.stdout
    assert await ExamResult.all().count() == 1
    missing = await fieldops(env, "import", "exams", str(tmp_path / "nope.csv"), cwd=tmp_path)
    assert missing.returncode == 1 and "cannot read" in missing.stderr


async def test_cli_imports_tablets_with_the_same_report(database_url: str, tmp_path: Path
                                                        ) -> None:
    await org_tree()
    env = cli_env(database_url, tmp_path, FIELDOPS_DEFAULT_LOCALE="en")
    path = await write_csv(tmp_path, "devices.csv", (
        "asset_tag,serial,imei,model,purchase_date,org_code\n"
        "PAD00001,SN00000001,,Huawei MatePad,2025-03-01,Oa\n"
        "PAD00002,SN00000002,,Huawei MatePad,2025-03-01,NOWHERE\n"))
    result = await fieldops(env, "import", "devices", str(path), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "2/2" in result.stderr and "line 3:" in result.stdout
    assert "1 of 2 row(s) imported; 1 failed" in result.stdout
    assert await Device.filter(asset_tag="PAD00001").exists()
