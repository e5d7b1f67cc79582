"""Turning a student's notebook into an importable `rnn.py`, by reading it (never running it).

Importing the module must not train anything, so only code that defines things is kept:
imports, `def`, `class`, assignments of constants (literals, arithmetic, and calls to
NumPy, `math` and harmless builtins), `if __name__ == "__main__":` blocks, and `if`/`try`
blocks made of those. A top-level expression that calls something (training, plotting,
`print`), a loop, a `with` block or a file read is left out, as is a cell that does not
parse. Lines starting with `%` or `!` (IPython magics and shell commands) are dropped.

The decision is made per top-level statement and reported per cell: a cell is kept, left
out, or partly kept (its definitions kept, the statements that run something left out),
since notebooks often define the class and try it in the same cell. A kept statement
that needs a name only a left-out statement defines is left out too (it would fail
at import).
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass, field

from grader.messages import Message

SAFE_BUILTINS = {
    "int", "float", "complex", "str", "bool", "bytes", "tuple", "list", "dict", "set",
    "frozenset", "range", "len", "abs", "min", "max", "pow", "round", "sum", "sorted",
    "reversed", "enumerate", "zip", "map", "filter", "any", "all", "isinstance", "issubclass",
    "getattr", "hasattr", "type", "object", "property", "staticmethod", "classmethod", "ord",
    "chr", "divmod", "slice", "repr", "format", "hash", "iter", "bin", "hex", "oct",
    "TypeVar", "namedtuple", "NamedTuple", "dataclass", "field", "partial",
}  # fmt: skip
SAFE_MODULES = {
    "numpy", "math", "typing", "collections", "functools", "itertools", "dataclasses",
    "string", "re", "enum", "operator", "fractions", "decimal", "abc", "types",
}  # fmt: skip
UNSAFE_NUMPY = {
    "load", "loadtxt", "genfromtxt", "fromfile", "save", "savez", "savez_compressed",
    "savetxt", "memmap", "tofile", "fromregex", "DataSource", "seed",
}  # fmt: skip
NOTEBOOK_ONLY_MODULES = {
    "matplotlib", "seaborn", "plotly", "IPython", "google", "ipywidgets", "tqdm", "pylab",
}  # fmt: skip
PLOT_NAMES = {"plt", "sns", "matplotlib", "pylab", "px", "go"}
PLOT_ATTRS = {"plot", "show", "imshow", "savefig", "figure", "subplot", "subplots", "scatter"}
READ_NAMES = {"open", "load", "loadtxt", "genfromtxt", "fromfile", "read_csv", "read_pickle",
              "read_json", "read_excel"}  # fmt: skip
HARMLESS_NAMES = set(dir(builtins)) | {
    "__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__",
    "__package__", "__annotations__",
}  # fmt: skip


class NotebookError(ValueError):
    """The notebook cannot be read (not JSON, or not notebook-shaped)."""


@dataclass
class CellReport:
    number: int  # 1-based among code cells
    kept: list[str] = field(default_factory=list)  # what was kept, e.g. "class RNN"
    left_out: list[str] = field(default_factory=list)  # reasons, e.g. "trains: train()"

    @property
    def status(self) -> str:
        if not self.left_out:
            return "kept"
        return "partly kept" if self.kept else "left out"


@dataclass
class Conversion:
    source: str  # the text of rnn.py
    cells: list[CellReport]
    defines_rnn: bool  # a top-level `class RNN` is among the kept code

    def summary(self, notebook: str) -> Message:
        """One line: 'converted from notebook x.ipynb: kept code cells 1, 2; left out 3 (...)'."""
        kept = [str(c.number) for c in self.cells if c.status == "kept" and c.kept]
        empty = [c for c in self.cells if not c.kept and not c.left_out]
        partly = [c for c in self.cells if c.status == "partly kept"]
        out = [c for c in self.cells if c.status == "left out"]

        def why(c: CellReport) -> Message:
            groups: dict[str, list[str]] = {}
            for reason in c.left_out:
                kind, _, detail = reason.partition(": ")
                details = groups.setdefault(kind, [])
                if detail and detail not in details:
                    details.append(detail)
            parts = [
                _kind(kind) + (": " + ", ".join(d[:3]) + (", ..." if len(d) > 3 else "") if d else "")
                for kind, d in groups.items()
            ]
            return Message("{cell} ({reasons})", cell=c.number, reasons=Message.join("; ", parts))

        text = Message("converted from notebook {notebook}: kept code cells {cells}", notebook=notebook,
                       cells=", ".join(kept) or Message("none"))
        if partly:
            text += Message("; partly kept {cells}", cells=Message.join(", ", [why(c) for c in partly]))
        if out:
            text += Message("; left out {cells}", cells=Message.join(", ", [why(c) for c in out]))
        if empty:
            text += Message("; skipped {cells} (empty or only % and ! lines)",
                            cells=", ".join(str(c.number) for c in empty))
        return text


# Why a cell was left out (the kind of CellReport.left_out's `kind: detail`), for the student.
KINDS = {
    "trains": Message("trains"), "plots": Message("plots"), "reads files": Message("reads files"),
    "prints": Message("prints"), "notebook/plotting import": Message("notebook/plotting import"),
    "calls a function at top level": Message("calls a function at top level"),
    "awaits or yields at top level": Message("awaits or yields at top level"),
    "shows a value": Message("shows a value"), "runs a loop": Message("runs a loop"),
    "has a with-block": Message("has a with-block"),
}
STATEMENT = re.compile(r"runs a (\w+) statement")
CALL = re.compile(r"calls (\S+\(\))")


def _kind(kind: str) -> Message:
    """A reason's kind in words a catalogue translates (what a call or statement names stays)."""
    if kind in KINDS:
        return KINDS[kind]
    if statement := STATEMENT.fullmatch(kind):
        return Message("runs a {statement} statement", statement=statement.group(1))
    if call := CALL.fullmatch(kind):
        return Message("calls {call}", call=call.group(1))
    return Message.join("", [kind])


