"""Rate limits per API key and per anonymous client address, shared across workers.

Built on the ``limits`` library (its sliding-window counter: close to a true moving window at
the cost of two counters per caller, and supported by every storage). The counters live in
``BORDERLENS_RATE_LIMIT_STORAGE_URI``: ``memory://`` (the default) counts per process, so
with several uvicorn workers set a shared store, e.g. ``redis://127.0.0.1:6379/0``, and every
worker counts against the same budget. Over the limit: 429 ``rate_limited`` (problem+json)
with ``Retry-After`` in whole seconds. If the store cannot be reached, requests are let
through and a warning logged: losing the limiter must not take the service down.

Anonymous callers are counted by client address (behind a reverse proxy, run uvicorn with
``--proxy-headers`` and ``--forwarded-allow-ips`` so that address is the client's).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from app.errors import TooManyRequests
from app.queries import Caller
from app.settings import Settings

log = logging.getLogger(__name__)
NAMESPACE = "borderlens"


def _limits(text: str) -> list[RateLimitItem]:
    """``"3000/minute"``, ``"20/second; 3000/minute"``; ``none`` (or empty): no limit."""
    return [] if text.strip().lower() in ("", "none", "off") else parse_many(text)


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        uri = settings.rate_limit_storage_uri
        if not uri.startswith("async+"):
            uri = "async+" + uri
        # redis-py's asyncio client (``limits[redis]``), not the default coredis
        options = {"implementation": "redispy"} if "redis" in uri.split("://")[0] else {}
        self.storage = storage_from_string(uri, **options)
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)
        self.per_key = _limits(settings.rate_limit_per_key)
        self.anonymous = _limits(settings.rate_limit_anonymous)

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return bool(_limits(settings.rate_limit_per_key) or _limits(settings.rate_limit_anonymous))

    async def hit(self, caller: Caller, client_address: str) -> None:
        """Count one request; ``TooManyRequests`` (429) when the caller is over its limit."""
        if caller.key_id is not None:
            limits, who = self.per_key, f"key:{caller.key_id}"
        else:
            limits, who = self.anonymous, f"ip:{client_address}"
        for limit in limits:
            try:
                if await self.strategy.hit(limit, NAMESPACE, who):
                    continue
                stats = await self.strategy.get_window_stats(limit, NAMESPACE, who)
            except Exception as error:  # the shared store is away: serve rather than fail
                log.warning("rate limit store unavailable (%s); request let through", error)
                return
            self._refuse(caller, limit, stats.reset_time)

    @staticmethod
    def _refuse(caller: Caller, limit: RateLimitItem, reset_time: float) -> None:
        retry_after = max(1, math.ceil(reset_time - time.time()))
        raise TooManyRequests(
            f"over the rate limit of {limit} for this "
            f"{'key' if caller.key_id is not None else 'client address'}; "
            f"retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after_s": retry_after},
        )
