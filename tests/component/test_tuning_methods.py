"""Every method, end to end on the tiny model: loss falls, artefacts load with plain transformers/peft."""
import json

import pytest

from tests.fakes import write_jsonl
from tunewise.tuning import run_tuning
from tunewise.tuning.config import TuneConfig

SFT = [{"prompt": f"What is the capital of France? {i}", "completion": "Paris is the capital of France."}
       for i in range(12)]
CLS = [{"text": f"Refunds are processed {i}", "label": "billing"} for i in range(6)] + \
      [{"text": f"the payment system is down {i}", "label": "technical"} for i in range(6)]


@pytest.fixture
def sft_data(tmp_path):
    return write_jsonl(tmp_path / "sft.jsonl", SFT)


@pytest.fixture
def cls_data(tmp_path):
    return write_jsonl(tmp_path / "cls.jsonl", CLS)


def _config(tiny_model, data, out, **kw):
    base = dict(model=str(tiny_model), train=data, eval=data, out=out, max_steps=12, batch_size=4, lr=1e-2,
                save_steps=6, device="cpu")
    return TuneConfig(**{**base, **kw})


def _logits(model, tokenizer, text="What is the capital of France?"):
    import torch

    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def test_lora_adapter_loads_with_plain_peft(tiny_model, sft_data, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "lora"
    run = run_tuning(_config(tiny_model, sft_data, out, method="lora"))
    assert run.completed and run.steps == 12 and run.eval_loss_after < run.eval_loss_before
    assert 0 < run.trainable_params < run.total_params and run.peak_memory_mb is not None
    assert run.versions["peft"] and len(run.data_hash) == 64 and run.losses[0].step == 1
    assert not (out / "checkpoints").exists() and (out / "tune.yaml").is_file()
    saved = json.loads((out / "run.json").read_text())
    assert saved["config"]["lr"] == 1e-2 and saved["config"]["lora_r"] == 16  # resolved default recorded
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(out))
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert not _logits(base, tokenizer).allclose(_logits(tuned, tokenizer))


