"""OpenTelemetry tracing: one trace follows an upload from the HTTP request through every event it causes, to the
e-mail. The trace context travels in HTTP requests as W3C `traceparent` headers and in events as the envelope's
`traceparent`/`tracestate` (the CloudEvents distributed-tracing extension).

The tracer provider is process-wide, like the logging configuration: `serve()` installs the one
`tracer_provider()` builds when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (spans go out over OTLP/HTTP in batches).
Without one the API's no-op tracer still carries the context received onwards, so a traced caller's trace is
continued by the next traced service. Spans are made at the edges only: HTTP requests (servicekit.http), message
handling (the consumer wrappers), SMTP sends and ffmpeg runs."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts.envelope import Envelope

if TYPE_CHECKING:  # only a type here; importing settings at run time would close a cycle through the bus
    from servicekit.settings import BaseServiceSettings

TRACER = trace.get_tracer("framepipe")
_PROPAGATOR = TraceContextTextMapPropagator()
E = TypeVar("E", bound=Envelope[Any])
T = TypeVar("T")


def tracer_provider(settings: BaseServiceSettings, service: str) -> TracerProvider | None:
    """The provider exporting this service's spans over OTLP/HTTP, or None when no endpoint is configured."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sampler_arg)),
    )
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def stamp(envelope: E, context: Context | None = None) -> E:
    """The envelope carrying the trace context (`context`, else the current one) unless it carries one already."""
    if envelope.traceparent:
        return envelope
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    if "traceparent" not in carrier:
        return envelope
    return envelope.model_copy(update={"traceparent": carrier["traceparent"], "tracestate": carrier.get("tracestate")})


def context_of(envelope: Envelope[Any]) -> Context:
    """The trace context an event was produced in (an empty one when it carries none, or an unparsable one)."""
    carrier = {key: value for key in ("traceparent", "tracestate") if (value := getattr(envelope, key))}
    return _PROPAGATOR.extract(carrier)


def context_of_headers(headers: Mapping[str, str]) -> Context:
    return _PROPAGATOR.extract(dict(headers))


def _message_attributes(envelope: Envelope[Any], queue: str) -> dict[str, str]:
    return {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.message.id": str(envelope.id),
        "cloudevents.event_id": str(envelope.id),
        "cloudevents.event_type": envelope.type,
        "cloudevents.event_subject": envelope.subject,
        "framepipe.correlation_id": envelope.correlationid,
    }


@contextlib.contextmanager
def consuming(envelope: Envelope[Any], queue: str) -> Iterator[Span]:
    """The current span while one message is handled, a child of the span that produced the event."""
    with TRACER.start_as_current_span(
        f"{queue} process",
        context=context_of(envelope),
        kind=SpanKind.CONSUMER,
        attributes=_message_attributes(envelope, queue),
        set_status_on_exception=False,
    ) as span:
        yield span


def start_consuming(envelope: Envelope[Any], queue: str) -> Span:
    """`consuming` for a message handled in a batch: started here, ended by the caller, never current."""
    return TRACER.start_span(
        f"{queue} process",
        context=context_of(envelope),
        kind=SpanKind.CONSUMER,
        attributes=_message_attributes(envelope, queue),
    )


def in_span(span: Span) -> Context:
    return trace.set_span_in_context(span)


def failed(span: Span, error: BaseException) -> None:
    span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}"[:300])


async def within(context: Context | None, work: Awaitable[T]) -> T:
    """Await `work` with `context` current (a batch item's own trace, in a task of its own)."""
    if context is None:
        return await work
    token = otel_context.attach(context)
    try:
        return await work
    finally:
        otel_context.detach(token)
