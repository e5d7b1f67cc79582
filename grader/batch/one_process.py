"""One submission graded in a grader process of its own: the batch's unit of work.

    python -m grader.batch.one_process < request.json

The request names the submission, the settings, where to write the result, and the
isolation the batch found out (so that no grader process probes the machine again, and
every row is graded under the guarantees the batch checked). The result is the same
GradeResult JSON that every output is built from. A crash, a hang or a kill of that
process costs that submission's row (`grader_error`, `timeout`), never the batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from grader.messages import Message
from grader.results import GradeResult
from grader.safe_files import open_fresh, read_regular
from grader.sandbox.probe import Isolation
from grader.settings import Settings

# One core per grader process: -j N then means N busy cores, not N x BLAS threads. Without
# the malloc setting a Dask nanny gives its workers (MALLOC_TRIM_THRESHOLD_=65536): a grader
# process frees and takes back megabytes every training chunk, and with it each one went back
# to the system and was faulted in again (a grading 6% slower, measured).
ENV = {**{k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"},
       "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
LOG_TAIL = 300
MARGIN_SECONDS = 60.0  # grader start-up and reporting on top of the submission's time limit


class GradeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path_bytes: str  # the path's bytes in hex: a name that is not UTF-8 cannot travel as JSON text
    result: str
    settings: Settings
    isolation: dict[str, Any]


def grade_in_process(path: Path, settings: Settings, isolation: Isolation, log: Path) -> GradeResult:
    """Grade the submission at `path` in a fresh grader process (this module's `main`)."""
    timeout = settings.limits.total_seconds + MARGIN_SECONDS
    with tempfile.TemporaryDirectory(prefix="bptt-batch-") as tmp:
        out = Path(tmp) / "result.json"
        request = GradeRequest(path_bytes=os.fsencode(path).hex(), result=str(out), settings=settings,
                               isolation=isolation.export())
        started = time.perf_counter()
        fd = open_fresh(log)
        try:
            proc = subprocess.run([sys.executable, "-m", "grader.batch.one_process"],
                                  input=request.model_dump_json().encode(), stdout=fd, stderr=subprocess.STDOUT,
                                  env=ENV, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return GradeResult.ungraded("timeout", Message("grading took longer than {seconds:g} s", seconds=timeout),
                                        settings.digest(), str(path))
        finally:
            os.close(fd)
        data = read_regular(out)
        try:
            result = GradeResult.model_validate_json(data or b"")
        except ValueError:
            tail = (read_regular(log) or b"")[-LOG_TAIL:].decode("utf-8", "replace").strip()
            return GradeResult.ungraded("grader_error", Message("the grader exited with code {code} and no result: "
                                                                "{error}", code=proc.returncode, error=tail),
                                        settings.digest(), str(path))
        result.timings["process"] = round(time.perf_counter() - started, 4)
        return result


def main() -> int:
    from grader.checks.pipeline import grade
    from grader.safe_files import write_atomic
    from grader.sandbox import probe

    request = GradeRequest.model_validate_json(sys.stdin.buffer.read())
    probe.adopt(probe.Isolation.from_export(request.isolation))
    result = grade(Path(os.fsdecode(bytes.fromhex(request.path_bytes))), request.settings)
    write_atomic(Path(request.result), result.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
