"""`bptt-grader review OUT`: the TAs' grading of the report in a browser, as an ASGI app.

Bound to 127.0.0.1 it answers only requests addressed to this machine (a Host check against
DNS rebinding); on another address it asks for the token it printed (once, in the address;
then a cookie). A save must be JSON with the app's own header, which a page of another site
cannot send without a preflight this app never grants. Files are served by the student's
key, never by a path from the request.
"""

from __future__ import annotations

import hmac
import threading
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from grader.outputs.sheet import sheet_columns
from grader.outputs.table import write_safe_csv
from grader.review import pages
from grader.review.db import Conflict, Grade, ReviewDB
from grader.review.hints import pdf_hints
from grader.review.klass import Klass, Student

STATIC = Path(__file__).parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; frame-src 'self'; "
       "object-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
COMMENT_MAX = 2000
COOKIE = "review_token"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class Change(BaseModel):
    """A save from the page: the version it was made on and the fields that changed."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0)
    ta: str = Field("", max_length=80)
    points: dict[str, float | None] = {}
    comments: dict[str, str] = {}


class UnknownStudent(LookupError):
    """A key that names no gradable student of this class."""


class TokenGate:
    """Every request carries the token: in the address once (then a cookie), or the cookie."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), self.token.encode()):
            response: Response = RedirectResponse(request.url.path, status_code=303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
        elif hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self.token.encode()):
            await self.app(scope, receive, send)
            return
        else:
            response = PlainTextResponse("open the address with ?token=... that `bptt-grader review` printed",
                                         status_code=401)
        await response(scope, receive, send)


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _inside(out: Path, relative: str, folder: str) -> Path | None:
    """OUT/<relative> if it is a regular file inside OUT/<folder> (grades.csv names it)."""
    if not relative:
        return None
    path = (out / relative).resolve()
    base = (out / folder).resolve()
    return path if path.is_relative_to(base) and path.is_file() and not (out / relative).is_symlink() else None


def manual_table(klass: Klass, grades: dict[str, Grade]) -> pd.DataFrame:
    """OUT/manual.csv: the sheet's columns, a line per gradable student, blank where not graded."""
    criteria = klass.settings.report.criteria
    records = []
    for s in klass.students:
        g = grades.get(s.key, Grade(s.key))
        record: dict[str, object] = {"student_id": s.key, "name": s.name, "section": s.section, "report": s.report}
        record.update({c.name: f"{g.points[c.name]:g}" if c.name in g.points else "" for c in criteria})
        record["comments"] = " | ".join(f"{c.name}: {g.comments[c.name]}" for c in criteria if g.comments.get(c.name))
        record.update(graded_by=g.ta, updated=g.updated)
        records.append(record)
    return pd.DataFrame(records, columns=[*sheet_columns(klass.settings), "graded_by", "updated"])


