"""Similarity: a renamed copy of the reference or of a classmate is flagged, independent
solutions written in other styles are not."""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings as hsettings, strategies as st

from grader.checks.similarity import fingerprint, similar_pairs, similarity
from batching import batch
from grader.batch.run import SIMILAR_ABOVE
from grader.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "submissions"
REFERENCE = (ROOT / "reference" / "rnn.py").read_text()
BCE = (CORPUS / "correct_bce.py").read_text()
VECTORISED = (ROOT / "tests" / "hostile" / "escape" / "_correct.py").read_text()
PER_STEP = (ROOT / "bench" / "naive_rnn.py").read_text()
NUMPY_NAMES = set(dir(np))


class _Rename(ast.NodeTransformer):
    """Every identifier of the program's own (not NumPy's) gets a new name, comments go
    (ast.unparse), float literals change: what a student hiding a copy would do."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        return name if name in NUMPY_NAMES or name in ("np", "self") else self.names.setdefault(name, f"q{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.new(node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.new(node.name)
        self.generic_visit(node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.Attribute:
        self.generic_visit(node)
        node.attr = self.new(node.attr)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, float):
            node.value = node.value * 1.5
        return node


def renamed(source: str) -> str:
    return ast.unparse(_Rename().visit(ast.parse(source)))


def test_renamed_copies_are_found_and_independent_styles_are_not():
    ref, bce = fingerprint(REFERENCE), fingerprint(BCE)
    assert "def forward" in BCE and "def forward" not in renamed(BCE) and "self.W" not in renamed(BCE)
    assert similarity(ref, fingerprint(renamed(REFERENCE))) >= 0.95
    assert similarity(bce, fingerprint(renamed(BCE))) >= 0.95
    assert similarity(bce, fingerprint(BCE + "\n\ndef helper(a, b):\n    return [a * i + b for i in range(9)]\n")) >= 0.9
    independent = [REFERENCE, BCE, VECTORISED, PER_STEP]
    for i, a in enumerate(independent):
        for b in independent[i + 1:]:
            assert similarity(fingerprint(a), fingerprint(b)) < SIMILAR_ABOVE / 2


class _Disguise(ast.NodeTransformer):
    """The red team's mechanical disguise: an identity call around every assigned value,
    `pass` after every statement, `x += e` spelt `x = x + e`."""

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        self.generic_visit(node)
        node.value = ast.Call(func=ast.Name(id="keep", ctx=ast.Load()), args=[node.value], keywords=[])
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.Assign:
        self.generic_visit(node)
        load = ast.Name(id=node.target.id, ctx=ast.Load()) if isinstance(node.target, ast.Name) else node.target
        return ast.Assign(targets=[node.target], value=ast.BinOp(left=load, op=node.op, right=node.value))

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                setattr(node, field, [s for stmt in body for s in (stmt, ast.Pass())])
        return node


def disguised(source: str) -> str:
    tree = _Disguise().visit(_Rename().visit(ast.parse(source)))
    tree.body.insert(0, ast.parse("def keep(value):\n    return value\n").body[0])
    return ast.unparse(ast.fix_missing_locations(tree))


def test_mechanical_disguise_does_not_hide_a_copy():
    for source in (BCE, REFERENCE, PER_STEP):
        hidden = disguised(source)
        assert hidden.count("keep(") > 10 and hidden.count("pass") > 10
        assert similarity(fingerprint(source), fingerprint(hidden)) >= 0.9


def test_pairs_are_sorted_and_compared_with_the_known_solutions():
    prints = {"a.zip": fingerprint(BCE), "b.zip": fingerprint(renamed(BCE)), "c.zip": fingerprint(VECTORISED),
              "d.zip": fingerprint(renamed(REFERENCE)), "stub.zip": fingerprint("class RNN:\n    pass\n")}
    pairs = similar_pairs(prints, SIMILAR_ABOVE, {"reference": fingerprint(REFERENCE)})
    assert [(a, b) for a, b, _ in pairs] == [("a.zip", "b.zip"), ("d.zip", "reference")]


def test_batch_writes_similarity_csv_and_flags_the_partners(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    blog = (ROOT / "grader" / "checks" / "known_solutions" / "blog_post.py").read_text()
    for sid, source in (("310551101", BCE), ("310551102", renamed(BCE)), ("310551103", VECTORISED + "\nRNN = Correct\n"),
                        ("310551104", renamed(REFERENCE)), ("310551105", renamed(blog))):
        with zipfile.ZipFile(klass / f"DLP_LAB4_{sid}_S.zip", "w") as z:
            z.writestr(f"DLP_LAB4_{sid}_S/rnn.py", source)
    out = tmp_path / "out"
    short = Settings().with_overrides(runs=1, iterations=300, accuracy_window=100, audits_per_run=20)
    batch(klass, out, short)
    pairs = pd.read_csv(out / "similarity.csv", dtype={"student_a": str, "student_b": str})
    assert sorted(zip(pairs["student_a"], pairs["student_b"])) == [
        ("310551101", "310551102"), ("310551104", "reference"), ("310551105", "known:blog_post")]
    table = pd.read_csv(out / "grades.csv", dtype={"student_id": str}).set_index("student_id")
    assert "similar:310551102" in table.loc["310551101", "flags"]
    assert "similar:reference" in table.loc["310551104", "flags"]
    assert "similar:known:blog_post" in table.loc["310551105", "flags"]
    assert "similar" not in str(table.loc["310551103", "flags"])


def all_pairs(fingerprints: dict[str, list[int]], threshold: float) -> list[tuple[str, str, float]]:
    """What similar_pairs found before it had an index: every pair compared."""
    names = sorted(fingerprints)
    pairs = [(a, b, similarity(fingerprints[a], fingerprints[b])) for i, a in enumerate(names) for b in names[i + 1:]]
    return sorted(((a, b, round(s, 4)) for a, b, s in pairs if s >= threshold), key=lambda p: (-p[2], p[0], p[1]))


@given(st.data())
@hsettings(max_examples=60, deadline=None)
def test_the_index_finds_exactly_the_pairs_comparing_every_pair_finds(data) -> None:
    """Generated classes: a template everyone shares part of, independent solutions, copies
    with some hashes changed, stubs too small to judge; thresholds around the flag's."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    template = rng.choice(1 << 30, size=60, replace=False)
    prints: dict[str, list[int]] = {}
    for i in range(data.draw(st.integers(2, 40))):
        own = rng.choice(1 << 30, size=int(rng.integers(5, 200)), replace=False)
        shared = template[: int(rng.integers(0, 60))]
        prints[f"s{i}"] = sorted(set(own.tolist()) | set(shared.tolist()))
        if rng.random() < 0.3:  # a copy, partly changed
            kept = [h for h in prints[f"s{i}"] if rng.random() < rng.uniform(0.3, 1.0)]
            prints[f"c{i}"] = sorted(set(kept) | set(rng.choice(1 << 30, size=int(rng.integers(0, 50))).tolist()))
    threshold = data.draw(st.sampled_from([0.0, 0.2, 0.5, 0.5001, 0.8, 1.0]))
    assert similar_pairs(prints, threshold) == all_pairs(prints, threshold)


