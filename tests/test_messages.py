"""Student-facing text as template and fields (grader/messages.py) and its zh-TW catalogue."""

from __future__ import annotations

import copy
import pickle
import string
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from grader.checks.outcome import ITERATION, iteration
from grader.messages import EXTRACT_KEYWORDS, LOCALE_DIRS, PLAIN, SEPARATORS, Message, catalogue, say
from grader.outputs.terminal import columns, wrap
from grader.results import CheckResult
from grader.settings import Settings, SettingsError, validated

GRADER = Path(__file__).resolve().parents[1] / "grader"


def _specs(template: str) -> list[tuple[str, str, str | None]]:
    """The fields a template formats, each with its format spec and conversion, in order."""
    return sorted((name, spec or "", conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None)


def _code_msgids() -> set[str]:
    """Every template the code gives Message(...) or say(lang, ...), as Babel's extractor finds them."""
    found = set()
    for _, _, msgid, _, _ in extract_from_dir(str(GRADER), keywords=EXTRACT_KEYWORDS):
        found.add(msgid if isinstance(msgid, str) else msgid[0])
    return found


@pytest.fixture(scope="module")
def po() -> dict[str, str]:
    read = read_po((GRADER / "locale" / "zh_TW" / "LC_MESSAGES" / "grader.po").open("rb"), locale="zh_TW")
    return {m.id: m.string for m in read if m.id}


def test_the_catalogue_translates_every_template_of_the_code_and_nothing_else(po: dict[str, str]) -> None:
    code = _code_msgids() | set(SEPARATORS)
    assert len(code) > 300  # the extractor found the code's templates (a wrong keyword would find none)
    untranslated = sorted(m for m in code if not po.get(m))
    assert not untranslated, f"translate these in grader/locale/zh_TW (see the README): {untranslated}"
    obsolete = sorted(set(po) - code)
    assert not obsolete, f"no code says these any more; drop them from the catalogue: {obsolete}"


def test_every_translation_formats_the_same_fields_the_same_way(po: dict[str, str]) -> None:
    differ = {msgid: text for msgid, text in po.items() if _specs(msgid) != _specs(text)}
    assert not differ, f"a translation must keep its template's fields and their formats: {differ}"
    for msgid, text in po.items():
        values = {name: (1.5 if spec and spec[-1] in "efg%" else 2 if spec else "x") for name, spec, _ in
                  _specs(msgid)}
        assert msgid.format(**values) and text.format(**values) is not None


def test_the_catalogue_is_the_one_babel_reads_for_the_language() -> None:
    assert set(LOCALE_DIRS) == {"zh-TW"}
    assert len(catalogue("zh-TW")) > 300 and catalogue("en") == {}


def test_a_message_is_its_english_text_and_remembers_its_template() -> None:
    template = "{name} has shape {got}; the contract wants {role} = {want}{hint}"
    m = Message(template, name="U", got=(2, 16), role="(hidden, input)", want=(16, 2),
                hint=Message(": row-vector layout? transpose it"))
    assert m == "U has shape (2, 16); the contract wants (hidden, input) = (16, 2): row-vector layout? transpose it"
    assert m.ref.template == template and m.ref.templates() == [template, ": row-vector layout? transpose it"]
    assert m.ref.render("zh-TW") == "U 的形狀是 (2, 16)；介面約定要求 (hidden, input) = (16, 2)：是否用了列向量的排法？請轉置"


def test_numbers_keep_their_format_in_both_languages() -> None:
    m = Message("forward(x) changed by {diff:.2e} after another call: state is carried between calls. "
                "Start every forward from h_(-1) = 0", diff=np.float64(3.14159e-5))
    assert "3.14e-05" in m and "3.14e-05" in m.ref.render("zh-TW")
    assert m.ref.fields["diff"] == pytest.approx(3.14159e-5) and type(m.ref.fields["diff"]) is float


def test_joins_and_concatenation_keep_every_part() -> None:
    parts = [Message("RNN has no method {method}()", method="forward"), Message("missing {keys}", keys="b")]
    joined = Message.join("; ", parts) + Message(". Likely: {bug}", bug="a student's own words")
    assert joined == "RNN has no method forward(); missing b. Likely: a student's own words"
    zh = joined.ref.render("zh-TW")
    assert zh == "RNN 沒有方法 forward()；缺少 b。可能的原因：a student's own words"


def test_plain_text_stays_as_it_is_in_every_language() -> None:
    m = Message("imported in {seconds:.2f} s", seconds=0.5) + ": ValueError: shapes (8,) and (2,) not aligned"
    assert m.ref.render("zh-TW") == "匯入花了 0.50 秒: ValueError: shapes (8,) and (2,) not aligned"
    assert PLAIN not in m.ref.templates()


def test_a_field_cannot_carry_characters_that_reorder_or_hide_text() -> None:
    m = Message("graded module: {module}", module="evil\u202eyp.nnr\u200b.py")
    assert "\u202e" not in m and "\u200b" not in m
    assert "\u202e" not in m.ref.render("zh-TW") and "\u200b" not in m.ref.render("zh-TW")


def test_a_field_is_data_not_a_template() -> None:
    m = Message("graded module: {module}", module="{__class__} {0} {x:.2f}")
    assert m == "graded module: {__class__} {0} {x:.2f}"
    assert m.ref.render("zh-TW") == "評分的模組：{__class__} {0} {x:.2f}"


def test_a_result_keeps_the_structure_through_json_and_assignment() -> None:
    c = CheckResult(name="api", status="failed", message=Message("RNN has no method {method}()", method="update"))
    back = CheckResult.model_validate_json(c.model_dump_json())
    assert back.in_lang(back.message, "zh-TW") == "RNN 沒有方法 update()"
    back.message = Message("missing {keys}", keys="W")
    assert back.in_lang(back.message, "zh-TW") == "缺少 W"
    plain = CheckResult(name="api", status="failed", message="written before messages had structure")
    assert plain.in_lang(plain.message, "zh-TW") == "written before messages had structure"


def test_pickling_and_copying_keep_the_structure() -> None:
    m = Message("{file} is {what}, not a zip", file="a{b}.zip", what=Message("a RAR archive"))
    for again in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert again == m and again.ref == m.ref and again.ref.render("zh-TW") == "a{b}.zip 是一個 RAR 壓縮檔，不是 zip"


def test_an_audited_iteration_can_be_replaced_in_any_language() -> None:
    m = Message("at {it}: {why}", it=iteration(4321), why=Message("training failed"))
    hidden = m.ref.replaced(ITERATION, Message("an audited iteration").ref)
    assert "4321" in m.ref.render("zh-TW")
    for lang in ("en", "zh-TW"):
        assert "4321" not in hidden.render(lang)
    assert hidden.render("zh-TW") == "在某次受稽核的迭代：訓練失敗"


def test_say_renders_the_renderers_own_words() -> None:
    assert say("zh-TW", "score: {score:g} / {max:g}", score=12.5, max=30) == "分數：12.5 / 30"
    assert say("en", "score: {score:g} / {max:g}", score=12.5, max=30) == "score: 12.5 / 30"


def test_the_language_is_a_setting_that_regrades_nothing() -> None:
    for spelled in ("zh-TW", "zh_TW", "ZH-tw"):
        assert validated({"lang": spelled}, "test").lang == "zh-TW"
    assert validated({"lang": "zh-TW"}, "test").digest() == Settings().digest()
    with pytest.raises(SettingsError, match="lang"):
        validated({"lang": "klingon"}, "test")


@given(st.text(alphabet=st.sampled_from("ab 分數通過，。x"), max_size=200), st.integers(12, 60))
def test_wrapped_lines_fit_the_columns_a_terminal_shows(text: str, width: int) -> None:
    lines = wrap(text, width, "  ")
    assert all(columns(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_a_translation_that_does_not_fit_its_fields_falls_back_to_english(monkeypatch: pytest.MonkeyPatch) -> None:
    """A catalogue edited by hand (a field renamed) must not fail a student's report."""
    from grader import messages

    monkeypatch.setattr(messages, "catalogue", lambda lang: {"missing {keys}": "缺少 {key}"} if lang != "en" else {})
    assert Message("missing {keys}", keys="W").ref.render("zh-TW") == "missing W"
