"""One trace follows an upload from the HTTP request to the e-mail, across video_svc, processor_svc and notify_svc,
carried by the W3C traceparent header and then by the events' `traceparent` (CloudEvents distributed tracing).
Spans are collected with an in-memory exporter; a second test proves the OTLP/HTTP export of a configured
service reaches a collector."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from auth_svc.settings import Settings as AuthSettings
from contracts import UserRegisteredV1, new_envelope
from notify_svc.app import create_app as create_notify_app
from ops.dev.localinfra import LocalS3, LocalSMTP, MailSink
from servicekit.bus import Publisher
from servicekit.tracing import tracer_provider
from tests.integration.notify.harness import notify_settings
from tests.integration.processor.harness import processor_settings, running
from tests.integration.video.harness import VideoService, clip_fixture, video_service_fixture
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys

svc = video_service_fixture()
clip = clip_fixture()

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process finishes while the module runs (the process-wide provider, as `serve()` sets)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        trace.set_tracer_provider(TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later modules' spans are no longer kept


def of_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and f"{s.context.trace_id:032x}" == trace_id
    ]


def named(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert found, f"no span {name!r} in {sorted({s.name for s in spans})}"
    return found[0]


def parent_of(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent is not None else None


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


@pytest.fixture
async def notify(
    database_url: str, amqp_url: str, smtp_server: LocalSMTP, jwt_keys: JwtKeys
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_notify_app(notify_settings(database_url, amqp_url, smtp_server.port, jwt_keys))
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_one_trace_goes_from_the_upload_request_to_the_email(
    spans: InMemorySpanExporter,
    svc: VideoService,
    clip: bytes,
    notify: TestClient[web.Request, web.Application],
    publisher: Publisher,
    mail_sink: MailSink,
    amqp_url: str,
    local_s3: LocalS3,
    tmp_path: Path,
) -> None:
    owner = uuid.uuid4()
    email = f"{owner.hex[:8]}@example.com"
    registered = UserRegisteredV1(user_id=owner, email=email, name="Ada", registered_at=datetime.now(UTC))
    await publisher.publish(new_envelope(registered, source="framepipe/auth_svc"))

    async with running(processor_settings(amqp_url, local_s3, svc.settings.s3_bucket, tmp_path / "work")):
        response = await svc.upload(
            owner, ("clip.mp4", clip), headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
        )
        assert response.status == 202, await response.text()
        await eventually(lambda: mail_sink.to(email), timeout=60, interval=0.2)
        # A span ends after its children: the outcome's span ends once its e-mail is sent and its delivery acked.
        ending = {"smtp send", "notify.video-outcomes process"}
        await eventually(lambda: ending <= {s.name for s in of_trace(spans, CALLER_TRACE)}, timeout=10)

    traced = of_trace(spans, CALLER_TRACE)
    upload = named(traced, "POST /video")
    job = named(traced, "processor.video-uploaded process")
    outcome = named(traced, "notify.video-outcomes process")
    smtp = named(traced, "smtp send")
    assert parent_of(upload) == CALLER_SPAN  # the caller's trace is continued
    assert parent_of(job) == span_id(upload)  # through video.uploaded.v1, published by the outbox relay
    assert parent_of(outcome) == span_id(job)  # through video.processed.v1
    assert parent_of(smtp) == span_id(outcome)
    assert parent_of(named(traced, "ffmpeg")) == span_id(job)
    assert parent_of(named(traced, "video.processing-updates process")) == span_id(job)
    assert outcome.attributes is not None
    assert outcome.attributes["cloudevents.event_type"] == "video.processed.v1"
    assert smtp.kind == trace.SpanKind.CLIENT
    assert upload.kind == trace.SpanKind.SERVER


async def test_a_configured_service_exports_its_spans_over_otlp_http() -> None:
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    async with TestServer(collector) as server:
        settings = AuthSettings(_env_file=None, otel_exporter_otlp_endpoint=str(server.make_url("/")))  # type: ignore[call-arg]
        provider = tracer_provider(settings, "auth_svc")
        assert provider is not None
        provider.get_tracer("test").start_span("POST /login").end()
        # The exporter posts from its own thread; this loop must stay free to answer it.
        await asyncio.get_running_loop().run_in_executor(None, provider.shutdown)
    exported = [
        (attr.value.string_value, span.name)
        for request in received
        for resource_spans in request.resource_spans
        for attr in resource_spans.resource.attributes
        if attr.key == "service.name"
        for scope in resource_spans.scope_spans
        for span in scope.spans
    ]
    assert exported == [("auth_svc", "POST /login")]


def test_no_endpoint_means_no_exporter() -> None:
    assert tracer_provider(AuthSettings(_env_file=None), "auth_svc") is None  # type: ignore[call-arg]
