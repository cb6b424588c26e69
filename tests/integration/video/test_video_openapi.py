"""video_svc's own /openapi.json: a valid document whose processing options are the contract's, describing what
the service answers; and schema-driven fuzzing: requests generated from it never get a 5xx."""

from __future__ import annotations

import asyncio
import uuid

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode

from contracts import MAX_DIMENSION, MAX_FRAME_COUNT, MAX_OFFSET_SECONDS, MIN_DIMENSION, ProcessingOptions
from tests.integration.video.harness import VideoService, clip_fixture, video_service_fixture

EXAMPLES_PER_OPERATION = 25


svc = video_service_fixture()
clip = clip_fixture()


async def test_the_upload_form_in_the_document_has_every_option_with_the_contract_bounds(svc: VideoService) -> None:
    spec = await (await svc.client.get("/openapi.json")).json()
    validate(spec)
    form = spec["paths"]["/video"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    fields = form["properties"]
    assert set(fields) == {*ProcessingOptions.model_fields, "file"}
    assert fields["count"]["type"] == fields["max_frames"]["type"] == "integer"
    assert fields["count"]["maximum"] == fields["max_frames"]["maximum"] == MAX_FRAME_COUNT
    assert (fields["start_seconds"]["maximum"], fields["end_seconds"]["maximum"]) == (MAX_OFFSET_SECONDS,) * 2
    assert (fields["width"]["minimum"], fields["width"]["maximum"]) == (MIN_DIMENSION, MAX_DIMENSION)
    assert (fields["height"]["minimum"], fields["height"]["maximum"]) == (MIN_DIMENSION, MAX_DIMENSION)
    assert (fields["quality"]["minimum"], fields["quality"]["maximum"]) == (1, 100)
    assert (fields["scene_threshold"]["exclusiveMinimum"], fields["scene_threshold"]["exclusiveMaximum"]) == (0, 1)
    assert fields["image_format"]["enum"] == ["png", "jpg", "webp"]
    assert fields["mode"]["enum"] == ["interval", "keyframes", "scenes"]
    assert fields["storyboard"]["type"] == fields["skip_black_start"]["type"] == "boolean"
    assert all("null" not in str(field.get("type")) and "anyOf" not in field for field in fields.values())
    documented = spec["components"]["schemas"]["ProcessingOptions"]
    assert set(documented["required"]) == set(documented["properties"]) == set(ProcessingOptions.model_fields)


async def test_a_video_with_every_option_is_what_the_document_says_a_video_is(svc: VideoService, clip: bytes) -> None:
    spec = await (await svc.client.get("/openapi.json")).json()
    video_schema = {"$ref": "#/components/schemas/Video", "components": spec["components"]}
    owner = uuid.uuid4()
    fields = {"mode": "scenes", "max_frames": "4", "image_format": "webp", "quality": "70", "width": "320"}
    response = await svc.upload(owner, ("clip.mp4", clip), storyboard="true", end_seconds="30", **fields)
    assert response.status == 202, await response.text()
    video = (await response.json())["items"][0]
    assert video["options"]["image_format"] == "webp"
    jsonschema.Draft202012Validator(video_schema).validate(video)
    with pytest.raises(jsonschema.ValidationError):  # the check itself can fail
        jsonschema.Draft202012Validator(video_schema).validate({**video, "options": {**video["options"], "mode": 3}})


async def test_generated_requests_for_every_operation_never_get_a_server_error(svc: VideoService) -> None:
    spec = await (await svc.client.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(spec)
    base_url = f"http://127.0.0.1:{svc.port}"
    headers = svc.auth(uuid.uuid4())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    # The event stream never ends by itself while its token is valid (test_video_live covers its bad input).
    operations = [op for op in operations if op.definition.raw.get("operationId") != "videoEvents"]
    assert len(operations) == 7
    failures: list[str] = []

    def fuzz(strategy: st.SearchStrategy[schemathesis.Case]) -> None:
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def no_server_error(case: schemathesis.Case) -> None:
            for auth in (headers, {}):  # with a valid token and without one
                response = case.call(base_url=base_url, headers=auth, timeout=30)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:200]}"
                    )

        no_server_error()

    # Requests are synchronous: they run in a worker thread while the server keeps this loop.
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )
        await asyncio.to_thread(fuzz, strategy)
    assert failures == []
