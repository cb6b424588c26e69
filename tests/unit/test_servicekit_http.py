"""Request validation and download headers: bad input is answered clearly, never crashed on."""

from __future__ import annotations

from email.parser import HeaderParser
from urllib.parse import unquote

import pytest
from pydantic import BaseModel, Field

from servicekit.http import Problem, validate
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
