"""The shape of every reply header the grader reads from the sandboxed worker.

The worker shares its process with the submission, so a header may say anything: a
`modules` list holding None, a `done` count that is a list. Each op's header is validated
here, where it is received (session.py), strictly (no coercion); what does not fit is the
submission's failure with a plain message, never a traceback in the grader.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Short = Annotated[str, Field(max_length=2000)]


class _Reply(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class ImportReply(_Reply):
    seconds: float = Field(ge=0)
    modules: list[Short] = Field(max_length=5000)
    has_RNN: bool
    module_name: Short


class MethodInfo(_Reply):
    present: bool
    params: list[Short] = Field(default_factory=list, max_length=64)


class AttrInfo(_Reply):
    type: Short
    dtype: Short | None = None
    shape: list[int] | None = Field(None, max_length=32)


class ConstructReply(_Reply):
    methods: dict[Literal["forward", "backward", "update"], MethodInfo]
    attrs: dict[Short, AttrInfo] = Field(max_length=64)


class BadValues(_Reply):
    bad_return: Short | None = None
    bad: dict[Short, Short] = Field(default_factory=dict, max_length=64)


class BackwardReply(BadValues):
    keys: list[Short] = Field(default_factory=list, max_length=64)


class Record(_Reply):
    params: int = Field(ge=0)
    grads: int = Field(ge=0)


class TrainReply(_Reply):
    done: int = Field(ge=0)
    record: Record | None = None  # rows written to the shared memory instead of the frame
    seconds: float = Field(0.0, ge=0)
    stage: Short | None = None
    error: dict | None = None  # checked field by field where it is described
    bad_return: Short | None = None
    bad_params: dict[Short, Short] | None = None


class ModulesReply(_Reply):
    modules: list[Short] = Field(max_length=5000)


class GradientsReply(BadValues):
    done: int = Field(ge=0)


SCHEMAS: dict[str, type[_Reply]] = {
    "import": ImportReply,
    "construct": ConstructReply,
    "forward": BadValues,
    "forward_params": BadValues,
    "backward": BackwardReply,
    "get_params": BadValues,
    "train": TrainReply,
    "modules": ModulesReply,
    "gradients": GradientsReply,
}


def malformed(op: str, header: dict) -> str | None:
    """None if `header` fits the reply of `op` (ops without a schema carry nothing read),
    else which field does not, in a few words."""
    schema = SCHEMAS.get(op)
    if schema is None:
        return None
    try:
        schema.model_validate(header)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the header"
        return f"{where}: {first['msg']}"[:200]
    return None
