"""The replay state file: what an interrupted job resumes from."""

from __future__ import annotations

from pathlib import Path

from ops.bus.filters import EventFilter
from ops.bus.replaystate import ReplayJob, StateFile, Target, load_resume_point


def job() -> ReplayJob:
    return ReplayJob(
        replay_id="r1",
        event_filter=EventFilter(types=("auth.*",)),
        target=Target("queue", "notify.user-directory"),
        mode="reprocess",
        reason="directory wiped",
        rate=100.0,
        end_offset=42,
    )


def test_resume_starts_after_the_last_checkpoint_and_skips_only_what_was_confirmed_after_it(tmp_path: Path) -> None:
    state = StateFile(tmp_path / "r1.state.jsonl", job(), new=True)
    for event_id in ("a", "b"):
        state.sent(event_id)
    state.checkpoint(10)
    state.sent("c")
    state.close()

    point = load_resume_point(tmp_path / "r1.state.jsonl")

    assert point.job == job()
    assert point.checkpoint == 10
    assert point.sent_after == {"c"}
    assert point.sent_total == 3
    assert not point.finished


def test_a_line_cut_short_by_a_hard_kill_keeps_everything_before_it(tmp_path: Path) -> None:
    path = tmp_path / "r1.state.jsonl"
    state = StateFile(path, job(), new=True)
    state.sent("a")
    state.close()
    with path.open("a") as file:
        file.write('{"sent": "b')

    point = load_resume_point(path)

    assert point.sent_after == {"a"}


def test_a_finished_job_is_known_as_finished(tmp_path: Path) -> None:
    path = tmp_path / "r1.state.jsonl"
    state = StateFile(path, job(), new=True)
    state.finished({"sent": 0})
    state.close()
    assert load_resume_point(path).finished
