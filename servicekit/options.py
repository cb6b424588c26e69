"""Processing options read from text fields (an upload form, a command line). The contract's model is the one
judge of bounds and combinations; this module only names the fields a refusal is about, so an API answer or a
command-line message can point at them, a refused combination included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from contracts import ProcessingOptions

OPTION_FIELDS = tuple(ProcessingOptions.model_fields)


class InvalidOptions(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    @property
    def fields(self) -> list[str]:
        return [e["field"] for e in self.errors]


def parse_options(fields: Mapping[str, str]) -> ProcessingOptions:
    """The options, or InvalidOptions naming every wrong field (one error per field)."""
    try:
        return ProcessingOptions.model_validate(dict(fields))
    except ValidationError as exc:
        raise InvalidOptions(_errors(exc, fields)) from None


def _errors(exc: ValidationError, fields: Mapping[str, str]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            errors.append({"field": str(error["loc"][0]), "message": message})
        else:  # the model's own rule about a combination: it names no field, so find them
            errors.extend({"field": name, "message": message} for name in _combined(fields))
    return errors


def _combined(fields: Mapping[str, str]) -> list[str]:
    """The given fields a refused combination is about: each one without which the rest would be accepted."""
    named = [name for name in fields if _accepted({k: v for k, v in fields.items() if k != name})]
    return named or ["options"]


def _accepted(fields: Mapping[str, str]) -> bool:
    try:
        ProcessingOptions.model_validate(dict(fields))
    except ValidationError:
        return False
    return True


def form_schema() -> dict[str, Any]:
    """JSON Schema of the options as text fields, made from the contract's own: its enums inlined (the schema
    stands alone, as `GET /video/limits` serves it) and "leave it out" instead of null, which a field cannot be."""
    schema = ProcessingOptions.model_json_schema()
    defs = schema.pop("$defs", {})
    return {**schema, "properties": {name: _field(prop, defs) for name, prop in schema["properties"].items()}}


def _field(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    prop = dict(prop)
    if "$ref" in prop:
        prop = {**defs[prop.pop("$ref").rsplit("/", 1)[-1]], **prop}
    if "anyOf" in prop:
        (given,) = [branch for branch in prop.pop("anyOf") if branch.get("type") != "null"]
        prop = {**given, **prop}
    if "default" in prop and prop["default"] is None:
        del prop["default"]
    return prop
