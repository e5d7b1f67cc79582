"""What the push needs of an LMS, and the two it speaks: Canvas (the Submissions API) and
Moodle (web services). Each call is as the platform documents it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from grader.push.http import Client, LMSError


@dataclass(frozen=True)
class Person:
    """A student as the LMS knows them: its user id, and what the grades can match."""

    user: str
    student_id: str = ""
    email: str = ""


@dataclass(frozen=True)
class Held:
    """What the LMS holds for one student: the grade and the comments it shows."""

    grade: float | None = None
    comments: tuple[str, ...] = field(default_factory=tuple)


class LMS(Protocol):
    name: str

    def snapshot(self) -> tuple[list[Person], dict[str, Held]]:
        """Who is in the course, and what the LMS holds for each (one read where it can)."""
        ...

    def held(self) -> dict[str, Held]: ...

    def send(self, user: str, grade: float, comment: str | None) -> None: ...


def _number(value: object) -> float | None:
    try:
        return None if value in (None, "") else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class Canvas:
    """Canvas: GET .../submissions (paged by Link headers) for what it holds, PUT
    .../submissions/:user_id with submission[posted_grade] and comment[text_comment]."""

    name = "canvas"

    def __init__(self, client: Client, course: str, assignment: str) -> None:
        self.client = client
        self.path = f"/api/v1/courses/{course}/assignments/{assignment}/submissions"

    def _pages(self) -> list[dict]:
        found: list[dict] = []
        url: str | None = f"{self.path}?per_page=100&include[]=user&include[]=submission_comments"
        while url:
            response = self.client.request("GET", url)
            page = response.json()
            if not isinstance(page, list):
                raise LMSError(f"GET {self.path}: not a list of submissions")
            found += page
            url = response.links.get("next", {}).get("url")
        return found

    def snapshot(self) -> tuple[list[Person], dict[str, Held]]:
        pages = self._pages()  # each submission names its user: one paged read gives both
        return [self._person(s) for s in pages], self._held(pages)

    def held(self) -> dict[str, Held]:
        return self._held(self._pages())

    @staticmethod
    def _person(submission: dict) -> Person:
        user = submission.get("user") or {}
        return Person(str(submission["user_id"]), str(user.get("sis_user_id") or ""),
                      str(user.get("login_id") or user.get("email") or ""))

    @staticmethod
    def _held(pages: list[dict]) -> dict[str, Held]:
        return {str(s["user_id"]): Held(_number(s.get("score")),
                                        tuple(str(c.get("comment", "")) for c in s.get("submission_comments") or ()))
                for s in pages}

    def send(self, user: str, grade: float, comment: str | None) -> None:
        data = {"submission[posted_grade]": f"{grade:g}"}
        if comment is not None:
            data["comment[text_comment]"] = comment
        self.client.request("PUT", f"{self.path}/{user}", data=data)


class Moodle:
    """Moodle web services (REST, JSON): core_enrol_get_enrolled_users for who is in the
    course, mod_assign_get_grades for what it holds, mod_assign_save_grade to grade one
    student with a plain-text feedback comment. An error is JSON with `exception`."""

    name = "moodle"
    FORMAT_PLAIN = 2

    def __init__(self, client: Client, token: str, course: str, assignment: str) -> None:
        self.client, self.token, self.course, self.assignment = client, token, course, assignment

    def _call(self, function: str, **params: object) -> object:
        data = {"wstoken": self.token, "wsfunction": function, "moodlewsrestformat": "json",
                **{k: str(v) for k, v in params.items()}}
        answer = self.client.request("POST", "/webservice/rest/server.php", data=data).json()
        if isinstance(answer, dict) and "exception" in answer:
            raise LMSError(f"{function}: {answer.get('errorcode', '')}: {str(answer.get('message', ''))[:200]}")
        return answer

    def snapshot(self) -> tuple[list[Person], dict[str, Held]]:
        users = self._call("core_enrol_get_enrolled_users", courseid=self.course)
        people = [Person(str(u["id"]), str(u.get("idnumber") or ""), str(u.get("email") or ""))
                  for u in users if isinstance(u, dict)]  # type: ignore[union-attr]
        return people, self.held()

    def held(self) -> dict[str, Held]:
        answer = self._call("mod_assign_get_grades", **{"assignmentids[0]": self.assignment})
        grades = [g for a in answer.get("assignments", []) for g in a.get("grades", [])]  # type: ignore[union-attr]
        return {str(g["userid"]): Held(_number(g.get("grade"))) for g in grades if _number(g.get("grade")) is not None
                and float(g.get("grade")) >= 0}  # Moodle writes -1 for "no grade"

    def send(self, user: str, grade: float, comment: str | None) -> None:
        params: dict[str, object] = {"assignmentid": self.assignment, "userid": user, "grade": f"{grade:g}",
                                     "attemptnumber": -1, "addattempt": 0, "workflowstate": "", "applytoall": 0}
        if comment is not None:
            params["plugindata[assignfeedbackcomments_editor][text]"] = comment
            params["plugindata[assignfeedbackcomments_editor][format]"] = self.FORMAT_PLAIN
        self._call("mod_assign_save_grade", **params)
