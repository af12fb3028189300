"""The server's request parsing: what an OpenAI-compatible client may send, and what is refused."""
import json

import pytest

from tunewise.retrieval.serve import ChatRequest, is_loopback, parse_chat_request


def body(**fields) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def test_max_tokens_defaults_and_aliases():
    assert parse_chat_request(body()) == ChatRequest([{"role": "user", "content": "hi"}], 128, False)
    assert parse_chat_request(body(max_tokens=5)).max_tokens == 5
    assert parse_chat_request(body(max_completion_tokens=7, max_tokens=5)).max_tokens == 7
    assert parse_chat_request(body(stream=True, temperature=0.7, stream_options={"include_usage": True})).stream


@pytest.mark.parametrize("raw,message", [
    (b"{not json", "not JSON"),
    (b"[]", "must be a JSON object"),
    (body(messages=[]), "'messages' must be a non-empty list"),
    (body(messages=[{"role": "robot", "content": "x"}]), "messages\\[0\\] needs a role"),
    (body(max_tokens=0), "max_tokens must be an integer"),
    (body(max_tokens="5"), "max_tokens must be an integer"),
    (body(tools=[{"type": "function"}]), "unsupported request field\\(s\\): tools; this server accepts"),
    (body(functions=[], response_format={}), "unsupported request field\\(s\\): functions, response_format"),
    (body(n=3), "'n' must be 1"),
    (body(logprobs=True), "'logprobs' is not supported"),
    (body(presence_penalty=1.5), "'presence_penalty' is not supported"),
    (body(stream="yes"), "'stream' must be true or false"),
    (b"[" * 100_000, "not JSON"),
])
def test_bad_requests(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_chat_request(raw)


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("0.0.0.0", False), ("example.org", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback
