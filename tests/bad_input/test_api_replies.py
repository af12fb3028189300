"""A server that answers, but not with a chat completion: one line naming the endpoint, never a crash."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakes import assert_clean_failure, build_tiny_embedder, invoke
from tunewise.core.errors import ModelError
from tunewise.core.schema import ApiModel

CONV = [{"role": "user", "content": "hi"}]
GOOD = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}}]}
REPLIES = {
    "null message": ("application/json", json.dumps({**GOOD, "choices": [{"index": 0, "message": None}]})),
    "no choices": ("application/json", json.dumps({k: v for k, v in GOOD.items() if k != "choices"})),
    "empty choices": ("application/json", json.dumps({**GOOD, "choices": []})),
    "choices not a list": ("application/json", json.dumps({**GOOD, "choices": "nope"})),
    "content not text": ("application/json", json.dumps({**GOOD, "choices": [{"index": 0, "message": {
        "role": "assistant", "content": {"a": 1}}}]})),
    "html page": ("text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    "html as json": ("application/json", "<html><body>oops</body></html>"),
    "truncated json": ("application/json", json.dumps(GOOD)[:40]),
    "json list": ("application/json", "[1, 2, 3]"),
    "json null": ("application/json", "null"),
    "bad usage": ("application/json", json.dumps({**GOOD, "usage": {"prompt_tokens": "many"}})),
}


class _Replier(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind, text = self.server.reply
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Replier)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("FAKE_KEY", "k")
    yield server
    server.shutdown()
    server.server_close()


def _api(server):
    return ApiModel(base_url=f"http://127.0.0.1:{server.server_port}/v1", model="m", api_key_env="FAKE_KEY",
                    max_retries=0, timeout_s=5)


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_malformed_replies_name_the_endpoint(endpoint, case):
    from tunewise.retrieval.generate import make_generator

    endpoint.reply = REPLIES[case]
    generator = make_generator(_api(endpoint))
    if case == "bad usage":  # the text is fine; only the token counts are unusable, so they are estimated
        assert generator.generate([CONV])[0].text == "hello"
        return
    with pytest.raises(ModelError, match=r"127\.0\.0\.1:\d+/v1/chat/completions sent a malformed reply"):
        generator.generate([CONV])


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("idx")
    embedder = build_tiny_embedder(root / "emb")
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text("Refunds are processed within five business days.")
    result = invoke(["index", "build", str(root / "docs"), "--index", str(root / "index"), "--embedder", str(embedder)])
    assert result.exit_code == 0, result.output
    return ["--index", str(root / "index"), "--embedder", str(embedder)]


@pytest.mark.parametrize("case", ["null message", "html page"])
def test_ask_against_a_malformed_endpoint_is_one_line(endpoint, index, case):
    endpoint.reply = REPLIES[case]
    api = _api(endpoint)
    result = invoke(["ask", "hi", *index, "--model", "m", "--api-base", api.base_url, "--api-key-env", "FAKE_KEY"])
    assert_clean_failure(result, api.base_url, "malformed reply")
