"""The one ASGI middleware in front of Gradio's server: login, failed-login throttle, upload room.

Gradio's `launch(auth=...)` checks the login on the routes that serve the app's data and events,
but many of its routes answer without one (`/openapi.json`, `/gradio_api/cancel`,
`/gradio_api/reset`, `/gradio_api/startup-events`, `/gradio_api/app_id`, the run-history page,
...), and a new Gradio version may add more. So with `CHATBOT_AUTH` set this middleware turns
the rule around: a request without a valid login cookie gets 401 unless its route is in
`OPEN_ROUTES`, the short list the login page itself needs, each with the reason it stays open.

It also counts failed logins per client address (`CHATBOT_LOGIN_MAX_FAILURES` within
`CHATBOT_LOGIN_WINDOW_S`; then 429 with Retry-After), and admits a POST to
`/gradio_api/upload` only while Gradio's upload cache has room for it
(`CHATBOT_UPLOAD_CACHE_MB`), or never when `CHATBOT_ALLOW_UPLOADS=false`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection

from chatbot.config import Settings
from chatbot.web.temp import sweep, used_bytes

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/gradio_api/upload"
LOGIN_PATHS = ("/login", "/login/")
# What a client without a login may reach when CHATBOT_AUTH is set: path (`/x/*`: any path
# under `/x/`) -> (methods, why it stays open). Everything else, including routes a later
# Gradio adds, answers 401 until the client logs in. A path under `/assets/` or `/static/` can
# only reach Gradio's file handlers there, which refuse paths leaving their folder.
OPEN_ROUTES: dict[str, tuple[frozenset[str], str]] = {
    "/": (frozenset({"GET", "HEAD"}), "the login form: without a login Gradio serves it in place of the app, with "
          "no components, documents or answers (it does embed the parameter list of the public /ask API)"),
    "/login": (frozenset({"POST"}), "the login itself; failed attempts are throttled per client address"),
    "/login/": (frozenset({"POST"}), "the same, with a trailing slash"),
    "/logout": (frozenset({"GET"}), "clears the login cookies; without a login there is nothing to end"),
    "/assets/*": (frozenset({"GET"}), "the login page's scripts and styles: Gradio's frontend bundle, "
                       "the same files for every Gradio 6.31 install"),
    "/static/*": (frozenset({"GET"}), "a script of the Gradio package the login page loads (iframeResizer)"),
    "/theme.css": (frozenset({"GET"}), "the login page's colours and fonts"),
    "/favicon.ico": (frozenset({"GET"}), "the icon a browser asks for on any page, the login page included"),
    "/gradio_api/startup-events": (frozenset({"GET"}), "launch() calls it, without a login, to start the queue; "
                                   "every later call only answers false"),
}
MAX_TRACKED_CLIENTS = 10_000  # failure records kept at most; the oldest go first past this


class LoginThrottle:
    """Failed logins per client address in a sliding window; attempts in flight count as failures
    until answered, so parallel guesses cannot slip past the limit."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.failures: dict[str, deque[float]] = {}
        self.pending: dict[str, int] = {}

    def retry_after(self, client: str, now: float) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        times = self.failures.get(client)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if times is not None and not times:
            del self.failures[client]
        if len(times or ()) + self.pending.get(client, 0) < self.max_failures:
            return 0.0
        return max(times[0] + self.window_s - now, 0.001) if times else self.window_s

    def begin(self, client: str) -> None:
        self.pending[client] = self.pending.get(client, 0) + 1

    def end(self, client: str, failed: bool, now: float) -> None:
        self.pending[client] -= 1
        if not self.pending[client]:
            del self.pending[client]
        if not failed:
            self.failures.pop(client, None)
            return
        if client not in self.failures and len(self.failures) >= MAX_TRACKED_CLIENTS:
            del self.failures[next(iter(self.failures))]  # dicts keep insertion order: the oldest
        self.failures.setdefault(client, deque()).append(now)


