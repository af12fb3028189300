"""Generation on a tiny real model: greedy batches, log-likelihoods, adapters, and the API path through
`tunewise serve`'s server called with the official openai client."""
from __future__ import annotations

import threading

import pytest

from tunewise.core.errors import ModelError
from tunewise.core.schema import ApiModel

CONV = [{"role": "user", "content": "Ticket priority is high when"}]


@pytest.fixture(scope="module")
def local(tiny_model):
    """fp32, so the mechanics below compare to exact references on any CPU."""
    from tunewise.core.device import choose_device
    from tunewise.retrieval.generate import make_generator

    return make_generator(str(tiny_model), device=choose_device("cpu", "fp32"))


@pytest.mark.parametrize("native", [True, False])
def test_the_default_generator_follows_the_device_choice(tiny_model, monkeypatch, native):
    import torch

    from tunewise.core import device
    from tunewise.retrieval.generate import make_generator

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: native)
    generator = make_generator(str(tiny_model))
    assert generator.model.dtype == (torch.bfloat16 if native else torch.float32)
    assert generator.generate([CONV], max_new_tokens=3)[0].completion_tokens > 0


def test_greedy_generation_is_batched_and_deterministic(local):
    convs = [CONV, [{"role": "user", "content": "hello world"}], CONV]
    first = local.generate(convs, max_new_tokens=6)
    again = local.generate([CONV], max_new_tokens=6)
    assert first[0].text == first[2].text == again[0].text  # left padding does not change the answer
    assert all(0 < g.completion_tokens <= 6 and g.latency_ms > 0 for g in first)
    assert first[0].prompt_tokens == local.count_tokens(CONV)


def test_loglikelihood_matches_a_direct_computation(local):
    import torch

    replies = ["positive", "negative billing", "Paris is the capital of France."]
    scores = local.loglikelihood(CONV, replies)
    tok = local.tokenizer
    for reply, (logprob, count) in zip(replies, scores):
        prompt = tok(local.render(CONV), add_special_tokens=False)["input_ids"]
        full = tok(tok.apply_chat_template(CONV + [{"role": "assistant", "content": reply}], tokenize=False),
                   add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = local.model(torch.tensor([full])).logits[0].log_softmax(-1)
        expected = sum(float(logits[i - 1, full[i]]) for i in range(len(prompt), len(full)))
        assert count == len(full) - len(prompt)
        assert logprob == pytest.approx(expected, abs=1e-3)
    assert local.context_length == 512


def test_peft_adapter_is_loaded_on_top(tmp_path, tiny_model, local):
    from peft import LoraConfig, PeftModel, get_peft_model

    from tunewise.retrieval.scoring import score_by_full_passes

    import torch

    from tunewise.retrieval.generate import make_generator

    torch.manual_seed(1)
    peft_model = get_peft_model(local.model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    peft_model.unload()  # give the shared fixture its plain model back
    from tunewise.core.device import choose_device

    adapted = make_generator(str(tiny_model), adapter=tmp_path / "adapter", device=choose_device("cpu", "fp32"))
    assert not isinstance(adapted.model, PeftModel)  # a LoRA adapter is merged for answering
    unmerged = PeftModel.from_pretrained(make_generator(str(tiny_model), device=choose_device("cpu", "fp32")).model,
                                         tmp_path / "adapter")
    expected = score_by_full_passes(unmerged, local._ids(local.render(CONV)),
                                    [local._reply_ids(CONV, local._ids(local.render(CONV)), "positive")],
                                    local.tokenizer.pad_token_id)[0][0]
    assert adapted.loglikelihood(CONV, ["positive"])[0][0] == pytest.approx(expected, abs=1e-4)
    assert adapted.loglikelihood(CONV, ["positive"]) != local.loglikelihood(CONV, ["positive"])


@pytest.fixture
def server(local):
    from tunewise.retrieval.serve import ChatServer

    srv = ChatServer(local, "127.0.0.1", 0, token="s3cret-token", model_name="tiny")
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_served_model_answers_the_official_openai_client(server, local, monkeypatch):
    from openai import OpenAI

    from tunewise.retrieval.generate import make_generator

    client = OpenAI(base_url=server.url, api_key="s3cret-token", max_retries=0)
    reply = client.chat.completions.create(model="tiny", messages=CONV, max_tokens=6)
    expected = local.generate([CONV], max_new_tokens=6)[0]
    assert reply.choices[0].message.content == expected.text
    assert reply.usage.completion_tokens == expected.completion_tokens
    assert [m.id for m in client.models.list()] == ["tiny"]
    monkeypatch.setenv("TINY_KEY", "s3cret-token")
    api = make_generator(ApiModel(base_url=server.url, model="tiny", api_key_env="TINY_KEY"))
    assert [g.text for g in api.generate([CONV, CONV], max_new_tokens=6)] == [expected.text] * 2
    with pytest.raises(ModelError, match="gives no log-likelihoods"):
        api.loglikelihood(CONV, ["x"])


def test_wrong_token_and_bad_requests_are_refused(server, monkeypatch):
    import openai

    from tunewise.retrieval.generate import make_generator

    monkeypatch.setenv("WRONG_KEY", "nope")
    api = make_generator(ApiModel(base_url=server.url, model="tiny", api_key_env="WRONG_KEY", max_retries=0))
    with pytest.raises(ModelError, match="refused the key in WRONG_KEY") as caught:
        api.generate([CONV])
    assert "nope" not in str(caught.value)
    client = openai.OpenAI(base_url=server.url, api_key="s3cret-token", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="tiny", messages=[])


def test_down_endpoint_and_missing_key_are_clear_errors(monkeypatch):
    from tunewise.retrieval.generate import make_generator

    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    with pytest.raises(ModelError, match="NO_SUCH_KEY is not set"):
        make_generator(ApiModel(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="NO_SUCH_KEY"))
    monkeypatch.setenv("SOME_KEY", "k")
    api = make_generator(ApiModel(base_url="http://127.0.0.1:9/v1", model="m", api_key_env="SOME_KEY",
                                  timeout_s=2, max_retries=1))
    with pytest.raises(ModelError, match=r"cannot reach the API endpoint http://127.0.0.1:9/v1 .* 1 retries"):
        api.generate([CONV])


@pytest.mark.parametrize("kv_cache", [None, "static"])
def test_length_sorted_batches_answer_in_input_order(tiny_model, kv_cache):
    from tunewise.retrieval.generate import LocalGenerator

    convs = [[{"role": "user", "content": "hello world " * n}] for n in (6, 1, 4, 9, 2)]
    batched = LocalGenerator.load(str(tiny_model))
    batched.batch_size, batched.kv_cache = 2, kv_cache
    one_by_one = LocalGenerator.load(str(tiny_model))
    one_by_one.batch_size = 1
    got = batched.generate(convs, max_new_tokens=6)
    assert [g.prompt_tokens for g in got] == [batched.count_tokens(c) for c in convs]
    assert [g.text for g in got] == [g.text for g in one_by_one.generate(convs, max_new_tokens=6)]
