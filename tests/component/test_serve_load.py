"""`serve` under load, with the tiny real model: batching, a bounded queue (503 + Retry-After), request
timeouts (504), a connection cap, OpenAI streaming through the official client, and a client that leaves
mid-stream without stopping the server."""
import http.client
import json
import socket
import threading
import time
from contextlib import contextmanager

import pytest

from tunewise.retrieval.generate import LocalGenerator
from tunewise.retrieval.serve import ChatServer, Limits

CONV = [{"role": "user", "content": "What is the capital of France?"}]


class Gated:
    """The real generator behind a gate the test opens: holds the worker so requests pile up."""

    def __init__(self, inner):
        self.inner, self.name, self.gate = inner, inner.name, threading.Event()

    def generate(self, conversations, max_new_tokens=64):
        assert self.gate.wait(30)
        return self.inner.generate(conversations, max_new_tokens)


@pytest.fixture(scope="module")
def local(tiny_model):
    return LocalGenerator.load(str(tiny_model))


def _serve(generator, **limits):
    server = ChatServer(generator, port=0, model_name="tiny", limits=Limits(**limits))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def gated_server(local, **limits):
    """A server whose worker is held until the test opens the gate; always opened and shut down."""
    gated = Gated(local)
    server = _serve(gated, **limits)
    try:
        yield server, gated.gate
    finally:
        gated.gate.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def server(local):
    srv = _serve(local)
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(server, payload, timeout=30):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=timeout)
    conn.request("POST", "/v1/chat/completions", json.dumps(payload), {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), json.loads(response.read() or b"null")


def _in_threads(count, target):
    results = [None] * count
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, target())) for i in range(count)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    return threads, results


def test_streaming_through_the_official_client_matches_the_plain_reply(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    plain = client.chat.completions.create(model="tiny", messages=CONV, max_tokens=12)
    chunks = list(client.chat.completions.create(model="tiny", messages=CONV, max_tokens=12, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == plain.choices[0].message.content
    assert len(chunks) >= 3 and chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_unknown_fields_are_a_clear_400_through_the_client(server):
    import openai

    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="unsupported request field\\(s\\): tools"):
        client.chat.completions.create(model="tiny", messages=CONV, tools=[{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object", "properties": {}}}}])


def test_a_client_leaving_mid_stream_leaves_the_server_serving(server, local):
    sock = socket.create_connection(server.server_address[:2])
    body = json.dumps({"model": "tiny", "messages": CONV, "max_tokens": 2048, "stream": True}).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert b"text/event-stream" in sock.recv(4096)
    sock.close()  # gone mid-stream
    started = time.perf_counter()
    status, _, reply = _post(server, {"model": "tiny", "messages": CONV, "max_tokens": 6})
    assert status == 200
    assert reply["choices"][0]["message"]["content"] == local.generate([CONV], max_new_tokens=6)[0].text
    assert time.perf_counter() - started < 20


def test_a_full_queue_answers_503_with_retry_after(local):
    with gated_server(local, max_queue=1, max_batch=1) as (server, gate):
        payload = {"model": "tiny", "messages": CONV, "max_tokens": 4}
        threads, results = _in_threads(2, lambda: _post(server, payload))  # one running, one queued
        status, headers, reply = _post(server, payload)
        assert status == 503 and headers["Retry-After"] == "1" and "busy" in reply["error"]["message"]
        gate.set()
        for thread in threads:
            thread.join(30)
        assert [r[0] for r in results] == [200, 200]


def test_a_request_past_its_time_limit_is_504_and_the_next_is_served(local):
    with gated_server(local, request_timeout_s=0.5) as (server, gate):
        status, _, reply = _post(server, {"model": "tiny", "messages": CONV, "max_tokens": 4})
        assert status == 504 and "within 0.5 s" in reply["error"]["message"]
        gate.set()
        time.sleep(0.2)
        assert _post(server, {"model": "tiny", "messages": CONV, "max_tokens": 4})[0] == 200


def test_concurrent_requests_are_batched(local):
    with gated_server(local, max_batch=4) as (server, gate):
        payload = {"model": "tiny", "messages": CONV, "max_tokens": 5}
        threads, results = _in_threads(5, lambda: _post(server, payload))
        gate.set()
        for thread in threads:
            thread.join(30)
        assert all(r[0] == 200 for r in results)
        assert max(server.queue.batches) > 1 and sum(server.queue.batches) == 5


def test_connections_beyond_the_cap_are_answered_503_at_once(local):
    server = _serve(local, max_connections=2, request_timeout_s=5)
    idle = [socket.create_connection(server.server_address[:2]) for _ in range(2)]
    try:
        time.sleep(0.2)
        status, headers, _ = _post(server, {"model": "tiny", "messages": CONV, "max_tokens": 2}, timeout=5)
        assert status == 503 and headers["Retry-After"] == "1"
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        server.server_close()
