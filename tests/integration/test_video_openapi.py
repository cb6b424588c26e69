"""Schema-driven fuzzing: requests generated from video_svc's own /openapi.json never get a 5xx."""

from __future__ import annotations

import asyncio
import uuid

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.integration.test_video_harness import VideoService, video_service_fixture

EXAMPLES_PER_OPERATION = 25


svc = video_service_fixture()


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
