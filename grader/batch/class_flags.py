"""What only the class as a whole shows, as flags on its rows: identical files
(`duplicate`), one student id on several rows (`shared_id`), one program under other names
(`similar:<partner>`), one bug no classic mistake explains giving the same wrong gradients
(`same_wrong_numbers:<partner>`), and a download where most rows failed the same way
(`layout?`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from importlib import resources
from pathlib import Path

import pandas as pd

from grader.batch.roster import comparable
from grader.batch.rows import Row
from grader.checks.similarity import fingerprint, similar_pairs
from grader.outputs.table import write_safe_csv
from reference import rnn as reference_rnn

REFERENCE = Path(reference_rnn.__file__)
KNOWN = Path(__file__).resolve().parents[1] / "checks" / "known_solutions"  # public solutions, written out
NOTHING_FOUND = ("no_module", "no_code", "not_found")
LAYOUT_SHARE = 0.5  # more than this share of rows failing the same way (and at least
LAYOUT_ROWS = 3  # this many) before the download itself is suspected


def flag_duplicates(rows: list[Row]) -> None:
    """`duplicate`: the file or graded module is byte-identical to another upload's;
    `shared_id`: another row carries the same student id (a classmate's id in a file name, or
    two uploads of one student), so whose grade it is needs a person."""
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        if row.upload is not None:
            groups["duplicate", "file:" + row.upload.sha256].append(row)
        if row.result.submission.module_sha256:
            groups["duplicate", "module:" + row.result.submission.module_sha256].append(row)
        if row.who.student_id:
            groups["shared_id", comparable(row.who.student_id)].append(row)
    for (flag, _), members in groups.items():
        if len({m.file for m in members} if flag == "duplicate" else members) > 1:
            for row in members:
                row.flag(flag)  # type: ignore[arg-type]


def template_hashes() -> set[int]:
    """The student template's fingerprint: code every student was given (the skeleton, the
    training loop under __main__), which two solutions share without copying each other."""
    return set(fingerprint(resources.files("student_template").joinpath("rnn.py").read_text(encoding="utf-8")))


def _partners(names: list[str]) -> str:
    """A flag's detail: the first partner, and how many more (`0756002+2`)."""
    return names[0] + (f"+{len(names) - 1}" if len(names) > 1 else "")


def flag_similar(rows: list[Row], csv: Path, threshold: float, earlier: dict[str, list[int]] | None = None) -> None:
    """Pairs of graded modules that are one program under other names (or a copy of the
    reference), written to `csv` for a person to look at; each row gets `similar:<closest
    partner>` (`+N` more partners in the CSV). What the template gave everyone is left out;
    `earlier` holds archived classes' fingerprints (archive.py), compared as the known ones."""
    by_file = {row.file: row for row in rows if row.upload is not None}
    given = template_hashes()
    prints = {f: [h for h in r.result.submission.fingerprint if h not in given]
              for f, r in by_file.items() if r.result.submission.fingerprint}
    known = {"reference": fingerprint(REFERENCE.read_text(encoding="utf-8"))}
    known.update({f"known:{p.stem}": fingerprint(p.read_text(encoding="utf-8"))
                  for p in sorted(KNOWN.glob("*.py")) if p.name != "__init__.py"})
    known.update(earlier or {})
    pairs = similar_pairs(prints, threshold, {k: [h for h in v if h not in given] for k, v in known.items()})

    def who(file: str) -> str:
        row = by_file.get(file)
        return (row.who.student_id or file) if row else file

    partners: dict[str, list[str]] = defaultdict(list)  # most similar first
    for a, b, _ in pairs:
        partners[a].append(who(b))
        if b in by_file:
            partners[b].append(who(a))
    for file, names in partners.items():
        by_file[file].flag("similar", _partners(names))
    table = pd.DataFrame([{"file_a": a, "student_a": who(a), "file_b": b, "student_b": who(b), "similarity": s}
                          for a, b, s in pairs], columns=["file_a", "student_a", "file_b", "student_b", "similarity"])
    write_safe_csv(table, csv)


def flag_same_wrong_numbers(rows: list[Row], earlier: dict[str, str] | None = None) -> None:
    """`same_wrong_numbers:<partner>`: the submission's backward returned the same wrong
    gradients as another's at the grader's probe, to 7 digits, and no classic bug explains them
    (contract.gradient_reference's `wrong_numbers`). Renaming, reordering or rewriting code
    cannot hide it; a right answer, or a classic bug many make alike, is never counted.
    `earlier`: digests of archived classes graded at the same probe, with their student."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        if row.upload is not None and (digest := row.result.wrong_numbers) is not None:
            groups[digest].append(row)
    for digest, members in groups.items():
        before = [earlier[digest]] if earlier and digest in earlier else []
        if len(members) + len(before) < 2:
            continue
        for row in members:
            row.flag("same_wrong_numbers", _partners([m.who.student_id or m.file for m in members if m is not row]
                                                     + before))


def layout_warning(rows: list[Row]) -> str | None:
    """One line where most rows found nothing to grade in the same way: likely the download
    was read in the wrong layout (or the wrong folder was given), not a class of zeros. Those
    rows are flagged `layout?`."""
    counts = Counter(r.result.status for r in rows if r.result.status in NOTHING_FOUND)
    if not counts:
        return None
    status, n = counts.most_common(1)[0]
    if n < LAYOUT_ROWS or n <= LAYOUT_SHARE * len(rows):
        return None
    for row in rows:
        if row.result.status == status:
            row.flag("layout?")
    return (f"{n} of {len(rows)} rows are {status}: the download may have been read the wrong way; "
            "check the layout line above and the rows' messages before publishing these grades")