def test_full_with_top_layers_trains_only_those(tiny_model, sft_data, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "full"
    run = run_tuning(_config(tiny_model, sft_data, out, method="full", train_top_layers=1, lr=5e-3))
    assert run.eval_loss_after < run.eval_loss_before
    before, after = load_file(str(tiny_model / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert before["model.layers.0.self_attn.q_proj.weight"].equal(after["model.layers.0.self_attn.q_proj.weight"])
    assert before["model.embed_tokens.weight"].equal(after["model.embed_tokens.weight"])
    assert not before["model.layers.1.self_attn.q_proj.weight"].equal(after["model.layers.1.self_attn.q_proj.weight"])
    assert AutoModelForCausalLM.from_pretrained(out).config.num_hidden_layers == 2


def test_prompt_tuning_adapter_loads_with_plain_peft(tiny_model, sft_data, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "pt"
    run = run_tuning(_config(tiny_model, sft_data, out, method="prompt-tuning", lr=0.1, num_virtual_tokens=4))
    assert run.eval_loss_after < run.eval_loss_before and run.trainable_params == 4 * 64
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(out))
    assert model.peft_config["default"].num_virtual_tokens == 4


@pytest.mark.parametrize("method", ["head", "lora", "full"])
def test_classifiers_predict_labels(tiny_model, cls_data, tmp_path, method):
    from tunewise.tuning.head import load_classifier

    out = tmp_path / method
    run = run_tuning(_config(tiny_model, cls_data, out, method=method, task="classification", max_steps=15))
    assert run.labels == ["billing", "technical"] and run.eval_loss_after < run.eval_loss_before
    classifier = load_classifier(out)
    assert classifier.labels == ["billing", "technical"]
    assert classifier.predict(["Refunds are processed 99", "the payment system is down 99"]) == ["billing", "technical"]
    scored = classifier.predict_with_confidence(["Refunds are processed 99", "the payment system is down 99"])
    assert [label for label, _ in scored] == ["billing", "technical"]
    assert all(0.5 < confidence <= 1.0 for _, confidence in scored)  # the chosen one of two labels


def test_a_classifier_scores_a_padded_batch_as_each_example_alone(tiny_model, cls_data, tmp_path):
    from tunewise.core.data import Example
    from tunewise.eval.systems import ClassifierSystem
    from tunewise.tuning.head import load_classifier

    out = tmp_path / "head"
    run_tuning(_config(tiny_model, cls_data, out, method="head", task="classification", max_steps=6))
    system = ClassifierSystem(load_classifier(out))
    texts = ["Refunds are processed", "the payment system is down again and again since this morning 7",
             "why was I charged twice for one ticket, and when does the refund for the second charge arrive",
             "down", "billing question about an invoice 3"] * 4            # 20: a batch of 16 and one of 4
    examples = [Example(id=str(i), line=i + 1, prompt=t, response="billing") for i, t in enumerate(texts)]
    batched = system.predict(examples)
    alone = [system.predict([e])[0] for e in examples]
    assert [p.text for p in batched] == [p.text for p in alone]
    assert [p.confidence for p in batched] == pytest.approx([p.confidence for p in alone], abs=1e-4)
    assert [p.prompt_tokens for p in batched] == [p.prompt_tokens for p in alone]
    # a batch's wall time is shared: the 20 examples carry one latency per batch, two in all
    assert len({p.latency_ms for p in batched}) <= 2


def test_head_leaves_the_base_untouched(tiny_model, cls_data, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    out = tmp_path / "head"
    run = run_tuning(_config(tiny_model, cls_data, out, method="head", max_steps=3))
    assert run.trainable_params == 64 * 2  # one score row per label, no bias
    base = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(str(tiny_model)).model.parameters())
    assert run.total_params == base + 64 * 2   # the frozen base counts (calibration reads the model's size)
    assert set(load_file(str(out / "head.safetensors"))) == {"score.weight"}


def test_export_merge_matches_the_adapter(tiny_model, sft_data, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunewise.tuning.export import merge_adapter

    adapter = tmp_path / "lora"
    run_tuning(_config(tiny_model, sft_data, adapter, method="lora", max_steps=4))
    merged_dir = merge_adapter(adapter, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), str(adapter))
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    assert _logits(merged, tokenizer).allclose(_logits(tuned, tokenizer), atol=1e-5)
    assert not any(p.name.startswith("adapter") for p in merged_dir.iterdir())


def test_tensorboard_logs(tiny_model, sft_data, tmp_path):
    out = tmp_path / "tb"
    run_tuning(_config(tiny_model, sft_data, out, method="lora", max_steps=2, report_to="tensorboard"))
    assert list((out / "logs").rglob("events.out.tfevents.*"))


def test_auto_search_reports_trials_and_trains_with_the_best(tiny_model, sft_data, tmp_path):
    from tunewise.tuning import tune
    from tunewise.tuning.search import load_trials

    out = tmp_path / "auto"
    run = tune(_config(tiny_model, sft_data, out, method="lora", auto=True, auto_trials=2, auto_steps=3, max_steps=3))
    trials = load_trials(out)
    assert len(trials) == 2 and all(t["eval_loss"] > 0 for t in trials)
    best = min(trials, key=lambda t: t["eval_loss"])
    assert run.config["lr"] == best["lr"] and run.config["lora_r"] == best["lora_r"]
    assert not [p for p in tmp_path.iterdir() if "search" in p.name]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_mixed_precision_on_the_cpu_trains_fp32_weights(tiny_model, sft_data, tmp_path, method):
    """bf16 compute (autocast) over fp32 weights where the CPU has native bf16: the loss falls as in
    fp32, the saved weights stay fp32, and run.json says bf16."""
    from safetensors.torch import load_file

    from tunewise.core.device import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no native bf16 (AVX512-BF16 or AMX)")
    run = run_tuning(_config(tiny_model, sft_data, tmp_path / "o", method=method, precision="bf16",
                             lr=1e-2 if method == "lora" else 1e-3))
    assert run.precision == "bf16"
    assert run.eval_loss_after < run.eval_loss_before
    weights = next((tmp_path / "o").glob("*.safetensors"))
    assert {str(t.dtype) for t in load_file(weights).values()} == {"torch.float32"}


@pytest.mark.parametrize("checkpointing", [False, True])
def test_shared_input_casts_change_no_loss_or_gradient(tiny_model, checkpointing):
    """Under the CPU's bf16 autocast, every Linear reading one bf16 copy of its input (and peft's adapters
    taking it as it is) gives the loss and gradients autocast's own casts give, bit for bit, and the
    backward pass keeps fewer copies."""
    import torch
    from peft import LoraConfig, get_peft_model

    from tunewise.core.device import DeviceChoice
    from tunewise.core.models import load_causal_lm
    from tunewise.tuning.casts import share_input_casts

    model, tokenizer = load_causal_lm(str(tiny_model))
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    for name, p in model.named_parameters():  # LoRA's B starts at zero: give it values, so gradients reach A
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    # long enough rows that the activations, not the adapters' weights, are most of what backward keeps
    batch = tokenizer(["What is the capital of France? " * 30, "Paris " * 40], return_tensors="pt", padding=True)

    def step():
        model.zero_grad()
        kept = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in kept
                    if t.dtype == torch.bfloat16}
        return loss.item(), grads, sum(storages.values())

    before, grads_before, copies_before = step()
    assert share_input_casts(model, DeviceChoice("cpu", "fp32", "cpu", None)) == 0
    assert share_input_casts(model, DeviceChoice("cpu", "bf16", "cpu", None, weights="fp32")) > 2 * 7 * 2
    after, grads_after, copies_after = step()
    assert after == before
    assert grads_after.keys() == grads_before.keys() and len(grads_after) == 2 * 7 * 2  # A, B; 7 layers; 2 blocks
    assert all(torch.equal(grads_after[n], grads_before[n]) for n in grads_before)
    if not checkpointing:
        assert copies_after < 0.9 * copies_before, (copies_before, copies_after)  # 17% less here
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # answering holds no copies
        model(**batch)


def test_a_shared_copy_follows_its_input_changed_in_place():
    import torch

    from tunewise.core.device import DeviceChoice
    from tunewise.tuning.casts import share_input_casts

    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)

        def forward(self, x):
            h = x * 1.0
            first = self.a(h)
            h.add_(1.0)  # b must read the changed values, not a's copy
            return first, self.b(h)

    torch.manual_seed(0)
    model, x = Two(), torch.randn(2, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(x)
    assert share_input_casts(model, DeviceChoice("cpu", "bf16", "cpu", None, weights="fp32")) == 2
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = model(x)
    assert all(torch.equal(e, g) for e, g in zip(expected, got))


def test_head_states_are_what_the_classifier_scores(tiny_model):
    """The head trains on stored last-token states: `score` over them gives the classifier's own logits,
    each text alone or right-padded in a batch."""
    import torch

    from tunewise.core.device import choose_device
    from tunewise.tuning.frozen import last_token_states
    from tunewise.tuning.head import load_sequence_classifier

    model, tokenizer = load_sequence_classifier(str(tiny_model), ["a", "b", "c"])
    texts = ["short", "a somewhat longer text about refunds", "mid length text", "x " * 30]
    rows = [{"input_ids": tokenizer(t, add_special_tokens=False)["input_ids"], "labels": 0} for t in texts]
    states = last_token_states(model.model, rows, choose_device("cpu", "fp32"), tokenizer.pad_token_id)
    with torch.no_grad():
        for row, state in zip(rows, states):
            alone = model(input_ids=torch.tensor([row["input_ids"]])).logits[0]
            assert torch.allclose(model.score(state), alone, atol=1e-5)


def test_interrupted_head_run_resumes_to_the_uninterrupted_weights(tiny_model, cls_data, tmp_path):
    import torch
    from safetensors.torch import load_file

    config = lambda out, **kw: _config(tiny_model, cls_data, out, method="head", max_steps=6,  # noqa: E731
                                       save_steps=2, **kw)
    run_tuning(config(tmp_path / "whole"))

    def stop_at_three(progress):
        if progress.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_tuning(config(tmp_path / "part"), stop_at_three)
    assert (tmp_path / "part" / "checkpoints" / "checkpoint-2").is_dir()
    run = run_tuning(config(tmp_path / "part", resume=True))
    assert run.steps == 6
    whole, part = (load_file(str(tmp_path / n / "head.safetensors")) for n in ("whole", "part"))
    assert torch.allclose(whole["score.weight"], part["score.weight"])
