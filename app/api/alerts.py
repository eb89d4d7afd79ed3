"""Alerts: subscriptions (authority and admin keys), their events and dead letters, and the
Server-Sent Events stream ``/events`` (resumable with ``Last-Event-ID``)."""

from __future__ import annotations

import weakref
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError
from sse_starlette import EventSourceResponse

from app.api import json_body
from app.api.contract import negotiable, returns
from app.api.deps import (
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    SubscriberDep,
    reject_undeclared_query,
)
from app.api.responses import JSON
from app.api.text_checks import EVENT_ID, SINGLE_LINE, StorableText
from app.api.urls import base_url
from app.collections.parsing import BIGINT_MAX
from app.html.negotiation import LANGUAGES
from app.html.pages import negotiated, render_subscriptions
from app.services import event_stream, subscriptions
from app.services.subscriptions import BATCH_MAX_EVENTS, EventStatus

JSON_TYPE = "application/json"
#: What an event's sequence (its SSE id) is, told when one is refused
EVENT_SEQUENCE = f"a non-negative integer event id, at most {BIGINT_MAX}"


def _event_sequence(value: object) -> object:
    """An event's sequence number as a parameter gives it (text): ``after`` of the events
    list and ``Last-Event-ID`` are both read here, with one bound (the largest id
    PostgreSQL's bigint holds; ``after`` stopped at 2**62) and one message."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= BIGINT_MAX:
        return value
    digits = value if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 19 and int(digits) <= BIGINT_MAX:
        return int(digits)
    raise PydanticCustomError("invalid_event_id", EVENT_SEQUENCE)


def _last_event_id(value: object) -> object:
    """An empty ``Last-Event-ID`` is no id: the stream starts from now, as without one."""
    return None if value == "" else _event_sequence(value)


router = APIRouter(
    tags=["Alerts"],
    dependencies=[Depends(reject_undeclared_query), Depends(json_body.read_strictly)],
)


class SubscriptionBody(BaseModel):
    """A new subscription."""

    # a misspelt member (webhookurl) is named, not dropped: the subscription it made had no
    # webhook and sent nothing, answered 201 (found by a helper), as keys' bodies say it
    model_config = ConfigDict(extra="forbid")

    # one line of storable text, as a key's name (a NUL was a 500 when it was stored)
    name: StorableText = Field(
        min_length=1, max_length=200, pattern=SINGLE_LINE, description="What the alert is for"
    )

    criteria: dict[str, Any] = Field(
        default_factory=dict,
        description="Filters on sites: filter (CQL2), filter-lang, border, within_km, country, "
        "kind, mineral (as the sites items parameters)",
    )
    events: list[str] = Field(
        min_length=1,
        max_length=4,
        description="site.created, site.entered (moved or edited into the criteria), "
        "cluster.joined (joined a cross-border cluster), upload.completed",
    )
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="Where events are POSTed (an allowed host); none: SSE /events only",
    )
    # strict: a JSON number, not "5", 2.0 or true (lax parsing took each as a count)
    batch_max_events: int = Field(
        default=1,
        strict=True,
        ge=1,
        le=BATCH_MAX_EVENTS,
        description="Most events one webhook message may carry: 1 (the default) sends each "
        'event alone; more sends a subscription\'s due events together as {"type": "batch", '
        '"data": {"count", "events": [...]}}, each event with its own id (webhooks only: '
        "with more than 1, webhook_url is required)",
    )


@router.post(
    "/subscriptions",
    status_code=201,
    summary="Subscribe to alerts on sites (authority or admin key); the secret is shown once",
    responses=returns("Subscription", JSON_TYPE, 201),
)
def create_subscription(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    caller: SubscriberDep,
    body: Annotated[SubscriptionBody, Body()],
) -> JSON:
    new = subscriptions.NewSubscription(
        body.name, body.criteria, body.events, body.webhook_url, body.batch_max_events
    )
    record, matching = subscriptions.create(session, settings, caller, new)
    document = subscriptions.as_document(record, with_secret=True)
    document["matching_sites"] = matching
    location = f"{base_url(request, settings)}/subscriptions/{record.public_id}"
    return JSON(document, status_code=201, headers={"Location": location})


@router.get(
    "/subscriptions",
    summary="Your subscriptions (an admin: every one), as JSON or an HTML page",
    response_model=None,
    responses=negotiable("Subscriptions"),
)
def list_subscriptions(
    request: Request,
    session: ReadSessionDep,
    caller: SubscriberDep,
    f: Annotated[  # noqa: ARG001 - read by the negotiation, declared for /api
        Literal["json", "html"] | None, Query(description="Format (default: Accept)")
    ] = None,
    lang: Annotated[  # noqa: ARG001 - as f
        str | None, Query(pattern=f"^({'|'.join(LANGUAGES)})$", description="Page language")
    ] = None,
) -> Response:
    found = subscriptions.list_for(session, caller)
    documents = [
        {**subscriptions.as_document(s), "deliveries": subscriptions.counts(session, s)}
        for s in found
    ]
    return negotiated(request, JSON({"subscriptions": documents}), render_subscriptions)


@router.get(
    "/subscriptions/{subscription_id}",
    summary="One subscription",
    responses=returns("Subscription"),
)
def read_subscription(subscription_id: str, session: ReadSessionDep, caller: SubscriberDep) -> JSON:
    found = subscriptions.get(session, caller, subscription_id)
    document = subscriptions.as_document(found)
    document["deliveries"] = subscriptions.counts(session, found)
    return JSON(document)


@router.post(
    "/subscriptions/{subscription_id}/pause",
    summary="Pause a subscription: no events are written while it is paused",
    responses=returns("Subscription"),
)
def pause_subscription(subscription_id: str, session: SessionDep, caller: SubscriberDep) -> JSON:
    found = subscriptions.set_status(session, caller, subscription_id, "paused")
    return JSON(subscriptions.as_document(found))


@router.post(
    "/subscriptions/{subscription_id}/resume",
    summary="Resume a paused subscription (what changed meanwhile is not replayed)",
    responses=returns("Subscription"),
)
def resume_subscription(subscription_id: str, session: SessionDep, caller: SubscriberDep) -> JSON:
    found = subscriptions.set_status(session, caller, subscription_id, "active")
    return JSON(subscriptions.as_document(found))


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=204,
    summary="Delete a subscription and its events",
    response_class=Response,
    responses={204: {"description": "Deleted"}},
)
def delete_subscription(
    subscription_id: str, session: SessionDep, caller: SubscriberDep
) -> Response:
    subscriptions.delete(session, caller, subscription_id)
    return Response(status_code=204)


@router.get(
    "/subscriptions/{subscription_id}/events",
    summary="A subscription's events, oldest first; status=dead lists the dead letters",
    responses=returns("AlertEvents"),
)
def subscription_events(
    subscription_id: str,
    session: ReadSessionDep,
    caller: SubscriberDep,
    status: Annotated[EventStatus | None, Query(description="dead: the dead letters")] = None,
    after: Annotated[
        int,
        Field(ge=0, le=BIGINT_MAX),  # for /api: _event_sequence checks them first
        BeforeValidator(_event_sequence),
        Query(description="After this sequence (an event's SSE id)"),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSON:
    found = subscriptions.events(session, caller, subscription_id, status, after, limit)
    body: dict[str, Any] = {"events": [subscriptions.event_document(e) for e in found]}
    if len(found) == limit:
        query = f"after={found[-1].id}&limit={limit}" + (f"&status={status}" if status else "")
        body["next"] = f"/subscriptions/{subscription_id}/events?{query}"
    return JSON(body)


@router.post(
    "/subscriptions/{subscription_id}/redeliver",
    summary="Send dead letters again (all, or the one named by event), same ids",
    responses=returns("Redelivered"),
)
def redeliver(
    subscription_id: str,
    session: SessionDep,
    caller: SubscriberDep,
    event: Annotated[str | None, Query(pattern=EVENT_ID, description="One event id")] = None,
) -> JSON:
    count = subscriptions.redeliver(session, caller, subscription_id, event)
    return JSON({"redelivered": count})


@router.get(
    "/events",
    summary="Your subscriptions' events as Server-Sent Events (resume with Last-Event-ID)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def events(
    request: Request,
    caller: SubscriberDep,
    last_event_id: Annotated[
        int | None,
        BeforeValidator(_last_event_id),
        Header(
            alias="Last-Event-ID",
            description="The id of the last event received (a whole number from 0 to "
            f"{BIGINT_MAX}): the stream resumes after it",
        ),
    ] = None,
) -> EventSourceResponse:
    release = request.app.state.event_streams.take(
        caller.key_id, request.app.state.settings.event_streams_per_key
    )
    stream = event_stream.follow(
        request.app.state.read_sessionmaker, caller, last_event_id, on_end=release
    )
    # A stream never started (the client gone before its first byte) runs no ``finally``:
    # its slot is given back when the generator is collected.
    weakref.finalize(stream, release)
    return EventSourceResponse(stream, ping=15)
