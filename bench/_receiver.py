"""A webhook receiver for the benchmarks, in a process of its own (as a real receiver is):
notes when each message arrived and keeps its body; read back over HTTP.

    python -m bench._receiver      # prints its port on the first line of stdout

- ``POST <any path>``: a message; answered 204 at once (keep-alive, HTTP/1.1).
- ``GET /count``: events received so far, without parsing them (a batch says its count up
  front).
- ``GET /dump``: every message so far, a JSON line each: ``{"at", "id", "body"}`` (``at``:
  ``time.time()`` at its arrival, ``body``: the message as sent).

In the process of the uploads it measured, it waited for their Python (one interpreter lock),
and that wait counted as delivery latency.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

BATCH_HEAD = b'{"type":"batch"'


def events_in(body: bytes) -> int:
    """How many events one message carries (a batch's count is in its head)."""
    if not body.startswith(BATCH_HEAD):
        return 1
    head = orjson.loads(body[: body.index(b',"events":')] + b"}}")
    return int(head["data"]["count"])


def main() -> None:
    lock = threading.Lock()
    raw: list[tuple[float, str, bytes]] = []
    counted = {"events": 0, "messages": 0}  # /count parses each message once

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            at = time.time()
            with lock:
                raw.append((at, self.headers.get("webhook-id", ""), body))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with lock:
                taken = list(raw)
            if self.path == "/count":
                fresh = taken[counted["messages"] :]
                counted["events"] += sum(events_in(body) for _, _, body in fresh)
                counted["messages"] = len(taken)
                answer = str(counted["events"]).encode()
            else:
                answer = b"".join(
                    b'{"at":'
                    + orjson.dumps(at)
                    + b',"id":'
                    + orjson.dumps(webhook_id)
                    + b',"body":'
                    + body
                    + b"}\n"
                    for at, webhook_id, body in taken
                )
            self.send_response(200)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # a listen backlog of 5 (socketserver's) dropped the connections beyond it when a
        # round's messages came at once, each then retried by TCP a second later
        request_queue_size = 512

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()  # until terminated


if __name__ == "__main__":
    main()