def test_the_index_finds_the_example_class_s_pairs_as_every_pair_does() -> None:
    prints = {z.name: fingerprint(zipfile.ZipFile(z).read(next(n for n in zipfile.ZipFile(z).namelist()
                                                               if n.endswith(".py"))).decode("utf-8", "replace"))
              for z in sorted((ROOT / "examples" / "class").glob("*.zip"))}
    for threshold in (0.1, 0.3, SIMILAR_ABOVE):
        assert similar_pairs(prints, threshold) == all_pairs(prints, threshold)


def _in_template(model: str, helpers: dict[str, str]) -> str:
    """The student template filled in: its RNN class replaced by `model`, each helper's body by
    the student's own; its docstrings, constants and training loop kept, as students keep them."""
    import re

    template = (ROOT / "student_template" / "rnn.py").read_text(encoding="utf-8")
    head, _, rest = template.partition("class RNN:")
    tail = rest[rest.index("# -----") :].partition("\n")[2]
    for name, body in helpers.items():
        head = re.sub(rf"(def {name}\(.*?\n)(.*?)(?=\n\n\ndef |\n\n\n# )", lambda m: m.group(1) + body, head,
                      count=1, flags=re.S)
    return f"{head}{model}\n\n{tail}"


def test_what_the_template_gave_everyone_is_not_counted():
    from grader.batch.class_flags import template_hashes

    bce_model = BCE[BCE.index("PARAMS = "):BCE.index("\n\ndef make_sample")]
    vectorised_model = VECTORISED[VECTORISED.index("class Correct"):].replace("class Correct", "class RNN")
    one = _in_template(bce_model, {
        "int_to_bits": "    return np.array([(n >> t) & 1 for t in range(bits)], dtype=np.float64)\n",
        "bits_to_int": "    return int(sum(2**t for t, v in enumerate(bits) if v >= 0.5))\n"})
    other = _in_template(vectorised_model, {
        "int_to_bits": "    out = np.zeros(bits)\n    for t in range(bits):\n        out[t] = n % 2\n        n //= 2\n"
                       "    return out\n",
        "bits_to_int": "    total = 0\n    for t, v in enumerate(bits):\n        if v >= 0.5:\n            total += 1 << t\n"
                       "    return total\n"})
    given = template_hashes()
    a, b = set(fingerprint(one)), set(fingerprint(other))
    assert "for iteration in range(1, 20001)" in one and "for iteration in range(1, 20001)" in other
    assert similarity(a - given, b - given) < similarity(a, b) / 2  # the shared skeleton, no longer evidence
    assert similarity(a - given, b - given) < SIMILAR_ABOVE / 4
