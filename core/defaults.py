"""Defaults that more than one package reads, defined once: the bundled models, retrieval and decoding."""
from __future__ import annotations

DEFAULT_GENERATOR = "smollm2-135m-instruct"   # the bundled generator and fine-tuning base
DEFAULT_EMBEDDER = "minilm-l6"                # the bundled sentence embedder
CHUNK_TOKENS = 200        # MiniLM truncates at 256 tokens, two of which are [CLS] and [SEP]
CHUNK_OVERLAP = 32
RAG_K = 4                 # passages retrieved per question
FEW_SHOTS = 4             # demonstrations shown per question
VIRTUAL_TOKENS = 16       # prompt tuning's soft prompt length
MAX_NEW_TOKENS = 32       # greedy decoding length in compare, the same for every approach
