"""An OpenAI-compatible `/v1/chat/completions` for a local generator, on loopback by default.

stdlib `ThreadingHTTPServer`; one lock serialises generation (one model, one CPU). Decoding is greedy,
whatever temperature a client sends, so served answers match the other approaches' settings.
"""
from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tunewise.core.errors import TunewiseError

MAX_BODY = 2_000_000
DEFAULT_MAX_TOKENS = 128
MAX_TOKENS_CAP = 2048


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, generator, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
                 model_name: str | None = None):
        super().__init__((host, port), _Handler)
        self.generator = generator
        self.token = token
        self.model_name = model_name or generator.name
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: ChatServer
    protocol_version = "HTTP/1.1"

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
            messages, max_tokens = _parse_request(self._body())
        except ValueError as exc:
            return self._error(400, str(exc))
        with self.server.lock:
            generation = self.server.generator.generate([messages], max_new_tokens=max_tokens)[0]
        self._send(200, _completion(self.server.model_name, generation, max_tokens))

    def _authorised(self) -> bool:
        token = self.server.token
        given = self.headers.get("Authorization", "")
        if token is None or hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        self._error(401, "missing or wrong bearer token", "invalid_api_key")
        return False

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError(f"request body over {MAX_BODY} bytes")
        return self.rfile.read(length)

    def _error(self, status: int, message: str, code: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": code, "code": code}})

    def _send(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _parse_request(body: bytes) -> tuple[list[dict[str, str]], int]:
    try:
        request = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise ValueError(f"request body is not JSON ({exc.msg})") from None
    if not isinstance(request, dict):
        raise ValueError("request body must be a JSON object")
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
    return [{"role": m["role"], "content": m["content"]} for m in messages], limit


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
                 token: str | None = None, backend=None) -> ChatServer:
    """Load the model (or call `backend()` for another generator, e.g. a router) and bind; beyond
    loopback a bearer token is required, so nobody serves it open."""
    from tunewise.retrieval.generate import LocalGenerator

    if not is_loopback(host) and token is None:
        raise TunewiseError(f"serving on {host} (not loopback) needs a bearer token; pass --token-env VAR")
    generator = backend() if backend is not None else LocalGenerator.load(model, adapter=adapter)
    try:
        return ChatServer(generator, host, port, token)
    except OSError as exc:
        raise TunewiseError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