class WebGuard:
    """ASGI middleware for Gradio's app (passed to `launch` through `app_kwargs["middleware"]`)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, cache_dir: Path, auth_required: bool) -> None:
        self.app = app
        self.auth_required = auth_required
        self.allow_uploads = settings.allow_uploads
        self.cache_dir = cache_dir
        self.cache_max_bytes = settings.upload_cache_mb * 1e6
        self.cache_max_age_s = settings.upload_cache_minutes * 60
        self.cache_reserved = 0  # bytes of uploads admitted and still arriving
        self.throttle = LoginThrottle(settings.login_max_failures, settings.login_window_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope.get("method", "GET")
        if self.auth_required and not self._logged_in(scope) and not is_open(path, method):
            await _refuse(scope, send, 401, {"error": "Not authenticated", "auth_message":
                                             "Log in first with the user and password set in CHATBOT_AUTH."})
            return
        if method == "POST" and path in LOGIN_PATHS and self.auth_required:
            await self._login(scope, receive, send)
        elif method == "POST" and path == UPLOAD_PATH:
            await self._upload(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- login ------------------------------------------------------------------------------

    @staticmethod
    def _logged_in(scope: Scope) -> bool:
        """The same test as Gradio's: a login cookie whose token the server handed out."""
        app = scope.get("app")
        tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", None)
        if not tokens or cookie_id is None:
            return False
        cookies = HTTPConnection(scope).cookies
        return any(cookies.get(name) in tokens
                   for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"))

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = (scope.get("client") or ("unknown",))[0]
        wait = self.throttle.retry_after(client, time.monotonic())
        if wait:
            log.warning("login throttled client=%s retry_after_s=%.0f", client, wait)
            seconds = math.ceil(wait)
            await _refuse(scope, send, 429, f"Too many failed logins from this address (at most "
                          f"{self.throttle.max_failures} in {self.throttle.window_s:g} s). Try again in {seconds} s.",
                          headers=[(b"retry-after", str(seconds).encode())])
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        self.throttle.begin(client)
        try:
            await self.app(scope, receive, watch)
        finally:
            # Gradio answers a wrong user or password with 400; 422 (no form fields) is no guess
            failed = not status or status[0] == 400
            self.throttle.end(client, failed=failed, now=time.monotonic())
            if failed:
                log.info("login failed client=%s", client)

    # -- uploads ----------------------------------------------------------------------------

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.allow_uploads:
            await _refuse(scope, send, 403, "Uploads are turned off on this server (CHATBOT_ALLOW_UPLOADS=false).")
            return
        length_header = HTTPConnection(scope).headers.get("content-length", "")
        if not length_header.isdigit():
            await _refuse(scope, send, 411, "Send the upload with a Content-Length header (browsers and "
                          "gradio_client do): the server checks it against the room left for uploads.")
            return
        length = int(length_header)
        used = await anyio.to_thread.run_sync(used_bytes, self.cache_dir)
        if used + self.cache_reserved + length > self.cache_max_bytes:
            await anyio.to_thread.run_sync(sweep, self.cache_dir, self.cache_max_age_s)
            used = await anyio.to_thread.run_sync(used_bytes, self.cache_dir)
        if used + self.cache_reserved + length > self.cache_max_bytes:  # no await from here to the reservation
            in_use = (used + self.cache_reserved) / 1e6
            log.warning("upload refused: cache full used_mb=%.1f upload_mb=%.1f", in_use, length / 1e6)
            await _refuse(scope, send, 413, (
                f"The server's upload space is full: {in_use:.1f} of {self.cache_max_bytes / 1e6:g} MB in use, "
                f"and this upload is {length / 1e6:.1f} MB. Try again later (files not indexed within "
                f"{self.cache_max_age_s / 60:g} minutes are deleted), or raise CHATBOT_UPLOAD_CACHE_MB on the server."))
            return
        self.cache_reserved += length
        try:
            await self.app(scope, receive, send)
        finally:
            self.cache_reserved -= length


def is_open(path: str, method: str) -> bool:
    """Whether OPEN_ROUTES lets a client without a login make this request."""
    rule = OPEN_ROUTES.get(path)
    if rule is None and path.count("/") >= 2:
        rule = OPEN_ROUTES.get(path[: path.index("/", 1) + 1] + "*")
    return rule is not None and method in rule[0]


async def _refuse(scope: Scope, send: Send, status: int, detail: Any,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer without calling the app: JSON `{"detail": ...}` like FastAPI's errors (for a
    websocket, close it with policy violation)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def middleware(settings: Settings, cache_dir: Path, *, auth_required: bool) -> list[Middleware]:
    """What `launch(app_kwargs={"middleware": ...})` takes: the guard, configured."""
    return [Middleware(WebGuard, settings=settings, cache_dir=cache_dir, auth_required=auth_required)]
