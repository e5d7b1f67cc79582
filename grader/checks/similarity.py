"""Which submissions are one program under other names: fingerprints of the syntax tree.

A module's fingerprint is the set of hashes of every run of K consecutive syntax-tree node
types (pre-order), with docstrings dropped and mechanical disguise taken out first (identity
calls wrapped around values, `pass` after every line, `x += e` against `x = x + e`):
identifiers, comments, whitespace and literal values do not enter it, so renaming
everything leaves it unchanged, while independent
solutions in different styles (loops or vectorised, other helpers) share little of it.
Hashes are kept only when 0 mod KEEP (a deterministic sample that preserves the Jaccard
similarity on average), so a fingerprint stays a few hundred numbers in the result.

An AST of our own rather than a library such as copydetect: the lab is Python only, `ast`
normalises exactly what a renaming changes, it needs no dependency, and the fingerprint is
stable across processes (crc32, not Python's salted hash) so it can live in stored results.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator

import numpy as np

from grader.checks.static import parsed

K = 12  # node types per shingle: long enough that two short functions do not match by chance
KEEP = 2
MIN_HASHES = 30  # a module this small (a stub) cannot be told from another

NUMBER_DIGITS = 7  # significant digits two submissions' wrong gradients must share


def numbers_digest(grads: list[dict[str, np.ndarray]]) -> str:
    """A behavioural fingerprint: the gradients a backward returned at the grader's probe, to
    NUMBER_DIGITS significant digits per parameter, hashed. Renaming, reordering or rewriting
    the code cannot change it; equal digests of *wrong* gradients that no classic bug explains
    mean one bug, likely one source (flags: same_wrong_numbers)."""
    digest = hashlib.sha256()
    for g in grads:
        for name in sorted(g):
            values = np.asarray(g[name], dtype=np.float64).ravel()
            scale = float(np.abs(values).max()) if values.size else 0.0
            if not np.isfinite(scale) or scale == 0.0:
                digest.update(f"{name}:{scale!r};".encode())
                continue
            step = 10.0 ** (np.floor(np.log10(scale)) - NUMBER_DIGITS + 1)
            digest.update(name.encode() + np.round(values / step).astype(np.int64).tobytes())
    return digest.hexdigest()[:24]


def _docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _identity_names(tree: ast.AST) -> set[str]:
    """Functions that return their one argument unchanged (`def same(v): return v`,
    `same = lambda v: v`): wrapped around every value, they hide a copy's shape."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = [n for n in node.body if not _docstring(n)]
            args = node.args
            if (len(args.args) == 1 and not (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs)
                    and len(body) == 1 and isinstance(body[0], ast.Return)
                    and isinstance(body[0].value, ast.Name) and body[0].value.id == args.args[0].arg):
                names.add(node.name)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
              and isinstance(node.value, ast.Lambda) and len(node.value.args.args) == 1
              and isinstance(node.value.body, ast.Name) and node.value.body.id == node.value.args.args[0].arg):
            names.add(node.targets[0].id)
    return names


class _Normalise(ast.NodeTransformer):
    """What mechanical disguise adds, taken out before fingerprinting: identity calls around
    values (and their definitions), `pass` and bare names or constants as statements, and
    `x op= e` written as `x = x op e`."""

    def __init__(self, identities: set[str]) -> None:
        self.identities = identities

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name in self.identities and len(node.args) == 1 and not node.keywords:
            return node.args[0]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST | None:
        return None if node.name in self.identities else self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> ast.AST | None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id in self.identities:
            return None
        return self.generic_visit(node)

    def visit_Pass(self, node: ast.Pass) -> None:
        return None

    def visit_Expr(self, node: ast.Expr) -> ast.AST | None:
        if isinstance(node.value, ast.Name) or (isinstance(node.value, ast.Constant) and not _docstring(node)):
            return None
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        self.generic_visit(node)
        return ast.Assign(targets=[node.target], value=ast.BinOp(left=node.target, op=node.op, right=node.value))


