"""Canvas and Moodle as their API documentation describes them, served on 127.0.0.1 for the
push tests: the calls the push makes, their answers (paging by Link headers, Canvas's 403
"Rate Limit Exceeded", Moodle's JSON exceptions), and faults to inject."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN = "s3cr3t-token-9f8e7d"


@dataclass
class Student:
    user: int
    sid: str
    email: str
    grade: float | None = None
    comments: list[str] = field(default_factory=list)


@dataclass
class Faults:
    rate_limited: int = 0  # the next N grading calls answer "slow down"
    fail_once: set[int] = field(default_factory=set)  # users whose first grading call fails with a 500
    calls: list[str] = field(default_factory=list)  # every call, as "METHOD path" or the web service function


def canvas(students: list[Student], faults: Faults, per_page: int = 2) -> Starlette:
    by_user = {s.user: s for s in students}
    base = "/api/v1/courses/42/assignments/7/submissions"

    def authorised(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def submissions(request: Request) -> Response:
        faults.calls.append("GET submissions")
        if not authorised(request):
            return JSONResponse({"errors": [{"message": "Invalid access token."}]}, status_code=401)
        page = int(request.query_params.get("page", "1"))
        size = min(int(request.query_params.get("per_page", "10")), per_page)  # Canvas caps per_page
        chunk = students[(page - 1) * size: page * size]
        body = [{"user_id": s.user, "score": s.grade, "grade": None if s.grade is None else f"{s.grade:g}",
                 "user": {"id": s.user, "sis_user_id": s.sid, "login_id": s.email},
                 "submission_comments": [{"comment": c} for c in s.comments]} for s in chunk]
        headers = {}
        if page * size < len(students):
            headers["Link"] = f'<{request.url.replace_query_params(page=page + 1, per_page=size)}>; rel="next"'
        return JSONResponse(body, headers=headers)

    async def grade(request: Request) -> Response:
        user = int(request.path_params["user"])
        faults.calls.append(f"PUT {user}")
        if not authorised(request):
            return JSONResponse({"errors": [{"message": "Invalid access token."}]}, status_code=401)
        if faults.rate_limited:
            faults.rate_limited -= 1
            return PlainTextResponse("403 Forbidden (Rate Limit Exceeded)", status_code=403,
                                     headers={"X-Rate-Limit-Remaining": "0", "Retry-After": "0.05"})
        if user in faults.fail_once:
            faults.fail_once.discard(user)
            return JSONResponse({"errors": [{"message": "An error occurred."}]}, status_code=500)
        if user not in by_user:
            return JSONResponse({"errors": [{"message": "The specified resource does not exist."}]}, status_code=404)
        form = await request.form()
        by_user[user].grade = float(form["submission[posted_grade]"])
        if "comment[text_comment]" in form:
            by_user[user].comments.append(str(form["comment[text_comment]"]))
        return JSONResponse({"user_id": user, "score": by_user[user].grade})

    return Starlette(routes=[Route(base, submissions), Route(base + "/{user}", grade, methods=["PUT"])])


def moodle(students: list[Student], faults: Faults) -> Starlette:
    by_user = {s.user: s for s in students}

    def error(code: str, message: str) -> JSONResponse:
        return JSONResponse({"exception": "moodle_exception", "errorcode": code, "message": message})

    async def server(request: Request) -> Response:
        form = await request.form()
        function = str(form.get("wsfunction"))
        faults.calls.append(function)
        if form.get("wstoken") != TOKEN:
            return error("invalidtoken", "Invalid token - token not found")
        if function == "core_enrol_get_enrolled_users":
            return JSONResponse([{"id": s.user, "idnumber": s.sid, "email": s.email, "fullname": "x"}
                                 for s in students])
        if function == "mod_assign_get_grades":
            return JSONResponse({"assignments": [{"assignmentid": int(form["assignmentids[0]"]), "grades": [
                {"userid": s.user, "grade": f"{s.grade:.5f}" if s.grade is not None else "-1.00000"}
                for s in students]}], "warnings": []})
        if function == "mod_assign_save_grade":
            user = int(form["userid"])
            if faults.fail_once and user in faults.fail_once:
                faults.fail_once.discard(user)
                return error("dmlwriteexception", "Error writing to database")
            if user not in by_user:
                return error("invaliduser", "Invalid user")
            assert form["plugindata[assignfeedbackcomments_editor][format]"] == "2"
            by_user[user].grade = float(form["grade"])
            by_user[user].comments = [str(form["plugindata[assignfeedbackcomments_editor][text]"])]
            return JSONResponse(None)
        return error("invalidrecord", f"Can't find data record in database table external_functions ({function})")

    return Starlette(routes=[Route("/webservice/rest/server.php", server, methods=["POST"])])


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, as a real server; its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
