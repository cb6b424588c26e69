"""The processing options of `framepipe client upload`: one flag per option, with the contract's bounds in the
help, checked by the contract's own model before anything is sent."""

from __future__ import annotations

import argparse
from typing import Any

from contracts import ProcessingOptions
from servicekit.options import InvalidOptions, form_schema, parse_options

# field -> (flag, metavar or None for an on/off switch, what it does)
FLAGS: dict[str, tuple[str, str | None, str]] = {
    "mode": ("--mode", "MODE", "which frames: every interval, every keyframe, or one per scene"),
    "interval_seconds": ("--interval", "S", "seconds between frames"),
    "count": ("--count", "N", "interval mode: N frames evenly spread instead of one every --interval"),
    "start_seconds": ("--start", "S", "start of the range, in seconds"),
    "end_seconds": ("--end", "S", "end of the range, in seconds (default: the video's end)"),
    "width": ("--width", "PX", "fit frames inside this width, aspect kept, never enlarged"),
    "height": ("--height", "PX", "fit frames inside this height, aspect kept, never enlarged"),
    "image_format": ("--format", "FORMAT", "frame format"),
    "quality": ("--quality", "Q", "jpg or webp quality, higher is better and larger"),
    "scene_threshold": ("--scene-threshold", "T", "scenes mode: how different a frame must be"),
    "max_frames": ("--max-frames", "N", "keyframes and scenes modes: stop after N frames"),
    "skip_black_start": ("--skip-black-start", None, "begin after the black frames the video opens with"),
    "storyboard": ("--storyboard", None, "also put a storyboard (sprite sheet, WebVTT, index) in the ZIP"),
}
assert set(FLAGS) == set(ProcessingOptions.model_fields), "a flag for every option of the contract"


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("processing options (checked before anything is sent)")
    schema = form_schema()["properties"]
    for field, (flag, metavar, text) in FLAGS.items():
        if metavar is None:
            group.add_argument(flag, dest=field, action="store_true", default=None, help=text)
        else:
            group.add_argument(
                flag,
                dest=field,
                metavar=metavar,
                choices=schema[field].get("enum"),
                help=text + _bounds(schema[field]) + _default(schema[field]),
            )


def _bounds(field: dict[str, Any]) -> str:
    low = field.get("minimum", field.get("exclusiveMinimum"))
    high = field.get("maximum", field.get("exclusiveMaximum"))
    if "enum" in field:
        return f"; one of {', '.join(field['enum'])}"
    return "" if low is None or high is None else f"; {low:g} to {high:g}"


def _default(field: dict[str, Any]) -> str:
    """The contract's default, when it is a value (not `none` or `off`)."""
    default = field.get("default")
    if default is None or default is False:
        return ""
    return f" (default {default:g})" if isinstance(default, float) else f" (default {default})"


def chosen_options(args: argparse.Namespace) -> dict[str, str]:
    """The options given on the command line, as the form fields the server reads."""
    chosen: dict[str, str] = {}
    for field in FLAGS:
        value = getattr(args, field, None)
        if value is not None:
            chosen[field] = "true" if value is True else str(value)
    return chosen


def refusal(fields: dict[str, str]) -> str | None:
    """What is wrong with the options, in terms of the flags; None when the contract accepts them."""
    try:
        parse_options(fields)
    except InvalidOptions as error:
        flags: dict[str, list[str]] = {}  # a combination's one message names all its flags
        for e in error.errors:
            flags.setdefault(e["message"], []).append(FLAGS.get(e["field"], (e["field"],))[0])
        return "; ".join(f"{', '.join(named)}: {message}" for message, named in flags.items())
    return None


def described(options: dict[str, Any]) -> str:
    """The options that differ from the defaults, for a person (`key=value` pairs)."""
    defaults = ProcessingOptions().model_dump(mode="json")
    changed = [
        f"{flag.lstrip('-')}={options[field]}"
        for field, (flag, _, _) in FLAGS.items()
        if field in options and options[field] != defaults[field]
    ]
    return ", ".join(changed) or "defaults (one png per second)"
