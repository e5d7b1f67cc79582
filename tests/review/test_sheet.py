"""`bptt-grader sheet` and `merge` from the command line: the sheet a spreadsheet grader
fills in, and what merge says of it."""

from __future__ import annotations

import csv
from pathlib import Path

from test_app import write_out

from grader.cli import EXIT_OK, EXIT_USAGE, main


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_the_sheet_lists_every_gradable_student_with_their_report_and_merges(tmp_path: Path, capsys) -> None:
    out = write_out(tmp_path / "out")
    assert main(["sheet", str(out)]) == EXIT_OK
    said = capsys.readouterr().out
    assert "3 students; fill in plot (0-10), data_generation (0-10), forward (0-20), bptt (0-20), code (0-10)" in said
    assert "not on the sheet: d.zip: no student id" in said
    sheet = rows(out / "sheet.csv")
    assert [(r["student_id"], r["report"], r["plot"]) for r in sheet] == [
        ("0756001", "reports/0756001.pdf", ""), ("0756002", "reports/0756002.html", ""), ("0756003", "", "")]
    assert main(["sheet", str(out)]) == EXIT_USAGE  # never over a sheet someone may have filled in
    assert "exists" in capsys.readouterr().err
    # a TA fills in one student, saves as Big5 (Excel on a zh-TW Windows), merges
    sheet[0].update(plot="10", data_generation="10", forward="20", bptt="20", code="9", comments="很好")
    with open(out / "sheet.csv", "w", encoding="cp950", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    assert main(["merge", str(out / "grades.csv"), str(out / "sheet.csv")]) == EXIT_OK
    said = capsys.readouterr().out
    assert "read " in said and "as cp950" in said
    assert "not graded yet (a blank report cell; their total is left blank): 3: 0756002, 0756003, d.zip" in said
    final = {r["student_id"]: r for r in rows(out / "final.csv")}
    assert (final["0756001"]["total"], final["0756001"]["max_total"]) == ("99", "100")
    assert final["0756001"]["report_comments"] == "很好" and final["0756002"]["total"] == ""


def test_sheet_and_review_need_a_batch_output(tmp_path: Path, capsys) -> None:
    for command in ("sheet", "review"):
        assert main([command, str(tmp_path)]) == EXIT_USAGE
        assert "no grades.csv in it; run bptt-grader batch first" in capsys.readouterr().err


def test_an_unreadable_batch_settings_file_is_refused_not_replaced_by_the_handouts_rubric(tmp_path: Path,
                                                                                          capsys) -> None:
    out = write_out(tmp_path / "out")
    (out / "settings.toml").write_text("[report]\nplot = 'ten'\n", encoding="utf-8")
    for command in ("sheet", "review"):
        assert main([command, str(out)]) == EXIT_USAGE
        said = capsys.readouterr().err
        assert "settings.toml" in said and "--settings FILE" in said, said
    assert not (out / "sheet.csv").exists()
