"""Where a webhook goes: to the addresses checked when it was allowed, in turn, with the URL's
host in ``Host`` (a name re-pointed after the check cannot send it elsewhere)."""

from __future__ import annotations

import subprocess

import pytest

from app.services import delivery, subscriptions
from app.services.sites import SiteDraft, create_sites
from tests.support.alerts import Node
from tests.support.webhooks import Receiver, verified

pytestmark = pytest.mark.slow


def test_a_webhook_goes_to_the_addresses_checked_with_the_name_in_host(
    node: Node, receiver: Receiver, workers: list[subprocess.Popen[bytes]]
) -> None:
    """The worker connects to the addresses it checked (no second resolution a re-pointed
    name could send elsewhere), with the URL's host and port in ``Host``."""
    caller = node.caller()
    url = f"http://localhost:{receiver.port}/hook"
    allowed = node.settings.model_copy(update={"webhook_allowed_hosts": ["localhost"]})
    with node.sessions() as session:
        record, _ = subscriptions.create(
            session,
            allowed,
            caller,
            subscriptions.NewSubscription("by name", {"country": "CMR"}, ["site.created"], url),
        )
        create_sites(
            session,
            node.boundaries(session),
            [SiteDraft(kind="mine", name="Named", lon=14.1, lat=4.2)],
            caller,
        )
    workers.append(node.worker(BORDERLENS_WEBHOOK_ALLOWED_HOSTS='["localhost"]'))
    got = receiver.wait_for(1, timeout_s=60)
    assert len(got) == 1
    assert got[0].headers["host"] == f"localhost:{receiver.port}"
    verified(got, record.secret)


def test_the_checked_addresses_are_tried_in_turn(receiver: Receiver) -> None:
    """A name listing several addresses: one refusing (127.0.0.2: the receiver listens on
    127.0.0.1 only) is passed over for the next, as a resolver's list is."""
    import asyncio
    import ipaddress

    import httpx

    from app.services.webhook_targets import Target

    target = Target(
        f"http://localhost:{receiver.port}/hook",
        "localhost",
        receiver.port,
        (ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")),
    )

    async def post() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            return await delivery.DeliveryWorker._post(
                client, target, b'{"type":"t"}', {"webhook-id": "msg_x"}
            )

    assert asyncio.run(post()) == 204
    [got] = receiver.wait_for(1, timeout_s=10)
    assert got.headers["host"] == f"localhost:{receiver.port}"
