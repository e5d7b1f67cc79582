"""What is judged from the submission's source alone, before or beside running it: the
libraries it imports (the `policy` check) and the work it does when imported.

Each source is parsed once (`parsed`, cached) for every static check that reads it.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator

from grader.messages import Message

DISALLOWED = {
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
    "jaxlib": "JAX",
    "autograd": "autograd",
    "sklearn": "scikit-learn",
    "scipy": "SciPy",
    "keras": "Keras",
    "mxnet": "MXNet",
    "paddle": "PaddlePaddle",
    "theano": "Theano",
    "chainer": "Chainer",
    "cupy": "CuPy",
    "numba": "Numba",
    "tinygrad": "tinygrad",
    "micrograd": "micrograd",
    "reference": Message("the grader's reference RNN"),
    "grader": Message("the grader itself"),
}



@functools.lru_cache(maxsize=64)
def parsed(text: str) -> ast.Module | None:
    """A source's syntax tree, or None if it does not parse; parsed once for every static
    check that reads it (the import scan, suspicions.complex_arithmetic, the similarity
    fingerprint)."""
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None


def nodes(sources: dict[str, str]) -> Iterator[tuple[str, ast.AST]]:
    """(path, node) for every node of every source that parses: what the static scans walk."""
    for path, text in sources.items():
        tree = parsed(text)
        if tree is not None:
            for node in ast.walk(tree):
                yield path, node


def scan_imports(sources: dict[str, str]) -> dict[str, list[str]]:
    """Disallowed top-level packages imported anywhere in the sources (AST, even in try)."""
    found: dict[str, list[str]] = {}
    for path, node in nodes(sources):
        names = _imported(node)
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
            func = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            if func in ("__import__", "import_module") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names = [arg.value]
        for name in names:
            top = name.split(".")[0]
            if top in DISALLOWED:
                found.setdefault(top, []).append(f"{path}:{getattr(node, 'lineno', '?')}")
    return found


def _imported(node: ast.AST) -> list[str]:
    """The modules an import statement names (absolute imports only)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, the place for code that must not run at import."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) \
        and test.left.id == "__name__"


def _run_at_import(text: str) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported, in order: top level, and inside
    if/try/with blocks there, but never under `if __name__ == "__main__":`."""
    tree = parsed(text)
    todo = list(tree.body) if tree is not None else []
    while todo:
        node = todo.pop(0)
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)) and not _is_main_guard(node):
            todo[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]


def import_time_work(text: str) -> tuple[int, str] | None:
    """(line, code) of the first loop or bare call that runs when the module is imported
    (at top level, outside `if __name__ == "__main__":`): where training at import starts."""
    for node in _run_at_import(text):
        if isinstance(node, (ast.For, ast.While)) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
            return node.lineno, (ast.get_source_segment(text, node) or "").splitlines()[0][:80]
    return None


def import_advice(text: str) -> str:
    """Where the module's import-time work is, for a slow or timed-out import."""
    where = import_time_work(text)
    if where is None:
        return Message("does it train when imported? Put training under if __name__ == \"__main__\":")
    line, code = where
    return Message("line {line} (`{code}`) runs when the module is imported: move it under if __name__ == "
                   "\"__main__\":", line=line, code=code)


NOT_OFFERED = re.compile(r"No module named '([\w.]+)'")


def missing_module_advice(text: str, message: str) -> str | None:
    """For an import that failed on a library grading does not offer (matplotlib for the
    report's plot, most often): the line that imports it when the module is imported, and
    where to move it; None when the message is not that or no such line is found."""
    found = NOT_OFFERED.search(message)
    if found is None:
        return None
    top = found.group(1).split(".")[0]
    for node in _run_at_import(text):
        if any(name.split(".")[0] == top for name in _imported(node)):
            return Message("line {line} imports {module} when your module is imported, and grading offers only NumPy "
                           "and the standard library: move that import under if __name__ == \"__main__\": or into "
                           "the function that uses it (the plot for your report)", line=node.lineno, module=top)
    return None


def policy_message(found: dict[str, list[str]]) -> Message:
    """What the policy check says of the disallowed imports found (up to three places each)."""
    parts = [Message("{library} ({module}) imported at {where}", library=DISALLOWED[top], module=top,
                     where=", ".join(where[:3])) for top, where in found.items()]
    return Message("only NumPy and the standard library may be used: {parts}. Remove the import and write the math "
                   "with NumPy.", parts=Message.join("; ", parts))
