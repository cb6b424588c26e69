"""The e-mails notify_svc builds: every template renders in every language, user text cannot leave its
place (no new header, no new recipient, no HTML), and the Message-ID follows the outcome's event id."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime

import pytest

from contracts.events import FailureCode
from notify_svc.api import decode_cursor, encode_cursor
from notify_svc.emails import (
    LANGUAGES,
    InvalidAddress,
    Sender,
    Templates,
    build_message,
    mailbox,
    message_id_for,
    one_line,
)
from servicekit.cursors import InvalidCursor

VIDEO = uuid.UUID("8d0e6f52-2b1c-4a7e-8f3d-5e6a7b8c9d0e")
LINK = "https://app.example/video/8d0e6f52"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_failure_code_has_its_own_reason_and_next_step_in_every_language(language: str) -> None:
    templates = Templates(language)
    bodies = {
        code: templates.failed(name=None, video_id=VIDEO, filename="a.mp4", code=code, link=LINK).text
        for code in FailureCode
    }
    assert len(set(bodies.values())) == len(FailureCode)
    for code, text in bodies.items():
        assert code.value not in text
        assert "$" not in text
        assert LINK in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_done_email_names_the_file_the_frame_count_and_the_link(language: str) -> None:
    letter = Templates(language).processed(name="Ana", video_id=VIDEO, filename="férias.mp4", frame_count=7, link=LINK)
    assert "férias.mp4" in letter.subject
    assert "Ana" in letter.text
    assert " 7 " in letter.text
    assert f'href="{LINK}"' in letter.html


def test_pt_and_en_say_different_things() -> None:
    en = Templates("en").processed(name=None, video_id=VIDEO, filename=None, frame_count=1, link=LINK)
    pt = Templates("pt").processed(name=None, video_id=VIDEO, filename=None, frame_count=1, link=LINK)
    assert en.subject == "Your frames are ready: video 8d0e6f52"
    assert pt.subject == "Seus quadros estão prontos: vídeo 8d0e6f52"


def test_an_unknown_language_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="no templates"):
        Templates("de")


def test_names_and_file_names_are_escaped_in_html_and_flattened_to_one_line() -> None:
    letter = Templates("en").processed(
        name="<script>alert(1)</script>", video_id=VIDEO, filename='x"><img src=y>\r\nz.mp4', frame_count=1, link=LINK
    )
    assert "<script>" not in letter.html
    assert "&lt;script&gt;" in letter.html
    assert "<img" not in letter.html
    assert "\r" not in letter.subject
    assert "\n" not in letter.subject
    assert 'x"><img src=y> z.mp4' in letter.subject


@pytest.mark.parametrize("text", ["a\r\nb", "a\nb", "a\rb", "a\x00b", "a\u2028b", "a\x85b", "a \t\r\n  b"])
def test_one_line_turns_every_line_break_and_control_character_into_one_space(text: str) -> None:
    assert one_line(text) == "a b"


@pytest.mark.parametrize(
    "address",
    ["a@example.com>\r\nRCPT TO:<evil@example.com", "a b@example.com", "no-at-sign", "@example.com", "a@", "a\n@x.y"],
)
def test_addresses_that_are_not_one_plain_mailbox_are_refused(address: str) -> None:
    with pytest.raises(InvalidAddress):
        mailbox(address)


def test_a_built_message_keeps_injected_headers_inside_their_values() -> None:
    letter = Templates("en").failed(
        name=None, video_id=VIDEO, filename="v.mp4\r\nBcc: a@evil.example", code=FailureCode.TIMEOUT, link=LINK
    )
    message = build_message(
        letter,
        sender=Sender.parse("framepipe <no-reply@framepipe.local>"),
        recipient="ana@example.com",
        recipient_name="Ana\r\nCc: b@evil.example",
        message_id=message_id_for(VIDEO),
        date=datetime(2026, 3, 14, tzinfo=UTC),
    )
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Cc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ana@example.com"]
    assert parsed["Message-ID"] == f"<{VIDEO}@framepipe>"
    assert parsed["From"].addresses[0].display_name == "framepipe"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_a_built_message_is_7_bit_with_crlf_lines_and_carries_non_ascii_text_intact() -> None:
    letter = Templates("pt").processed(
        name="João Ünïcode", video_id=VIDEO, filename="férias em família " * 8 + ".mp4", frame_count=7, link=LINK
    )
    message = build_message(
        letter,
        sender=Sender.parse("Vídeos framepipe <no-reply@framepipe.local>"),
        recipient="joao@example.com",
        recipient_name='João, "Ünïcode" <x@evil.example>',
        message_id=message_id_for(VIDEO),
        date=datetime(2026, 3, 14, tzinfo=UTC),
    )
    assert message.isascii()
    lines = message.split(b"\r\n")
    assert all(b"\n" not in line and len(line) <= 998 for line in lines)
    parsed = email.message_from_bytes(message, policy=email.policy.default)
    assert parsed["Subject"] == letter.subject
    assert [(a.display_name, a.addr_spec) for a in parsed["To"].addresses] == [
        ('João, "Ünïcode" <x@evil.example>', "joao@example.com")
    ]
    assert parsed["From"].addresses[0].display_name == "Vídeos framepipe"
    text, html = (part.get_content() for part in parsed.iter_parts())
    assert text == letter.text
    assert html == letter.html
    assert parsed["MIME-Version"] == "1.0"


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for forged in ["", "!!!", "bm90LWEtY3Vyc29y", encode_cursor(1) + "x"]:
        with pytest.raises(InvalidCursor):
            decode_cursor(forged)