def create_app(klass: Klass, token: str | None = None, allowed_hosts: tuple[str, ...] = LOCAL_HOSTS) -> Starlette:
    out = klass.out
    db = ReviewDB(out / "review.sqlite")
    writing = threading.Lock()  # manual.csv is rewritten from the database, one writer at a time

    def write_manual() -> None:
        with writing:
            write_safe_csv(manual_table(klass, db.all()), out / "manual.csv")

    def student_of(request: Request) -> Student:
        student = klass.find(request.path_params["key"])
        if student is None:
            raise UnknownStudent(request.path_params["key"])
        return student

    def hints_of(s: Student) -> dict | None:
        path = _inside(out, s.report, "reports")
        if path is None or path.suffix.lower() != ".pdf":
            return None
        stat = path.stat()
        key = f"{s.report}:{stat.st_size}:{stat.st_mtime_ns}"
        found = db.hint(key)
        if found is None:
            found = pdf_hints(path, klass.settings.report.criteria)
            db.keep_hint(key, found)
        return found

    def class_page(request: Request) -> Response:
        return _secured(HTMLResponse(pages.class_page(klass, db.all())))

    def student_page(request: Request) -> Response:
        s = student_of(request)
        has_curve = curve_of(s) is not None
        return _secured(HTMLResponse(pages.student_page(klass, s, db.get(s.key), hints_of(s), has_curve)))

    def next_to_grade(request: Request) -> Response:
        """The next student after `after` (wrapping round) whose report is not fully graded."""
        keys = [s.key for s in klass.students]
        after = request.query_params.get("after")
        start = keys.index(after) + 1 if after in keys else 0
        grades = db.all()
        for key in keys[start:] + keys[:start]:
            if not pages.complete(grades.get(key, Grade(key)), klass):
                return RedirectResponse("/student/" + quote(key, safe=""), status_code=303)
        return RedirectResponse("/", status_code=303)

    def get_grade(request: Request) -> Response:
        return JSONResponse(db.get(student_of(request).key).as_json())

    async def put_grade(request: Request) -> Response:
        s = student_of(request)
        if request.headers.get("x-review") != "1" or "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse({"error": "a save is JSON sent by the review page"}, status_code=400)
        try:
            change = Change.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"error": str(exc.errors()[0]["msg"])}, status_code=422)
        if problem := _problem(change, klass):
            return JSONResponse({"error": problem}, status_code=422)
        saved = db.save(s.key, change.version, change.ta.strip(), change.points, change.comments)
        if isinstance(saved, Conflict):
            return JSONResponse({"error": f"{saved.current.ta or 'someone'} saved this student at "
                                 f"{saved.current.updated} since you opened the page", "current": saved.current.as_json()},
                                status_code=409)
        write_manual()
        return JSONResponse(saved.as_json())

    def report(request: Request) -> Response:
        s = student_of(request)
        path = _inside(out, s.report, "reports")
        if path is None:
            return PlainTextResponse("no report for this student", status_code=404)
        with open(path, "rb") as f:
            is_pdf = f.read(5) == b"%PDF-"
        if is_pdf and path.suffix.lower() == ".pdf":  # the browser's own PDF viewer
            return _secured(FileResponse(path, media_type="application/pdf", content_disposition_type="inline",
                                         filename=f"{s.key}.pdf"))
        return _secured(FileResponse(path, media_type="application/octet-stream",
                                     filename=f"{s.key}{path.suffix.lower()}"))

    def curve_of(s: Student) -> Path | None:
        return _inside(out, s.feedback_page.removesuffix(".md") + ".png", "feedback")

    def curve(request: Request) -> Response:
        path = curve_of(student_of(request))
        if path is None:
            return PlainTextResponse("no learning curves for this student", status_code=404)
        return _secured(FileResponse(path, media_type="image/png"))

    def feedback(request: Request) -> Response:
        s = student_of(request)
        path = _inside(out, s.feedback_page, "feedback")
        if path is None:
            return PlainTextResponse("no feedback page for this student", status_code=404)
        return _secured(PlainTextResponse(path.read_text(encoding="utf-8", errors="replace")))

    def manual(request: Request) -> Response:
        write_manual()
        return _secured(FileResponse(out / "manual.csv", media_type="text/csv", filename="manual.csv"))

    async def not_found(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("no such student in this class", status_code=404)

    write_manual()
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))]
    if token:
        middleware.append(Middleware(TokenGate, token=token))
    return Starlette(
        routes=[
            Route("/", class_page), Route("/next", next_to_grade),
            Route("/student/{key:str}", student_page), Route("/api/grades/{key:str}", get_grade, methods=["GET"]),
            Route("/api/grades/{key:str}", put_grade, methods=["PUT"]), Route("/report/{key:str}", report),
            Route("/curve/{key:str}", curve), Route("/feedback/{key:str}", feedback), Route("/manual.csv", manual),
            Mount("/static", StaticFiles(directory=STATIC)),
        ],
        middleware=middleware,
        exception_handlers={UnknownStudent: not_found},
    )


def _problem(change: Change, klass: Klass) -> str | None:
    """Why a change cannot be saved: an unknown criterion, points outside 0..max, a long comment."""
    criteria = {c.name: c for c in klass.settings.report.criteria}
    for name in [*change.points, *change.comments]:
        if name not in criteria:
            return f"{name!r} is not a criterion of the rubric"
    for name, value in change.points.items():
        if value is not None and (why := criteria[name].refuses(value)):
            return f"{name}: {why}"
    for name, text in change.comments.items():
        if len(text) > COMMENT_MAX:
            return f"{name}: the comment is longer than {COMMENT_MAX} characters"
    return None
