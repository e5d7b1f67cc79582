"""Every message a student can read, in Traditional Chinese: the corpus's and the intake's.

A message is translated when each template it is built from is in the catalogue and none of
its plain-text fields is an English sentence from the grader: only the student's own text
(an exception's message, a line of their code) and file names may stay as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

import zipfactory as zf
from batching import row_of
from corpus import CORPUS, SHORT
from grader import messages
from grader.checks.pipeline import grade
from grader.intake.submission import SubmissionError, open_submission
from grader.messages import MessageRef, Says, catalogue
from grader.outputs.feedback import student_markdown
from grader.outputs.gradescope_results import results_json
from grader.outputs.html_report import student_html
from grader.outputs.plots import ReferenceCurve, learning_curve_figure
from grader.outputs.terminal import terminal
from grader.results import GradeResult

# Fields that hold what the student's code or files said (shown as they are in any language).
VERBATIM = {"error", "problem"}
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")  # three English words in a row


def untranslated(ref: MessageRef) -> list[str]:
    """What of a message would show in English in zh-TW: templates the catalogue lacks, and
    English sentences in plain-text fields that are not the student's own."""
    known = catalogue("zh-TW")
    missing = [t for t in ref.templates() if t not in known]
    prose = [f"{k}={v!r}" for k, v in ref.text_fields().items() if k not in VERBATIM and ENGLISH.search(v)]
    return missing + prose


def texts(result: GradeResult) -> list[tuple[Says, str]]:
    """Every text of a result a student can read, with the model that keeps its structure."""
    found: list[tuple[Says, str]] = [(c, c.message) for c in result.checks if c.message]
    found += [(result, result.message)] if result.message else []
    found += [(result.submission, note) for note in result.submission.notes]
    return found + [(run, run.error) for run in result.runs if run.error]


def test_every_message_of_the_corpus_reads_in_traditional_chinese(graded: dict[str, GradeResult]) -> None:
    problems = {}
    for name, result in graded.items():
        for model, text in texts(result):
            ref = model.said.get(text)
            if ref is None:
                problems[f"{name}: {text[:80]}"] = ["no structure: built outside grader/messages.py"]
            elif wrong := untranslated(ref):
                problems[f"{name}: {text[:80]}"] = wrong
    assert len(graded) > 40 and not problems, json.dumps(problems, ensure_ascii=False, indent=1)


def test_every_view_a_student_reads_is_in_the_language_asked(graded: dict[str, GradeResult],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal report, the feedback file, the student's page and Gradescope's results in
    zh-TW render no template the catalogue lacks (one the extractor missed, in an f-string, would
    be) and hold no check's English message; in English they are unchanged."""
    untranslated_templates: set[str] = set()
    translate = messages.translate

    def recording(template: str, lang: str) -> str:
        if lang != "en" and template not in catalogue(lang) and template not in ("", messages.PLAIN):
            untranslated_templates.add(template)
        return translate(template, lang)

    monkeypatch.setattr(messages, "translate", recording)
    for name, result in graded.items():
        english = {c.message for c in result.checks if len(c.message) > 30}
        views = {"terminal": terminal(result, width=100, lang="zh-TW"),
                 "markdown": student_markdown(row_of(result), None, "zh-TW"),
                 "html": student_html(row_of(result), None, "zh-TW"),
                 "gradescope": json.dumps(results_json(result, lang="zh-TW"), ensure_ascii=False)}
        for view, text in views.items():
            left = [m for m in english if m in text or m.replace('"', "&quot;") in text]
            assert not left, f"{name}: {view} shows English: {left[:2]}"
            assert "分數" in text or view == "gradescope", f"{name}: {view} has no Chinese headline"
        assert terminal(result, width=100) == terminal(result, width=100, lang="en")
        assert "score:" in terminal(result, width=100) and "分數" not in terminal(result, width=100)
    for result in [r for r in graded.values() if r.runs][:3]:  # the learning curves' figure too (a few: slow)
        plt.close(learning_curve_figure(result, ReferenceCurve(100, [0.5] * 10), "zh-TW"))
    assert not untranslated_templates, f"rendered in zh-TW without a translation: {untranslated_templates}"


def test_gradescope_hides_the_audited_iterations_in_chinese_too(graded: dict[str, GradeResult]) -> None:
    result = graded["forgery_zero_grads_jump.py"]
    integrity = result.check("integrity")
    assert integrity is not None and integrity.status == "failed"
    number = re.search(r"iteration (\d+)", integrity.message).group(1)
    for lang in ("en", "zh-TW"):
        shown = results_json(result, lang=lang)
        visible = [t for t in shown["tests"] if t["visibility"] != "after_due_date"]
        assert not any(number in str(t["output"]) for t in visible), lang
        assert number not in shown["output"], lang
        later = [t for t in shown["tests"] if t["visibility"] == "after_due_date"]
        assert len(later) == 1 and number in later[0]["output"], lang
    assert "某次受稽核的迭代" in json.dumps(results_json(result, lang="zh-TW"), ensure_ascii=False)


@pytest.mark.parametrize("case", sorted(zf.CASES))
def test_every_intake_message_reads_in_traditional_chinese(tmp_path: Path, case: str) -> None:
    build, _ = zf.CASES[case]
    (tmp_path / "in").mkdir()
    path = build(tmp_path / "in")
    try:
        submission = open_submission(path, tmp_path / "work")
    except SubmissionError as exc:
        said = [exc.message]
    else:
        said = [*submission.notes, submission.naming_note] if submission.naming_note else list(submission.notes)
        said = [submission.message_of(text) for text in said]
    for text in said:
        ref = getattr(text, "ref", None)
        assert ref is not None, f"{case}: {text!r} was built outside grader/messages.py"
        assert not untranslated(ref), f"{case}: {untranslated(ref)}"


def test_a_process_that_ends_itself_is_told_in_chinese(tmp_path: Path) -> None:
    """The sandbox's own words (how the child ended) are Messages too, not English in a field."""
    module = tmp_path / "rnn.py"  # a correct RNN whose forward ends its own process
    module.write_text((CORPUS / "correct_bce.py").read_text(encoding="utf-8")
                      + "\n\nimport os\n\nRNN.forward = lambda self, x: os._exit(0)\n", encoding="utf-8")
    check = grade(module, SHORT).check("forward_shape")
    assert check is not None and check.status == "failed" and "exit code 0" in check.message, check
    ref = check.said[check.message]
    assert not untranslated(ref) and "結束代碼 0" in ref.render("zh-TW"), ref.render("zh-TW")


def test_what_the_sandbox_worker_refuses_in_training_is_named_in_chinese() -> None:
    """The worker's own kinds of error (a parameter or a return value it refuses) are the
    grader's words, translated; the exception a student's code raised stays its own."""
    from grader.checks.training import _describe_error

    refused = _describe_error({"op": "update", "kind": "bad parameter", "message": "U is list"})
    assert refused == "RNN.update raised bad parameter: U is list"
    assert refused.ref.render("zh-TW") == "RNN.update：拋出 不合格的參數：U is list"
    raised = _describe_error({"op": "forward", "kind": "ValueError", "message": "shapes differ"})
    assert raised.ref.render("zh-TW") == "RNN.forward：拋出 ValueError：shapes differ"
