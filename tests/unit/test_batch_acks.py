"""The batched consumer's ack bookkeeping: one `multiple` ack may only cover tags that are all handled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servicekit.bus.batch import _Acks


@dataclass
class Delivery:
    """What the bookkeeping reads of a delivered message: its channel and delivery tag."""

    channel: Any
    delivery_tag: int


def delivered(acks: _Acks, channel: object, *tags: int) -> dict[int, Any]:
    messages = {tag: Delivery(channel, tag) for tag in tags}
    for message in messages.values():
        acks.delivered(message)  # type: ignore[arg-type]
    return messages


def test_handled_tags_are_acked_up_to_the_lowest_unsettled_one_and_no_further() -> None:
    acks, channel = _Acks(), object()
    m = delivered(acks, channel, 1, 2, 3, 4, 5, 6)
    for tag in (4, 5, 6):  # a later batch finished first
        acks.handled(m[tag])
    assert acks.ready() is None  # 1-3 are still being handled
    acks.settled(m[1])  # retried on its own
    for tag in (2, 3):
        acks.handled(m[tag])
    assert acks.ready() is m[6]
    assert acks.ready() is None  # owed nothing more


def test_a_batch_behind_an_unsettled_message_waits_for_it_and_earlier_handled_tags_go_first() -> None:
    acks, channel = _Acks(), object()
    m = delivered(acks, channel, 1, 2, 3, 4)
    acks.handled(m[1])
    acks.handled(m[3])
    assert acks.ready() is m[1]  # 2 is unsettled: 3 must wait
    acks.handled(m[2])
    assert acks.ready() is m[3]
    acks.settled(m[4])
    assert acks.ready() is None


def test_a_new_channel_starts_a_new_tag_sequence_and_old_messages_are_never_acked_on_it() -> None:
    acks, old, new = _Acks(), object(), object()
    before = delivered(acks, old, 1, 2)
    after = delivered(acks, new, 1)
    acks.handled(before[2])  # its channel is gone: the broker redelivers it, the inbox drops the copy
    assert acks.ready() is None
    acks.handled(after[1])
    assert acks.ready() is after[1]
