"""The grades CSV is safe for spreadsheets, and merging manual report scores reports every problem."""

import pandas as pd
import pytest

from grader.outputs.merge import MergeError, merge
from batching import record
from grader.outputs.table import CELL_MAX, CsvError, safe_cell, write_csv
from grader.results import CheckResult, GradeResult, SubmissionInfo
from grader.settings import Settings


def result(student_id, score, message="", status="graded"):
    return GradeResult(
        grader_version="t",
        settings_hash="h",
        submission=SubmissionInfo(source=f"{student_id}.zip", student_id=student_id, name="王小明"),
        status=status,
        message=message,
        checks=[CheckResult(name="train", status="passed", points=score, max_points=30)],
        accuracy_runs=[1.0, 0.99, 0.98],
        accuracy=0.99,
        score=score,
        max_score=30,
    )


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)", "\tx"])
def test_formula_cells_are_neutralised(text):
    assert safe_cell(text).startswith("'")


def test_cells_are_one_line_and_capped():
    cell = safe_cell("a\nb\r\n" + "x" * 5000)
    assert "\n" not in cell and "\r" not in cell and len(cell) == CELL_MAX
    assert safe_cell(3.5) == 3.5


def test_csv_has_one_row_per_submission_sorted_and_hostile_text_is_safe(tmp_path):
    settings = Settings()
    rows = [
        record(result("2", 30, "=cmd|' /C calc'!A0\nfake,row"), "b.zip", "s2", settings, []),
        record(result("1", 15), "a.zip", "s1", settings, ["duplicate"]),
    ]
    write_csv(rows, tmp_path / "grades.csv")
    text = (tmp_path / "grades.csv").read_text(encoding="utf-8")
    assert len(text.strip().splitlines()) == 3  # header + 2 rows, message newline escaped
    table = pd.read_csv(tmp_path / "grades.csv", dtype={"student_id": str})
    assert list(table["student_id"]) == ["1", "2"]
    assert table.loc[1, "message"].startswith("'=")
    assert table.loc[0, "flags"] == "duplicate"
    assert {"train_status", "train_points", "accuracy_run3", "report_bptt", "total"} <= set(table.columns)


def test_merge_totals_and_reports_every_problem(tmp_path):
    settings = Settings()
    rows = [record(result(i, s), f"{i}.zip", i, settings, []) for i, s in (("1", 30.0), ("2", 15.0), ("3", 0.0))]
    write_csv(rows, tmp_path / "grades.csv")
    (tmp_path / "manual.csv").write_text(
        "student_id,plot,data_generation,forward,bptt,code\n"
        "1,10,10,20,20,10\n"
        "2,5,x,25,10,\n"
        "9,1,1,1,1,1\n"
        "1,0,0,0,0,0\n",
        encoding="utf-8",
    )
    merged = merge(tmp_path / "grades.csv", tmp_path / "manual.csv", settings)
    table = merged.table
    totals = dict(zip(table["student_id"], table["total"]))
    assert totals == {"1": "100", "2": "", "3": ""}  # text, as every cell of final.csv; blank: not graded yet
    assert merged.not_graded == ["2", "3"] and list(table["max_total"]) == ["100"] * 3
    joined = "\n".join(merged.problems)
    assert "unknown student id '9'" in joined
    assert "report_data_generation = 'x' is not a number" in joined
    assert "report_forward = 25 is outside 0..20" in joined
    assert "student 1 appears again" in joined
    assert "report_code" not in joined  # a blank cell is not a problem, it is not graded yet


def test_merge_without_report_columns_is_a_clear_error(tmp_path):
    settings = Settings()
    write_csv([record(result("1", 30.0), "1.zip", "1", settings, [])], tmp_path / "grades.csv")
    (tmp_path / "manual.csv").write_text("student_id,grade\n1,5\n", encoding="utf-8")
    with pytest.raises(MergeError, match="no report columns"):
        merge(tmp_path / "grades.csv", tmp_path / "manual.csv", settings)