def code_cells(text: str) -> list[str]:
    """The sources of the code cells of a notebook (nbformat 3 or 4), in order."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise NotebookError(Message("it is not valid JSON ({error})", error=str(e)[:80])) from None
    if not isinstance(data, dict):
        raise NotebookError(Message("it is not a Jupyter notebook (no cells)"))
    cells = data.get("cells")
    if cells is None and isinstance(data.get("worksheets"), list):  # nbformat 3
        cells = [
            c for ws in data["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])
        ]
    if not isinstance(cells, list):
        raise NotebookError(Message("it is not a Jupyter notebook (no cells)"))
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        out.append(src if isinstance(src, str) else "")
    return out


MAGIC = re.compile(r"^(\s*)[%!]")


def strip_magics(source: str) -> str:
    """Lines starting with % or ! are dropped: blank at top level, `pass` when indented.

    Line numbers stay as they were, so SyntaxError positions match the notebook cell.
    """
    out = []
    for line in source.splitlines():
        m = MAGIC.match(line)
        out.append(line if not m else (m.group(1) + "pass" if m.group(1) else ""))
    return "\n".join(out)


# --------------------------------------------------------------------------- classification


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Judge:
    """Decides, statement by statement, whether importing it would run something."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {"np": "numpy"}

    def note_imports(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for a in stmt.names:
                self.aliases[a.asname or a.name.split(".")[0]] = (
                    a.name.split(".")[0] if not a.asname else a.name
                )
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            for a in stmt.names:
                self.aliases[a.asname or a.name] = f"{stmt.module}.{a.name}"

    def _call_ok(self, call: ast.Call) -> str | None:
        """None when the call is harmless at import, else the reason it is not."""
        name = _dotted(call.func)
        if name is None:
            return "calls a function at top level"
        head, _, rest = name.partition(".")
        full = self.aliases.get(head, head) + ("." + rest if rest else "")
        root = full.split(".")[0]
        last = name.split(".")[-1]
        if not rest and head in SAFE_BUILTINS and head not in self.aliases:
            return None
        if root in SAFE_MODULES and last not in UNSAFE_NUMPY:
            return None
        return _call_reason(name, full)

    def expr_problem(self, node: ast.AST | None) -> str | None:
        """Why evaluating `node` at import would run something, or None."""
        if node is None:
            return None
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, ast.Lambda):
                stack.extend(n.args.defaults + [d for d in n.args.kw_defaults if d])
                continue
            if isinstance(n, ast.Call):
                problem = self._call_ok(n)
                if problem:
                    return problem
            if isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom)):
                return "awaits or yields at top level"
            stack.extend(ast.iter_child_nodes(n))
        return None

    def problem(self, stmt: ast.stmt) -> str | None:
        """None when `stmt` only defines things; else a short reason ("trains: train()")."""
        if isinstance(stmt, ast.Import):
            bad = [a.name for a in stmt.names if a.name.split(".")[0] in NOTEBOOK_ONLY_MODULES]
            return f"notebook/plotting import: {bad[0]}" if bad else None
        if isinstance(stmt, ast.ImportFrom):
            top = (stmt.module or "").split(".")[0]
            return (
                f"notebook/plotting import: {stmt.module}" if top in NOTEBOOK_ONLY_MODULES else None
            )
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return None
        if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            return self.expr_problem(stmt.value)
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return None  # a docstring or a stray literal
            if isinstance(stmt.value, ast.Call):
                name = _dotted(stmt.value.func) or "a function"
                full = self.aliases.get(name.split(".")[0], name.split(".")[0])
                return _call_reason(name, full + name[len(name.split(".")[0]) :])
            return "shows a value"
        if isinstance(stmt, ast.If):
            if _is_main_guard(stmt.test):
                return None
            return self.expr_problem(stmt.test) or self._block(stmt.body + stmt.orelse)
        if isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            handlers = [s for h in stmt.handlers for s in h.body]  # type: ignore[attr-defined]
            return self._block(stmt.body + handlers + stmt.orelse + stmt.finalbody)  # type: ignore[attr-defined]
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            return "runs a loop"
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            return "has a with-block"
        if isinstance(stmt, ast.Pass):
            return None
        return f"runs a {type(stmt).__name__.lower()} statement"

    def _block(self, stmts: list[ast.stmt]) -> str | None:
        for s in stmts:
            self.note_imports(s)
            p = self.problem(s)
            if p:
                return p
        return None


