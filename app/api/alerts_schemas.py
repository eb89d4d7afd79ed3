"""JSON Schemas (OpenAPI 3.0 components) of the alerts and federation bodies."""

from __future__ import annotations

from typing import Any

from app.services.subscriptions import BATCH_MAX_EVENTS, EVENT_STATUSES

_STRING: dict[str, Any] = {"type": "string"}
_NULLABLE_STRING: dict[str, Any] = {"type": "string", "nullable": True}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}

SUBSCRIPTION: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "criteria", "events", "status", "created_at"],
    "properties": {
        "id": _STRING,
        "name": _STRING,
        "criteria": {"type": "object"},
        "events": {"type": "array", "items": _STRING},
        "webhook_url": _NULLABLE_STRING,
        "batch_max_events": {
            "type": "integer",
            "minimum": 1,
            "maximum": BATCH_MAX_EVENTS,
            "description": "Most events one webhook message carries (1: one per message)",
        },
        "status": {"type": "string", "enum": ["active", "paused"]},
        "created_at": _TIME,
        "secret": {
            "type": "string",
            "description": "The Standard Webhooks signing secret (whsec_...): only in the "
            "answer to the creation, never again",
        },
        "matching_sites": {"type": "integer", "minimum": 0},
        "deliveries": {"type": "object"},
    },
}

EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "sequence", "subscription", "type", "status", "payload"],
    "properties": {
        "id": {"type": "string", "description": "The idempotency id (webhook-id)"},
        "sequence": {"type": "integer", "description": "The SSE id (Last-Event-ID)"},
        "subscription": _STRING,
        "type": _STRING,
        "status": {"type": "string", "enum": list(EVENT_STATUSES)},
        "attempts": {"type": "integer", "minimum": 0},
        "last_error": _NULLABLE_STRING,
        "created_at": _TIME,
        "delivered_at": {"type": "string", "format": "date-time", "nullable": True},
        "payload": {"type": "object"},
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Subscription": SUBSCRIPTION,
    "Subscriptions": {
        "type": "object",
        "required": ["subscriptions"],
        "properties": {"subscriptions": {"type": "array", "items": SUBSCRIPTION}},
    },
    "AlertEvents": {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "items": EVENT},
            "next": _STRING,
        },
    },
    "Redelivered": {
        "type": "object",
        "required": ["redelivered"],
        "properties": {"redelivered": {"type": "integer", "minimum": 0}},
    },
    "Changes": {
        "type": "object",
        "required": ["type", "features", "since", "until"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": {"type": "object"}},
            "since": {"type": "integer"},
            "until": {"type": "integer", "description": "The `since` of the next sync"},
            "next": _STRING,
        },
    },
}