def test_csv_opens_in_a_spreadsheet_and_merge_survives_dropped_leading_zeros(tmp_path):
    """UTF-8 with a BOM (Excel then shows 王小明, not mojibake); an id Excel saved as 756001
    is still 0756001's, and a sheet of such ids merges, each noted."""
    settings = Settings()
    write_csv([record(result("0756001", 30.0), "a.zip", "s", settings, []),
               record(result("0810002", 20.0), "b.zip", "t", settings, [])], tmp_path / "grades.csv")
    raw = (tmp_path / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "王小明".encode() in raw
    (tmp_path / "manual.csv").write_text("student_id,plot,data_generation,forward,bptt,code\n"
                                        "756001,10,10,20,20,10\n810002,0,0,0,0,0\n", encoding="utf-8")
    merged = merge(tmp_path / "grades.csv", tmp_path / "manual.csv", settings)
    assert dict(zip(merged.table["student_id"], merged.table["total"])) == {"0756001": "100", "0810002": "20"}
    assert any("756001 read as 0756001" in p for p in merged.problems)
    assert not any("unknown" in p for p in merged.problems)


def test_merge_of_a_sheet_without_the_rubrics_columns_and_ids_as_text(tmp_path):
    """A grades.csv from before the rubric changed (no report columns) still merges; a platform
    id with a leading zero stays as it was written."""
    (tmp_path / "grades.csv").write_text("student_id,file,lms,lms_id,status,score,max_score,late_factor\n"
                                         "0751234,a.zip,canvas,0751234,graded,30,30,1.0\n", encoding="utf-8")
    (tmp_path / "manual.csv").write_text("student_id,plot,data_generation,forward,bptt,code\n0751234,5,0,0,0,0\n",
                                         encoding="utf-8")
    table = merge(tmp_path / "grades.csv", tmp_path / "manual.csv", Settings()).table
    assert (table.loc[0, "lms_id"], table.loc[0, "total"]) == ("0751234", "35")
    (tmp_path / "other.csv").write_text("id,x\n1,2\n", encoding="utf-8")
    with pytest.raises(MergeError, match="not a grades.csv"):
        merge(tmp_path / "other.csv", tmp_path / "manual.csv", Settings())


def test_invisible_and_line_separating_characters_never_reach_a_cell():
    """A zero-width space makes a name look like another; a line separator starts a line."""
    assert safe_cell("0756\u200b001\u2028=cmd") == "0756001\\n=cmd"
    assert safe_cell("\ufeffAmy\u200d Lin\u2066") == "Amy Lin"


@pytest.mark.parametrize("codec,sep,named", [("utf-8-sig", ",", "utf-8-sig"), ("utf-8", ",", "utf-8"),
                                             ("utf-16", "\t", "utf-16"), ("cp950", ",", "cp950")])
def test_a_sheet_saved_in_any_spreadsheet_encoding_merges_and_says_which(tmp_path, codec, sep, named):
    """Excel on a zh-TW Windows saves "CSV" as Big5 (cp950) and "Unicode text" as UTF-16 with tabs."""
    settings = Settings()
    write_csv([record(result(i, 30.0), f"{i}.zip", i, settings, []) for i in ("0756001", "0756002")],
              tmp_path / "grades.csv")
    lines = [["student_id", "name", "plot", "data_generation", "forward", "bptt", "code", "comments"],
             ["0756001", "王小明", "10", "10", "20", "20", "10", "圖很清楚"],
             ["0756002", "陳美玲", "5", "", "10", "10", "5", "BPTT 推導缺少 W 項"]]
    (tmp_path / "manual.csv").write_bytes(("\n".join(sep.join(line) for line in lines) + "\n").encode(codec))
    merged = merge(tmp_path / "grades.csv", tmp_path / "manual.csv", settings)
    assert merged.codec == named and merged.problems == []
    rows = {r["student_id"]: r for r in merged.table.to_dict("records")}
    assert (rows["0756001"]["total"], rows["0756001"]["report_total"]) == ("100", "70")
    assert rows["0756001"]["report_comments"] == "圖很清楚"
    assert (rows["0756002"]["total"], rows["0756002"]["report_data_generation"]) == ("", "")  # blank: not graded
    assert merged.not_graded == ["0756002"]


def test_a_sheet_in_no_text_encoding_is_refused_with_what_to_do(tmp_path):
    write_csv([record(result("1", 30.0), "1.zip", "1", Settings(), [])], tmp_path / "grades.csv")
    (tmp_path / "manual.csv").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CsvError, match="CSV UTF-8"):
        merge(tmp_path / "grades.csv", tmp_path / "manual.csv", Settings())


def test_merge_can_keep_a_published_higher_total(tmp_path, capsys):
    """A regrade (a fixed grader, new settings) never lowers what students were given: with
    --keep-higher, a student's earlier, higher total stays, and is named."""
    from grader.cli import EXIT_OK, main

    write_csv([record(result(i, s), f"{i}.zip", i, Settings(), []) for i, s in (("1", 20.0), ("2", 30.0), ("3", 5.0))],
              tmp_path / "grades.csv")
    (tmp_path / "manual.csv").write_text("student_id,plot,data_generation,forward,bptt,code\n"
                                         "1,10,10,20,20,10\n2,10,10,20,20,10\n3,,,,,\n", encoding="utf-8")
    (tmp_path / "earlier.csv").write_text("student_id,total\n1,95\n2,90\n3,50\n", encoding="utf-8")
    assert main(["merge", str(tmp_path / "grades.csv"), str(tmp_path / "manual.csv"),
                 "--keep-higher", str(tmp_path / "earlier.csv")]) == EXIT_OK
    assert "kept the higher earlier total of 1: 1" in capsys.readouterr().out
    final = pd.read_csv(tmp_path / "final.csv", dtype=str, keep_default_na=False)
    rows = {r["student_id"]: r for r in final.to_dict("records")}
    assert (rows["1"]["total"], rows["1"]["total_kept_from"]) == ("95", "earlier.csv")  # 90 now, 95 before
    assert (rows["2"]["total"], rows["2"]["total_kept_from"]) == ("100", "")
    assert rows["3"]["total"] == ""  # not graded yet stays blank, whatever was published
