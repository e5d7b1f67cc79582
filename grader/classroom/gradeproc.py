"""One submission graded in a process of its own: the batch's unit of work.

    python -m grader.classroom.gradeproc < request.json

The request names the submission, the settings, where to write the result, and the
isolation the batch found out (so that no grader process probes the machine again, and
every row is graded under the guarantees the batch checked). The result is the same
GradeResult JSON that every output is built from. A crash here costs one row.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from reference.spec import Settings


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    result: str
    settings: Settings
    isolation: dict[str, Any]


def main() -> int:
    from grader.checks.pipeline import grade
    from grader.safe_files import write_atomic
    from grader.sandbox import probe

    request = GradeRequest.model_validate_json(sys.stdin.buffer.read())
    probe.adopt(probe.Isolation.from_export(request.isolation))
    result = grade(Path(request.path), request.settings)
    write_atomic(Path(request.result), result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
