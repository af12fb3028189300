"""The bundled models, for real: conversion once, offline loading, a real answer."""
import os
import subprocess
import sys

import pytest

from tunewise.core.errors import ModelError
from tunewise.core.models import CONVERSION_MARKER, check_safetensors, load_causal_lm, model_dir, resolve_model


@pytest.mark.slow
def test_smollm2_converts_once_and_answers_a_chat_prompt():
    # Two processes convert at once (concurrent first uses): both must end with one complete copy.
    code = "from tunewise.core.models import model_dir; print(model_dir('smollm2-135m-instruct'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    folders = [p.communicate(timeout=300)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert folders[0] == folders[1] == model_dir("smollm2-135m-instruct")
    names = set(os.listdir(folders[0]))
    assert {"model.safetensors", "config.json", "tokenizer.json", CONVERSION_MARKER} <= names
    assert not [n for n in os.listdir(os.path.dirname(folders[0])) if n.endswith(".partial")]
    model, tokenizer = load_causal_lm("smollm2-135m-instruct")
    assert getattr(model, "hf_quantizer", None) is None
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in answer


@pytest.mark.slow
def test_minilm_embeds_offline():
    from tunewise.core.models import load_embedder

    vectors = load_embedder("minilm-l6").encode(["refund policy", "how do I get my money back", "volcano"])
    assert vectors.shape == (3, 384)
    import numpy as np

    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]


def test_tiny_local_model_loads(tiny_model):
    model, tokenizer = load_causal_lm(str(tiny_model))
    assert model.config.num_hidden_layers == 2 and tokenizer.pad_token is not None


@pytest.mark.parametrize("ref,message", [
    ("no-such-model", "model 'no-such-model' not found"),
    ("someorg/somemodel", "set TUNEWISE_ONLINE=1"),
])
def test_unknown_models_are_refused(ref, message):
    with pytest.raises(ModelError, match=message):
        resolve_model(ref)


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_model(str(tmp_path))


def test_pickle_only_weights_are_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="only pickle weights"):
        check_safetensors(tmp_path)
    check_safetensors(tmp_path, allow_pickle=True)
