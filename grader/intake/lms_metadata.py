"""The metadata a platform's export carries about its submissions (Gradescope's
`submission_metadata.yml`), read with a YAML parser that builds plain data only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Submitter:
    name: str | None
    sid: str | None
    email: str | None


@dataclass(frozen=True)
class SubmissionMetadata:
    submitters: list[Submitter] = field(default_factory=list)
    created_at: datetime | None = None


class _PlainLoader(yaml.SafeLoader):
    """SafeLoader that reads an application's tags (`!ruby/object:...`) as plain data
    instead of refusing the file: nothing is ever constructed but dicts, lists and scalars."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_PlainLoader.add_multi_constructor("!", _untagged)
# Numbers stay text: an unquoted id 0756001 is not the octal number YAML 1.1 would make of it.
_PlainLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _text(value: object) -> str | None:
    return None if value is None else str(value).strip() or None


def _get(mapping: dict, key: str) -> object:
    """Gradescope writes Ruby symbols: `:sid:` is the key ':sid' (or 'sid' in other exports)."""
    return mapping.get(f":{key}", mapping.get(key))


def gradescope_submitters(path: Path) -> dict[str, SubmissionMetadata]:
    """{"submission_<id>": its submitters and time}, or {} when there is no readable file."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8", errors="replace"), Loader=_PlainLoader)  # noqa: S506
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for key, record in data.items():
        if not isinstance(record, dict):
            continue
        people = _get(record, "submitters")
        submitters = [Submitter(_text(_get(p, "name")), _text(_get(p, "sid")), _text(_get(p, "email")))
                      for p in (people if isinstance(people, list) else []) if isinstance(p, dict)]
        created = _get(record, "created_at")
        if isinstance(created, str):
            try:
                created = datetime.fromisoformat(created.strip())
            except ValueError:
                created = None
        out[str(key)] = SubmissionMetadata(submitters, created if isinstance(created, datetime) else None)
    return out
