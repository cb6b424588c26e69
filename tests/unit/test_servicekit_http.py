"""Request validation and download headers: bad input is answered clearly, never crashed on."""

from __future__ import annotations

from email.parser import HeaderParser
from urllib.parse import unquote

import pytest
from pydantic import BaseModel, Field

from servicekit.cursors import MAX_SEQ, InvalidCursor, decode_cursor, encode_cursor
from servicekit.http import Problem, validate
from servicekit.problems import NOT_FOUND, ProblemType, problem_of
from servicekit.storage import content_disposition


class Signup(BaseModel):
    email: str = Field(min_length=3)
    age: int


def test_a_validation_error_names_every_bad_field() -> None:
    with pytest.raises(Problem) as caught:
        validate(Signup, {"email": "x", "age": "old"})
    problem = caught.value
    assert (problem.status, problem.code) == (422, "validation_error")
    assert {e["field"] for e in problem.extra["errors"]} == {"email", "age"}


def test_a_body_that_is_not_an_object_is_a_validation_error() -> None:
    with pytest.raises(Problem) as caught:
        validate(Signup, ["not", "an", "object"])
    assert caught.value.status == 422


def test_text_with_a_nul_anywhere_is_a_validation_error_naming_where() -> None:
    nested: object = "deep\x00"
    for _ in range(5000):  # deeper than recursion would go
        nested = [nested]
    with pytest.raises(Problem) as caught:
        validate(Signup, {"email": "a\x00@example.com", "age": 3, "tags": {"k\x00": 1}, "x": nested})
    assert caught.value.status == 422
    fields = [e["field"] for e in caught.value.extra["errors"]]
    assert fields[:2] == ["email", "tags.k\x00"]
    assert fields[2].startswith("x.0.0.")


def test_cursors_are_only_numbers_a_database_could_have_handed_out() -> None:
    assert decode_cursor("n:", encode_cursor("n:", MAX_SEQ)) == MAX_SEQ
    for forged in (encode_cursor("n:", MAX_SEQ + 1), encode_cursor("n:", 10**40), "!!", encode_cursor("m:", 1)):
        with pytest.raises(InvalidCursor):
            decode_cursor("n:", forged)


class Throttled(Exception):
    retry_after = 7


class RegistrationsThrottled(Throttled):
    pass


def test_a_domain_error_is_answered_by_its_own_entry_or_else_its_base_classes() -> None:
    throttled = ProblemType(429, "throttled", "Slow down.", headers={"Retry-After": "1"})
    table = {
        Throttled: throttled,
        RegistrationsThrottled: lambda e: throttled(f"wait {e.retry_after}s", retry_after=e.retry_after),
    }
    own = problem_of(table, RegistrationsThrottled())
    inherited = problem_of(table, type("Other", (Throttled,), {})())
    assert own is not None
    assert inherited is not None
    assert (own.status, own.code, own.detail, own.extra) == (429, "throttled", "wait 7s", {"retry_after": 7})
    assert (inherited.code, inherited.detail, inherited.headers) == ("throttled", None, {"Retry-After": "1"})
    assert problem_of(table, ValueError()) is None


def test_a_kind_of_problem_told_with_its_own_detail_keeps_its_code_and_title() -> None:
    missing = NOT_FOUND.with_detail("No such video.")()
    assert (missing.status, missing.code, missing.title, missing.detail) == (
        404,
        "not_found",
        "Not Found",
        "No such video.",
    )
    assert NOT_FOUND().detail is None


@pytest.mark.parametrize(
    "filename",
    ['holiday "2026".mp4', "férias.zip", "a\r\nSet-Cookie: x=1.zip", "../../etc/passwd", ""],
)
def test_content_disposition_is_one_safe_header_for_any_file_name(filename: str) -> None:
    header = content_disposition(filename)
    assert "\r" not in header
    assert "\n" not in header
    parsed = HeaderParser().parsestr(f"Content-Disposition: {header}\n\n")
    assert parsed.get_content_disposition() == "attachment"
    assert parsed.get_filename().isascii()  # the fallback for old clients
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == (filename or "download")
