"""What the processor's tools are held to, decided without running them: the limits the settings give, what a
failed run means, the sentence a user reads, and that every tool goes through the one contained runner."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

from contracts import FailureCode
from processor_svc.failures import MESSAGES
from processor_svc.media import rejection_for_limit
from processor_svc.runner import Completed
from processor_svc.settings import Settings
from servicekit.cpus import available_cpus

PACKAGE = Path(__file__).resolve().parents[2] / "processor_svc"


def ended(returncode: int, stderr: str = "") -> Completed:
    return Completed(returncode=returncode, stdout=b"", stderr_tail=stderr, seconds=1.0)


def test_no_file_a_tool_writes_may_be_larger_than_the_whole_result() -> None:
    assert Settings(max_result_bytes=1000, ffmpeg_max_file_bytes=5000).tool_file_bytes == 1000
    assert Settings(max_result_bytes=9000, ffmpeg_max_file_bytes=5000).tool_file_bytes == 5000


def test_a_cpu_limit_left_at_zero_is_the_job_timeout_on_every_cpu() -> None:
    assert Settings(job_timeout_seconds=100, ffmpeg_max_cpu_seconds=0).tool_cpu_seconds == 100 * available_cpus()
    assert Settings(job_timeout_seconds=100, ffmpeg_max_cpu_seconds=7).tool_cpu_seconds == 7


@pytest.mark.parametrize(
    ("completed", "code"),
    [
        (ended(-signal.SIGXFSZ), FailureCode.TOO_LARGE),
        (ended(-signal.SIGKILL), FailureCode.TIMEOUT),
        (ended(1, "Picture size 7680x4320 exceeds specified max pixel count 100000"), FailureCode.TOO_LARGE),
        (ended(127, "ffprobe: error while loading shared libraries: libx.so: failed to map segment"), "too_large"),
        (ended(1, "Error while opening decoder: Cannot allocate memory"), FailureCode.TOO_LARGE),
        (ended(1, "Error while opening decoder for input stream #0:0 : Resource temporarily unavailable"), "too_large"),
    ],
)
def test_a_tool_stopped_by_a_limit_gives_that_limits_failure_code(completed: Completed, code: str) -> None:
    rejected = rejection_for_limit(completed)
    assert rejected is not None
    assert rejected.code == code


def test_a_tool_failing_on_its_own_is_not_read_as_a_limit() -> None:
    assert rejection_for_limit(ended(1, "/tmp/x/source: Invalid data found when processing input")) is None


def test_every_code_the_processor_fails_with_has_a_fixed_sentence_naming_nothing_internal() -> None:
    assert set(MESSAGES) == set(FailureCode) - {FailureCode.RETRIES_EXHAUSTED}
    for message in MESSAGES.values():
        assert "/" not in message
        assert "ffmpeg" not in message.lower()
        assert "ffprobe" not in message.lower()


def test_only_the_runner_starts_processes() -> None:
    starts = re.compile(r"\bsubprocess\b|create_subprocess|os\.(system|popen|spawn|exec|fork)|\bPopen\b")
    starting = sorted(path.name for path in PACKAGE.glob("*.py") if starts.search(path.read_text()))
    assert starting == ["runner.py"]
