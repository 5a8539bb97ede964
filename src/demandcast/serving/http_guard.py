"""ASGI middleware in front of the service: body size limit and optional bearer-token auth.

* Bodies over ``max_body_bytes`` get 413 before any parsing (by Content-Length, or while
  reading a body sent without one).
* With a token (``DEMANDCAST_API_TOKEN``; off when unset or empty), every path except the
  probes, ``/metrics`` and the API docs needs ``Authorization: Bearer <token>``, else 401.
  The comparison takes constant time.
"""

from __future__ import annotations

import hmac
import json

OPEN_PATHS = ("/livez", "/readyz", "/healthz", "/metrics", "/docs", "/docs.json", "/schema.json",
              "/static_content")


class HttpGuard:
    def __init__(self, app, max_body_bytes: int = 8_000_000, token: str | None = None):
        self.app, self.max_body_bytes = app, int(max_body_bytes)
        self.token = token.encode() if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        if self.token is not None and not path.startswith(OPEN_PATHS):
            given = headers.get("authorization", b"")
            scheme, _, secret = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(secret.strip(), self.token):
                return await _error(send, 401, "missing or wrong bearer token: send the header "
                                    "'Authorization: Bearer <token>' (the server's DEMANDCAST_API_TOKEN)",
                                    [(b"www-authenticate", b"Bearer")])
        length = headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body_bytes
            except ValueError:
                return await _error(send, 400, "the Content-Length header is not a number")
            if too_big:
                return await _error(send, 413, self._too_big(int(length)))
            return await self.app(scope, receive, send)
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        # No Content-Length (chunked): read the body here, up to the limit, then replay it.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return await _error(send, 413, self._too_big(size, at_least=True))
            if not message.get("more_body", False):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    def _too_big(self, size: int, at_least: bool = False) -> str:
        return (f"request body {'over ' if at_least else ''}{size:,} bytes exceeds the limit of "
                f"{self.max_body_bytes:,} bytes (serve.max_body_bytes): split it into several requests")


async def _error(send, status: int, message: str, extra_headers=()) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *extra_headers]})
    await send({"type": "http.response.body", "body": body})
