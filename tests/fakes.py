"""Tiny real parts for tests: a llama-architecture model with a tokenizer trained on a few sentences.

Nothing here is a mock: the model trains, generates and saves like any Hugging Face model.
"""
from __future__ import annotations

from contextlib import contextmanager

from pathlib import Path

SENTENCES = [
    "The Lumen Institute was founded in 2019 in Harbourview.",
    "Ticket priority is high when the payment system is down.",
    "Refunds are processed within five business days.",
    "What is the capital of France? Paris is the capital of France.",
    "positive negative neutral billing technical account shipping",
    "hello world this is a tiny tokenizer for tests",
]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_tokenizer(path: Path, extra_text: list[str] | None = None):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(SENTENCES + (extra_text or []), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<|im_start|>", eos_token="<|im_end|>",
        pad_token="<pad>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(path)
    return fast


def build_tiny_llama(path: Path, seed: int = 0) -> Path:
    """Save a 2-layer, 64-wide llama with its tokenizer under `path`; about 100k parameters."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(path)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(path, safe_serialization=True)
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def invoke(args: list[str], input: str | None = None):
    """Run the real CLI in-process, as a user would from a shell."""
    from click.testing import CliRunner

    from tunewise.cli.main import cli

    return CliRunner().invoke(cli, args, input=input)


def assert_clean_failure(result, *fragments: str) -> str:
    """A user error: non-zero exit, no traceback, one `Error:` line holding every fragment."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def build_tiny_embedder(path: Path, seed: int = 0) -> Path:
    """Save a 1-layer, 32-wide BERT as a sentence-transformers model (mean pooling) under `path`."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    bert_dir = path.parent / f"{path.name}-bert"
    bert_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tiny_tokenizer(bert_dir)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
    BertModel(config).save_pretrained(bert_dir, safe_serialization=True)
    word = models.Transformer(str(bert_dir), max_seq_length=64)
    SentenceTransformer(modules=[word, models.Pooling(32, "mean")], device="cpu").save(str(path))
    return path


@contextmanager
def loopback_api(tiny_model, token: str, monkeypatch, key_env: str = "TUNEWISE_TEST_KEY"):
    """A real OpenAI-compatible endpoint on loopback (`tunewise serve`'s server over the tiny model); yields
    the plan's `api_model` block, the key in `key_env` only."""
    import threading

    from tunewise.retrieval.generate import LocalGenerator
    from tunewise.retrieval.serve import ChatServer

    server = ChatServer(LocalGenerator.load(str(tiny_model)), port=0, token=token)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(key_env, token)
    try:
        yield {"base_url": server.url, "model": "tiny", "api_key_env": key_env}
    finally:
        server.shutdown()
