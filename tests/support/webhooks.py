"""A real HTTP webhook receiver on 127.0.0.1 (``http.server`` in a thread) that records what
it is sent, and can be slow, failing, or down (closed) for a while on the same port."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    port: int = 0
    status: int = 204
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0  # requests being answered now
    max_in_flight: int = 0  # the most at once
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing was delivered
                    return
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver.lock:
                    receiver.in_flight -= 1
                status = receiver.status
                if status < 300:
                    with receiver.lock:
                        receiver.received.append(
                            Received(
                                {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                            )
                        )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        # a backlog for every sender of two workers at once (the default 5 refuses some)
        ThreadingHTTPServer.request_queue_size = 64
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, count: int, timeout_s: float = 120.0) -> list[Received]:
        """Until ``count`` distinct webhook ids arrived (or the time is up)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.snapshot()
            if len({r.id for r in got}) >= count:
                return got
            time.sleep(0.05)
        return self.snapshot()


def refused(port: int) -> bool:
    """Nothing listens on ``port`` (the receiver is down)."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Dripper:
    """A receiver that reads each request, then answers one byte every ``drip_s`` seconds
    and never finishes: each read of its answer is quick, the answer never complete (what a
    per-read timeout alone does not end). Counts the requests it took in."""

    drip_s: float = 0.3
    port: int = 0
    requests: int = 0
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Dripper:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock, self.port = sock, sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\n" + b"x-slow: " + b"." * 10_000
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65_536)  # the request (headers and, for small ones, the body)
                self.requests += 1
                for byte in answer:
                    if self._stop.wait(self.drip_s):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the sender gave up and closed: what is expected
                return

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()


def verified(received: list[Received], secret: str) -> list[dict[str, Any]]:
    """Each payload, after its signature verified with the Standard Webhooks reference
    library (raises on any that does not)."""
    hook = Webhook(secret)
    return [hook.verify(r.body, r.headers) for r in received]
