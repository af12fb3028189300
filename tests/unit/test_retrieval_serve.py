"""The server's request parsing: what an OpenAI-compatible client may send, and what is refused."""
import json

import pytest

from tunewise.retrieval.serve import _parse_request, is_loopback


def body(**fields) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}).encode()


def test_max_tokens_defaults_and_aliases():
    assert _parse_request(body()) == ([{"role": "user", "content": "hi"}], 128)
    assert _parse_request(body(max_tokens=5))[1] == 5
    assert _parse_request(body(max_completion_tokens=7, max_tokens=5))[1] == 7


@pytest.mark.parametrize("raw,message", [
    (b"{not json", "not JSON"),
    (b"[]", "must be a JSON object"),
    (body(messages=[]), "'messages' must be a non-empty list"),
    (body(messages=[{"role": "robot", "content": "x"}]), "messages\\[0\\] needs a role"),
    (body(max_tokens=0), "max_tokens must be an integer"),
    (body(max_tokens="5"), "max_tokens must be an integer"),
])
def test_bad_requests(raw, message):
    with pytest.raises(ValueError, match=message):
        _parse_request(raw)


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                           ("0.0.0.0", False), ("example.org", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback
