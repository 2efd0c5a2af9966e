"""A fake OpenAI-compatible server for tests: real HTTP on loopback, scripted replies.

openai 3.x sends through httpx2, which respx cannot intercept, so the client is tested over the
wire: this FastAPI app speaks `POST /v1/chat/completions` (JSON, or SSE `data: {...}` chunks
ending with `data: [DONE]` when `stream` is true), `POST /v1/embeddings` (deterministic unit
vectors, float or base64) and `GET /v1/models`.

A test scripts the next requests, in order, with `Reply`, `Fail` and `Stall`; when the script
is empty the server answers with `default`. Every request body is recorded.

    with serve() as fake:
        fake.script(Fail(500), Reply("Paris is the capital [1].", pieces=4))
        ...  # point the client at fake.base_url ("http://127.0.0.1:PORT/v1")
        assert len(fake.chat_requests) == 2

The same can be driven over HTTP (e.g. from another process) with `POST /control`
(`{"script": [{"kind": "reply", "text": "..."}, ...], "reset": true}`) and `GET /control`.
Run it by hand with `python tests/fake_openai.py --port 8089 --reply "..."`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass(frozen=True)
class Reply:
    """Answer with `text`; when streamed, in `pieces` chunks, `delay_s` apart."""

    text: str
    pieces: int = 3
    delay_s: float = 0.0
    stall_after: int | None = None  # streamed: stall (stall_s) after this many pieces
    stall_s: float = 0.0
    kind: str = "reply"


@dataclass(frozen=True)
class Fail:
    """Answer with an HTTP error status and an OpenAI-style error body."""

    status: int = 500
    message: str = "fake server error"
    retry_after: float | None = None
    kind: str = "fail"


@dataclass(frozen=True)
class Stall:
    """Send nothing for `seconds` (longer than the client's timeout), then `then` (a Reply)."""

    seconds: float = 10.0
    then: str = "too late"
    kind: str = "stall"


Behaviour = Reply | Fail | Stall


def _behaviour(spec: dict[str, Any]) -> Behaviour:
    kind = spec.get("kind", "reply")
    args = {k: v for k, v in spec.items() if k != "kind"}
    if kind == "fail":
        return Fail(**args)
    if kind == "stall":
        return Stall(**args)
    return Reply(**args)


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector for `text` (same text, same vector)."""
    raw = b""
    counter = 0
    while len(raw) < dim * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    values = [(b - 127.5) / 127.5 for b in raw[: dim * 4 : 4]]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


@dataclass
class FakeOpenAI:
    """The server's state: what to answer next and what it has received. Thread-safe."""

    default: Behaviour = field(default_factory=lambda: Reply("NOT_IN_DOCUMENTS"))
    model: str = "fake-model"
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"path", "body", "headers", "t"}
    base_url: str = ""
    _queue: list[Behaviour] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)

    # -- scripting --------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Append behaviours for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    def _next(self) -> Behaviour:
        with self._lock:
            return self._queue.pop(0) if self._queue else self.default

    def _record(self, path: str, body: dict[str, Any], request: Request) -> None:
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": dict(request.headers),
                                  "t": time.monotonic()})

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    def last_messages(self) -> list[dict[str, Any]]:
        """The `messages` of the last chat request."""
        return list(self.chat_requests[-1]["messages"])

    # -- the app ----------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="fake-openai")

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self._record("/v1/chat/completions", body, request)
            behaviour = self._next()
            if isinstance(behaviour, Fail):
                headers = {} if behaviour.retry_after is None else {"retry-after": str(behaviour.retry_after)}
                return JSONResponse(
                    {"error": {"message": behaviour.message, "type": "server_error", "code": behaviour.status}},
                    status_code=behaviour.status, headers=headers,
                )
            if isinstance(behaviour, Stall):
                if not await self._sleep(behaviour.seconds, request):
                    return Response(status_code=499)
                behaviour = Reply(behaviour.then)
            if body.get("stream"):
                return StreamingResponse(self._sse(behaviour, body, request), media_type="text/event-stream")
            return JSONResponse(self._completion(behaviour.text, body))

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Response:
            body = await request.json()
            self._record("/v1/embeddings", body, request)
            inputs = body.get("input", [])
            if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
                inputs = [inputs]
            dim = int(body.get("dimensions") or 16)
            data = []
            for i, item in enumerate(inputs):
                vec = embedding(item if isinstance(item, str) else json.dumps(item), dim)
                value: Any = vec
                if body.get("encoding_format") == "base64":
                    value = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
                data.append({"object": "embedding", "index": i, "embedding": value})
            return JSONResponse({"object": "list", "data": data, "model": body.get("model", self.model),
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "fake"}]}

        @app.post("/control")
        async def control(request: Request) -> dict[str, Any]:
            spec = await request.json()
            if spec.get("reset"):
                self.reset()
            if "default" in spec:
                self.default = _behaviour(spec["default"])
            self.script(*(_behaviour(s) for s in spec.get("script", [])))
            return {"queued": len(self._queue)}

        @app.get("/control")
        async def state() -> dict[str, Any]:
            with self._lock:
                return {"queued": [asdict(b) for b in self._queue], "requests": list(self.requests)}

        return app

    async def _sleep(self, seconds: float, request: Request) -> bool:
        """Sleep, waking early when the client hangs up or the server stops; False if so."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self._stopping.is_set() or await request.is_disconnected():
                return False
            await asyncio.sleep(0.02)
        return True

    def _completion(self, text: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 1, "completion_tokens": max(1, len(text.split())), "total_tokens": 2},
        }

    async def _sse(self, reply: Reply, body: dict[str, Any], request: Request) -> AsyncIterator[bytes]:
        model = body.get("model", self.model)

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                                  "logprobs": None}]}
            return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

        yield event({"role": "assistant", "content": ""})
        for i, piece in enumerate(split_pieces(reply.text, reply.pieces)):
            if i == reply.stall_after and not await self._sleep(reply.stall_s, request):
                return  # the client gave up or the server is stopping
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            yield event({"content": piece})
        yield event({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "choices": [],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            yield f"data: {json.dumps(usage)}\n\n".encode()
        yield b"data: [DONE]\n\n"


def split_pieces(text: str, n: int) -> list[str]:
    """`text` cut into at most `n` consecutive, non-empty pieces that join back to it."""
    n = max(1, min(n, len(text)))
    if not text:
        return []
    size = -(-len(text) // n)
    return [text[i : i + size] for i in range(0, len(text), size)]


@contextmanager
def serve(fake: FakeOpenAI | None = None) -> Iterator[FakeOpenAI]:
    """Run the fake on 127.0.0.1 (a free port) in a background thread; stop it on exit."""
    fake = fake or FakeOpenAI()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off", timeout_graceful_shutdown=2,
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-openai")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake OpenAI server did not start")
        time.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--reply", default="NOT_IN_DOCUMENTS", help="the default reply text")
    args = parser.parse_args()
    fake = FakeOpenAI(default=Reply(args.reply))
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