def normalised(tree: ast.AST) -> ast.AST:
    """The tree with mechanical disguise taken out (_Normalise); the parsed tree is left as it is."""
    return _Normalise(_identity_names(tree)).visit(copy.deepcopy(tree))


def _types(node: ast.AST) -> Iterator[str]:
    """Node type names in pre-order, docstrings left out (contexts too: they follow the code)."""
    if _docstring(node) or isinstance(node, ast.expr_context):
        return
    yield type(node).__name__
    for child in ast.iter_child_nodes(node):
        yield from _types(child)


def fingerprint(source: str) -> list[int]:
    """The module's fingerprint (sorted), or [] when it does not parse."""
    tree = parsed(source)  # the tree the static scans already parsed
    if tree is None:
        return []
    try:
        tokens = list(_types(normalised(tree)))
    except RecursionError:  # parsed, but nested deeper than the walk can go
        return []
    hashes = {zlib.crc32(" ".join(tokens[i : i + K]).encode()) for i in range(max(len(tokens) - K + 1, 0))}
    return sorted(h for h in hashes if h % KEEP == 0)


def similarity(a: list[int] | set[int], b: list[int] | set[int]) -> float:
    """How much of the smaller fingerprint the other contains (so a copy padded with code of
    its own still shows); 0 when either is too small to say anything."""
    a, b = set(a), set(b)
    if min(len(a), len(b)) < MIN_HASHES:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def similar_pairs(fingerprints: dict[str, list[int]], threshold: float,
                  known: dict[str, list[int]] | None = None) -> list[tuple[str, str, float]]:
    """[(a, b, similarity)] at or above `threshold`, most similar first: every pair of the
    class, and each member against the `known` solutions (the reference among them).

    Not every pair is compared: a pair whose smaller fingerprint A shares at least
    threshold x |A| hashes with the other must share one of A's |A| - floor(threshold x |A|)
    + 1 rarest hashes (else the common ones fit in the rest of A, which is too small). So an
    inverted index over the hashes, probed with each fingerprint's rarest ones, finds every
    such pair, and only those candidates are compared: the same pairs as comparing all."""
    names = sorted(fingerprints)
    sets = {n: set(fingerprints[n]) for n in names}
    if threshold <= 0:  # every pair qualifies, even those that share nothing
        candidates = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    else:
        candidates = _candidates(sets, threshold)
    pairs = [(a, b, similarity(sets[a], sets[b])) for a, b in candidates]
    pairs += [(a, k, similarity(sets[a], v)) for a in names for k, v in (known or {}).items()]
    return sorted(((a, b, round(s, 4)) for a, b, s in pairs if s >= threshold), key=lambda p: (-p[2], p[0], p[1]))


def _candidates(sets: dict[str, set[int]], threshold: float) -> list[tuple[str, str]]:
    """The pairs (in name order) that may reach `threshold`: each found from its smaller
    member's rarest hashes in an index of every member's hashes."""
    eligible = {n: s for n, s in sets.items() if len(s) >= MIN_HASHES}  # the rest score 0
    frequency: Counter[int] = Counter(h for s in eligible.values() for h in s)
    index: dict[int, list[str]] = defaultdict(list)
    for name, hashes in eligible.items():
        for h in hashes:
            index[h].append(name)
    size = {n: (len(s), n) for n, s in eligible.items()}
    found: set[tuple[str, str]] = set()
    for name, hashes in eligible.items():
        need = max(1, math.floor(threshold * len(hashes)))  # at most the overlap a match needs
        rarest = sorted(hashes, key=lambda h: (frequency[h], h))[: len(hashes) - need + 1]
        for h in rarest:
            for other in index[h]:
                if size[other] > size[name]:
                    found.add((name, other) if name < other else (other, name))
    return sorted(found)
