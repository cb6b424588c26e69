"""The registry of event types: the one place that knows which versioned types exist, and who publishes each."""

from __future__ import annotations

from contracts.events import (
    EventData,
    NotificationSentV1,
    TokenRevokedV1,
    UserDeletedV1,
    UserRegisteredV1,
    VideoDeletedV1,
    VideoFailedV1,
    VideoProcessedV1,
    VideoProcessingProgressV1,
    VideoProcessingStartedV1,
    VideoSegmentRequestedV1,
    VideoUploadedV1,
    WebhookDeliveryFailedV1,
    WebhookEndpointDisabledV1,
)

_MODELS: tuple[type[EventData], ...] = (
    UserRegisteredV1,
    VideoUploadedV1,
    VideoProcessingStartedV1,
    VideoProcessingProgressV1,
    VideoProcessedV1,
    VideoFailedV1,
    VideoDeletedV1,
    VideoSegmentRequestedV1,
    NotificationSentV1,
    WebhookDeliveryFailedV1,
    WebhookEndpointDisabledV1,
    TokenRevokedV1,
    UserDeletedV1,
)

EVENT_TYPES: dict[str, type[EventData]] = {model.event_type: model for model in _MODELS}


class UnknownEventType(LookupError):
    """The type is not part of the contract (a typo, or a version this build does not know)."""


def model_for(event_type: str) -> type[EventData]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def producers_of(event_type: str) -> tuple[str, ...]:
    """The services that publish the type (its model's `producers`)."""
    return model_for(event_type).producers


def types_produced_by(service: str) -> list[str]:
    """The types the service publishes, in registry order."""
    return [event_type for event_type, model in EVENT_TYPES.items() if service in model.producers]
