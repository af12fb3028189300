"""An OpenAI-compatible `/v1/chat/completions` for a local generator, on loopback by default.

stdlib `ThreadingHTTPServer` in front of one generation worker (`retrieval.scheduler`): concurrent
requests are batched, the queue is bounded (503 with Retry-After beyond it), every request has a time
limit (504), connections beyond a cap are answered 503 at once, and `stream: true` sends server-sent
events as tokens are decoded. A client that leaves mid-stream stops its generation at the next token.
Decoding is greedy, whatever temperature a client sends, so served answers match the other approaches.
"""
from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tunewise.core.errors import TunewiseError
from tunewise.retrieval.scheduler import GenerationQueue, Job, pieces_of

MAX_BODY = 2_000_000
DEFAULT_MAX_TOKENS = 128
MAX_TOKENS_CAP = 2048
RETRY_AFTER_S = 1
# Fields an OpenAI client may send that this server honours (or, for sampling, ignores: decoding is greedy).
ACCEPTED_FIELDS = {"model", "messages", "max_tokens", "max_completion_tokens", "stream", "stream_options",
                   "temperature", "top_p", "n", "user", "seed", "presence_penalty", "frequency_penalty", "logprobs"}
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Limits:
    max_queue: int = 16           # jobs waiting for the model beyond the running batch
    max_batch: int = 8            # concurrent requests generated together
    request_timeout_s: float = 60.0
    max_connections: int = 64     # open connections; more are answered 503 without a thread


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, generator, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
                 model_name: str | None = None, limits: Limits = Limits()):
        super().__init__((host, port), _Handler)
        self.generator = generator
        self.token = token
        self.model_name = model_name or generator.name
        self.limits = limits
        self.queue = GenerationQueue(generator, limits.max_queue, limits.max_batch)
        self.slots = threading.BoundedSemaphore(limits.max_connections)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):  # overloaded: a short-lived refusal, no handler
            threading.Thread(target=self._refuse, args=(request,), daemon=True).start()
            return
        super().process_request(request, client_address)

    def _refuse(self, request) -> None:
        """Read what the client sent within a second (so it sees the answer, not a reset), answer 503."""
        try:
            request.settimeout(1.0)
            request.recv(MAX_BODY)
            request.sendall(_busy_response())
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

    def setup(self):
        self.timeout = self.server.limits.request_timeout_s  # a client that stalls mid-request is dropped
        super().setup()

    def log_message(self, format, *args):  # request lines would carry nothing useful, and never the key
        pass

    def do_GET(self):
        if not self._authorised():
            return
        if self.path.rstrip("/") == "/v1/models":
            return self._send(200, {"object": "list", "data": [
                {"id": self.server.model_name, "object": "model", "owned_by": "tunewise"}]})
        self._error(404, f"no route {self.path}; use POST /v1/chat/completions")

    def do_POST(self):
        if not self._authorised():
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {self.path}; use POST /v1/chat/completions")
        try:
            request = parse_chat_request(self._body())
        except ValueError as exc:
            return self._error(400, str(exc))
        job = Job(request.messages, request.max_tokens, stream=request.stream)
        if not self.server.queue.submit(job):
            return self._error(503, "the server is busy; retry shortly", "server_busy",
                               {"Retry-After": str(RETRY_AFTER_S)})
        if request.stream:
            return self._stream(job)
        if not job.done.wait(self.server.limits.request_timeout_s):
            job.cancelled.set()
            return self._timed_out()
        if job.error is not None:
            return self._error(500, f"generation failed ({type(job.error).__name__})", "server_error")
        self._send(200, _completion(self.server.model_name, job.result, job.max_tokens))

    def _stream(self, job: Job) -> None:
        chunk_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        pieces = pieces_of(job, self.server.limits.request_timeout_s)
        try:
            first = next(pieces, None)
        except TimeoutError:
            return self._timed_out()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            self._event(_chunk(chunk_id, created, self.server.model_name, {"role": "assistant", "content": ""}))
            for piece in ([first] if first is not None else []):
                self._event(_chunk(chunk_id, created, self.server.model_name, {"content": piece}))
            for piece in pieces:
                self._event(_chunk(chunk_id, created, self.server.model_name, {"content": piece}))
            job.done.wait(self.server.limits.request_timeout_s)
            finish = "length" if job.result and job.result.completion_tokens >= job.max_tokens else "stop"
            self._event(_chunk(chunk_id, created, self.server.model_name, {}, finish))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except CLIENT_GONE:
            job.cancelled.set()  # the client left (or time ran out): stop generating for it

    def _event(self, payload: dict) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode("utf-8") + b"\n\n")
        self.wfile.flush()

    def _timed_out(self) -> None:
        self._error(504, f"generation did not finish within {self.server.limits.request_timeout_s:g} s",
                    "timeout", {"Retry-After": str(RETRY_AFTER_S)})

    def _authorised(self) -> bool:
        token = self.server.token
        given = self.headers.get("Authorization", "")
        if token is None or hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        self._error(401, "missing or wrong bearer token", "invalid_api_key")
        return False

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ValueError("Content-Length is not a number") from None
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _error(self, status: int, message: str, code: str = "invalid_request_error",
               headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": code, "code": code}}, headers)

    def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except CLIENT_GONE:
            self.close_connection = True


def _busy_response() -> bytes:
    body = json.dumps({"error": {"message": "the server is busy; retry shortly", "type": "server_busy",
                                 "code": "server_busy"}}).encode()
    return (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: {RETRY_AFTER_S}"
            f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int
    stream: bool


def parse_chat_request(body: bytes) -> ChatRequest:
    """The request, or ValueError with the message a client sees (HTTP 400)."""
    try:
        request = json.loads(body or b"null")
    except (json.JSONDecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise ValueError(f"request body is not JSON ({getattr(exc, 'msg', 'unreadable')})") from None
    if not isinstance(request, dict):
        raise ValueError("request body must be a JSON object")
    _check_fields(request)
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str) \
                or message.get("role") not in ("system", "user", "assistant"):
            raise ValueError(f"messages[{i}] needs a role (system, user or assistant) and text content")
    limit = next((request[key] for key in ("max_completion_tokens", "max_tokens") if request.get(key) is not None),
                 DEFAULT_MAX_TOKENS)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_TOKENS_CAP:
        raise ValueError(f"max_tokens must be an integer from 1 to {MAX_TOKENS_CAP}")
    stream = request.get("stream", False)
    if not isinstance(stream, bool):
        raise ValueError("'stream' must be true or false")
    return ChatRequest([{"role": m["role"], "content": m["content"]} for m in messages], limit, stream)


def _check_fields(request: dict) -> None:
    unknown = sorted(str(k) for k in request if k not in ACCEPTED_FIELDS)
    if unknown:
        raise ValueError(f"unsupported request field(s): {', '.join(unknown)}; this server accepts "
                         f"{', '.join(sorted(ACCEPTED_FIELDS))}")
    if request.get("n", 1) != 1:
        raise ValueError("'n' must be 1: this server returns one choice")
    if request.get("logprobs"):
        raise ValueError("'logprobs' is not supported by this server")
    for key in ("presence_penalty", "frequency_penalty"):
        if request.get(key, 0) not in (0, 0.0, None):
            raise ValueError(f"'{key}' is not supported (decoding is greedy); leave it out or send 0")


def _chunk(chunk_id: str, created: int, model: str, delta: dict, finish: str | None = None) -> dict:
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _completion(model: str, generation, max_tokens: int) -> dict:
    finish = "length" if generation.completion_tokens >= max_tokens else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": generation.text},
                     "finish_reason": finish}],
        "usage": {"prompt_tokens": generation.prompt_tokens, "completion_tokens": generation.completion_tokens,
                  "total_tokens": generation.prompt_tokens + generation.completion_tokens},
        **({"tunewise": generation.metadata} if getattr(generation, "metadata", None) else {}),
    }


def is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_server(model: str, adapter=None, host: str = "127.0.0.1", port: int = 8000,
                 token: str | None = None, limits: Limits = Limits(), backend=None) -> ChatServer:
    """Load the model (or call `backend()` for another generator, e.g. a router) and bind; beyond
    loopback a bearer token is required, so nobody serves it open."""
    from tunewise.retrieval.generate import make_generator

    if not is_loopback(host) and token is None:
        raise TunewiseError(f"serving on {host} (not loopback) needs a bearer token; pass --token-env VAR")
    generator = backend() if backend is not None else make_generator(model, adapter=adapter)
    try:
        return ChatServer(generator, host, port, token, limits=limits)
    except OSError as exc:
        raise TunewiseError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