def _call_reason(name: str, full: str) -> str:
    low = name.lower()
    parts = full.split(".")
    last = parts[-1]
    if "train" in low or last in ("fit", "learn", "run", "main"):
        return f"trains: {name}()"
    if (
        parts[0] in ("matplotlib", "seaborn", "plotly", "pylab")
        or name.split(".")[0] in PLOT_NAMES
        or last in PLOT_ATTRS
    ):
        return f"plots: {name}()"
    if last in READ_NAMES or last.startswith("read_"):
        return f"reads files: {name}()"
    if name == "print":
        return "prints"
    return f"calls {name}()"


def _is_main_guard(test: ast.expr) -> bool:
    if not (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
    ):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


# --------------------------------------------------------------------------- names


def _bound(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module namespace (approximate)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in stmt.names}
    if isinstance(stmt, ast.ImportFrom):
        return {a.asname or a.name for a in stmt.names if a.name != "*"}
    out: set[str] = set()
    stack: list[ast.AST] = [stmt]
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
            continue
        if isinstance(n, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out |= _bound(n)  # type: ignore[arg-type]
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        stack.extend(ast.iter_child_nodes(n))
    return out


def _needed(stmt: ast.stmt) -> set[str]:
    """Names a statement reads when the module is imported (function bodies excluded)."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return set()
    if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
        return set()
    roots: list[ast.AST] = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = stmt.args
        roots += stmt.decorator_list + a.defaults + [d for d in a.kw_defaults if d]
    elif isinstance(stmt, ast.ClassDef):
        roots += stmt.decorator_list + stmt.bases + [k.value for k in stmt.keywords]
        inner: set[str] = set()
        for s in stmt.body:
            inner_needs = _needed(s) - inner
            roots_names = inner_needs
            inner |= _bound(s)
            for name in roots_names:
                roots.append(ast.Name(id=name, ctx=ast.Load()))
    else:
        roots.append(stmt)
    loads: set[str] = set()
    local: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not stmt:
            loads |= _needed(n)
            continue
        if isinstance(n, ast.Lambda):
            stack.extend(n.args.defaults + [d for d in n.args.kw_defaults if d])
            continue
        if isinstance(n, ast.comprehension):
            local |= {t.id for t in ast.walk(n.target) if isinstance(t, ast.Name)}
        if isinstance(n, ast.Name):
            (loads if isinstance(n.ctx, ast.Load) else local).add(n.id)
        stack.extend(ast.iter_child_nodes(n))
    return loads - local


# --------------------------------------------------------------------------- conversion


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    return "\n".join(lines[start - 1 : stmt.end_lineno])


def _label(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.ClassDef):
        return f"class {stmt.name}"
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return f"def {stmt.name}"
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(stmt, ast.If) and _is_main_guard(stmt.test):
        return "__main__ block"
    return "assignment" if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else "block"


def convert(text: str, notebook: str = "the notebook") -> Conversion:
    """The notebook's definitions as the source of a module. Raises NotebookError."""
    judge = _Judge()
    defined = set(HARMLESS_NAMES)
    star = False
    reports: list[CellReport] = []
    chunks: list[str] = []
    defines_rnn = False
    for number, raw in enumerate(code_cells(text), start=1):
        report = CellReport(number)
        reports.append(report)
        source = strip_magics(raw)
        if not source.strip():
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            line = getattr(e, "lineno", None)
            report.left_out.append(f"does not parse{f' (line {line})' if line else ''}")
            continue
        lines = source.splitlines()
        kept_here: list[ast.stmt] = []
        for stmt in tree.body:
            judge.note_imports(stmt)
            problem = judge.problem(stmt)
            if problem is None and not star:
                missing = sorted(_needed(stmt) - defined)
                if missing:
                    problem = f"uses {', '.join(missing[:3])} from left-out code"
            if problem:
                report.left_out.append(problem)
                continue
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                star = True
            defined |= _bound(stmt)
            kept_here.append(stmt)
            report.kept.append(_label(stmt))
            if isinstance(stmt, ast.ClassDef) and stmt.name == "RNN":
                defines_rnn = True
        if not kept_here:
            continue
        if not report.left_out:
            body = "\n".join(lines)
        else:
            body = "\n\n".join(_segment(lines, s) for s in kept_here)
        state = "" if not report.left_out else " (partly)"
        chunks.append(f"# --- code cell {number}{state} ---\n{body.rstrip()}\n")
    header = (
        f"# rnn.py written by the grader from {notebook.replace(chr(10), ' ')}:\n"
        "# only the code that defines things; cells that train, plot or read files are left out.\n"
    )
    conversion = Conversion(header + "\n" + "\n\n".join(chunks), reports, defines_rnn)
    return conversion
