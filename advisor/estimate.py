"""Memory, time and cost estimates per approach. Pure arithmetic: no torch, nothing loaded.

Memory of a training step (bytes), for P parameters, batch b, sequence s, hidden d, L layers, vocab V:

    weights      P x {fp32: 4, bf16: 2, nf4: 0.5 + 0.127/8 (QLoRA double-quantised block constants)}
    full states  P x {fp32: 16 = weight 4 + grad 4 + AdamW m, v 8;
                      mixed: 16 = bf16 weight 2 + bf16 grad 2 + fp32 master 4 + m, v 8 (ZeRO, Rajbhandari 2020);
                      bf16: 8 = weight, grad, m, v all 2}   (replaces `weights`)
    adapters     LoRA r=16 on every linear layer: r x 19d per layer (q, k, v, o: 2d each; gate, up, down:
                 d + 8d/3 each) x L parameters, 16 bytes each (fp32 weight, grad, m, v)
    activations  per layer s*b*d*34 bytes at 16 bits (Korthikanti et al. 2022); x2 in fp32; on the CPU add
                 5*a*s^2*b for the attention weights (its SDPA training path keeps them: the measured
                 peaks need this term); with gradient checkpointing (QLoRA) only 2*s*b*d per layer plus
                 one full layer
    logits       b*s*V x 12 bytes (logits, fp32 log-softmax, gradient)
    runtime      0.75 GiB CUDA context and allocator slack on a GPU, 0.4 GiB for Python + torch on the CPU

Training time = flops per token x tokens seen / effective FLOP/s, with 6P flops per token for full
fine-tuning (forward 2P + backward 4P), 4P for LoRA and prompt tuning (no weight gradients for the frozen
base), 6P for QLoRA (checkpointing recomputes the forward) and 2P for a head on frozen features (one pass over
the data whatever its epochs: the head trains on states computed once).
Effective FLOP/s: this 2-core CPU measured about 1e11 (LoRA on the 135M model, ~5-7 s per 4x256 step);
GPUs are assumed to reach ~40% of their bf16 peak, by memory class (see `Hardware`). A run's own
`run.json` corrects both numbers (`Calibration`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tunewise.core.defaults import CHUNK_TOKENS, DEFAULT_GENERATOR, FEW_SHOTS, MAX_NEW_TOKENS, RAG_K, VIRTUAL_TOKENS

GIB = 2**30
LORA_R = 16
LORA_LINEAR_WIDTH = 19          # sum of (d_in + d_out) / d over a llama block's seven linear layers
ACTIVATION_BYTES = 34           # per token per hidden unit per layer, 16-bit
LOGIT_BYTES = 12
NF4_BYTES = 0.5 + 0.127 / 8
RUNTIME_GIB = {"gpu": 0.75, "cpu": 0.4}
FULL_STATE_BYTES = {"fp32": 16, "mixed": 16, "bf16": 8}
# Keyed by the tuning method (an approach's `trainer`).
# DPO scores chosen and rejected under the policy and again under the reference (adapter off): a DPO
# step measured 2.68x a LoRA SFT step on the same pairs on the 2-core CPU (bench/RESULTS.md, 2026-12-01).
DPO_STEP_RATIO = 2.7
FLOPS_PER_PARAM_TOKEN = {"full": 6, "lora": 4, "qlora": 6, "prompt-tuning": 4, "head": 2,
                         "dpo": 4 * DPO_STEP_RATIO}
# The tuning package's default epochs per method (tuning/config.py METHOD_DEFAULTS).
EPOCHS = {"full": 2.0, "lora": 3.0, "qlora": 3.0, "prompt-tuning": 5.0, "head": 5.0, "dpo": 3.0}
PROVIDER_EPOCHS = 3.0           # what providers' fine-tuning APIs default to
CPU_FLOPS = 1.0e11
CPU_BANDWIDTH = 10e9
EMBED_CHUNKS_PER_S = {"cpu": 25.0, "gpu": 1000.0}   # MiniLM, measured on this CPU; GPU assumed
EMBED_DIM = 384
OUTPUT_TOKENS = MAX_NEW_TOKENS
QUERY_TOKENS = 100              # a prompt's length when no data says otherwise
LABEL_TOKENS = 4                # a label's continuation as the label scorer reads it (a word or two and its end)
DEFAULT_LABELS = 4              # a classification's labels when no data says how many
SEARCH_MS = 1.0                 # Chroma k=5 query, measured


@dataclass(frozen=True)
class ModelShape:
    params_b: float
    hidden: int
    layers: int
    vocab: int
    heads: int

    @classmethod
    def from_params(cls, params_b: float) -> "ModelShape":
        """A llama-like shape: P ~ 12 L d^2 with L ~ d / 128 (7B: d 4096, L 32)."""
        hidden = max(64, round((params_b * 1e9 * 128 / 12) ** (1 / 3)))
        return cls(params_b, hidden, max(1, round(hidden / 128)), 32000, max(1, hidden // 128))


# Known shapes beat the rule of thumb (small models are deeper and narrower than it assumes).
KNOWN_SHAPES = {DEFAULT_GENERATOR: ModelShape(0.135, 576, 30, 49152, 9)}


def shape_for(params_b: float, model: str | None = None) -> ModelShape:
    """The known shape of `model` when the stated size is that model's, else the rule of thumb."""
    known = KNOWN_SHAPES.get(model or "")
    if known and abs(params_b - known.params_b) <= 0.2 * known.params_b:
        return replace(known, params_b=params_b)
    return ModelShape.from_params(params_b)


@dataclass(frozen=True)
class Hardware:
    """Where the work runs: a GPU with `gpu_memory_gb`, or the CPU with `ram_gb` when that is 0."""

    gpu_memory_gb: float = 0.0
    ram_gb: float = 16.0

    @property
    def kind(self) -> str:
        return "gpu" if self.gpu_memory_gb > 0 else "cpu"

    @property
    def memory_gb(self) -> float:
        return self.gpu_memory_gb if self.gpu_memory_gb > 0 else self.ram_gb

    @property
    def flops(self) -> float:
        """Effective FLOP/s: ~40% of bf16 peak for T4-class, 4090/A10, L40S/A6000, A100/H100 by memory."""
        if self.kind == "cpu":
            return CPU_FLOPS
        for limit, flops in ((16, 30e12), (24, 60e12), (48, 100e12)):
            if self.gpu_memory_gb <= limit:
                return flops
        return 150e12

    @property
    def bandwidth(self) -> float:
        """Bytes/s that decoding streams the weights at (decoding is memory-bound)."""
        if self.kind == "cpu":
            return CPU_BANDWIDTH
        return 300e9 if self.gpu_memory_gb <= 16 else 900e9 if self.gpu_memory_gb <= 48 else 2000e9

    @property
    def precision(self) -> str:
        return "bf16" if self.kind == "gpu" else "fp32"


@dataclass
class Estimate:
    """One approach's numbers; None where they do not apply or cannot be known."""

    memory_gb: float | None = None
    train_hours: float | None = None
    train_cost_usd: float | None = None
    prompt_tokens_per_query: int | None = None
    latency_ms_per_query: float | None = None
    cost_per_query_usd: float | None = None
    index_mb: float | None = None
    embed_hours: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: _round(v) for k, v in vars(self).items() if k != "extra" and v is not None}
        out.update(self.extra)
        return out


def _round(value: Any) -> Any:
    return float(f"{value:.3g}") if isinstance(value, float) else value


def lora_params(shape: ModelShape, r: int = LORA_R) -> float:
    return r * LORA_LINEAR_WIDTH * shape.hidden * shape.layers


def activation_bytes(shape: ModelShape, seq: int, batch: int, hw: Hardware, checkpointing: bool = False,
                     precision: str | None = None) -> float:
    """Saved activations of one training step (see the module docstring), 16-bit under mixed precision."""
    width = 4 if (precision or hw.precision) == "fp32" else 2
    per_layer = seq * batch * shape.hidden * ACTIVATION_BYTES * width / 2
    if hw.kind == "cpu":
        per_layer += 5 * shape.heads * seq * seq * batch * width / 2
    if checkpointing:
        layers = shape.layers * seq * batch * shape.hidden * width + per_layer
    else:
        layers = shape.layers * per_layer
    return layers + batch * seq * shape.vocab * LOGIT_BYTES


def training_memory_gb(method: str, shape: ModelShape, seq: int, batch: int, hw: Hardware,
                       precision: str | None = None, checkpointing: bool = False) -> float:
    """Peak memory (GiB) of one training step of `method` (lora, qlora, full, prompt-tuning, head)."""
    p = shape.params_b * 1e9
    precision = precision or hw.precision
    weight_bytes = 4 if precision == "fp32" else 2
    runtime = RUNTIME_GIB[hw.kind] * GIB
    if method == "full":
        acts = activation_bytes(shape, seq, batch, hw, checkpointing, precision)
        return (p * FULL_STATE_BYTES[precision] + acts + runtime) / GIB
    if method == "dpo":      # LoRA's states; chosen and rejected make the batch twice as long
        return training_memory_gb("lora", shape, seq, 2 * batch, hw, precision, checkpointing)
    if method == "lora":
        states = lora_params(shape) * 16
        return (p * weight_bytes + states + activation_bytes(shape, seq, batch, hw, checkpointing, precision)
                + runtime) / GIB
    if method == "qlora":
        states = lora_params(shape) * 16
        acts = activation_bytes(shape, seq, batch, hw, checkpointing=True, precision=precision)
        return (p * NF4_BYTES + states + acts + runtime) / GIB
    if method == "prompt-tuning":
        acts = activation_bytes(shape, seq + VIRTUAL_TOKENS, batch, hw, precision=precision)
        return (p * weight_bytes + acts + runtime) / GIB
    if method == "head":
        # Frozen features under no_grad: weights plus one layer's activations at a time.
        acts = seq * batch * shape.hidden * ACTIVATION_BYTES * weight_bytes / 2
        return (p * weight_bytes + acts + runtime) / GIB
    raise ValueError(f"no training memory formula for '{method}'")


def inference_memory_gb(shape: ModelShape, context: int, hw: Hardware) -> float:
    """Weights plus the KV cache (2 x L x context x d values) for one query."""
    width = 4 if hw.precision == "fp32" else 2
    kv = 2 * shape.layers * context * shape.hidden * width
    return (shape.params_b * 1e9 * width + kv + RUNTIME_GIB[hw.kind] * GIB) / GIB


def base_passes(method: str, epochs: float | None = None) -> float:
    """How many times training runs the model over the data: its epochs, but once for a head, whose frozen
    base encodes each example once and whose epochs run over the stored states (tuning/frozen.py)."""
    return 1.0 if method == "head" else (epochs or EPOCHS[method])


def training_hours(method: str, shape: ModelShape, tokens: float, hw: Hardware) -> float:
    """Hours for `tokens` training tokens (all epochs) of `method`."""
    flops = FLOPS_PER_PARAM_TOKEN[method] * shape.params_b * 1e9 * tokens
    return flops / hw.flops / 3600


def query_latency_ms(shape: ModelShape, prompt_tokens: int, hw: Hardware) -> float:
    """Prefill (compute-bound) plus decoding OUTPUT_TOKENS (bandwidth-bound) on local weights."""
    width = 4 if hw.precision == "fp32" else 2
    prefill = 2 * shape.params_b * 1e9 * prompt_tokens / hw.flops
    decode = OUTPUT_TOKENS * shape.params_b * 1e9 * width / hw.bandwidth
    return (prefill + decode) * 1000


def answer_ms(spec, shape: ModelShape, prompt_tokens: int, hw: Hardware, labels: int) -> float:
    """One answer on local weights. Generated answers (`labels` 0): prefill plus decoding. A classification
    decodes nothing: a classifier head reads one pass over the prompt, and a prompted or tuned language
    model scores every label's tokens after one pass over the prompt, from its cache (retrieval/generate.py
    `loglikelihoods`)."""
    if not labels:
        return query_latency_ms(shape, prompt_tokens, hw)
    tokens = prompt_tokens + (0 if spec.has("classifier") else labels * LABEL_TOKENS)
    return 2 * shape.params_b * 1e9 * tokens / hw.flops * 1000


@dataclass(frozen=True)
class Workload:
    """The sizes the estimates need, from the answers and (when given) the measured data."""

    examples: int
    mean_tokens: float
    seq_len: int
    batch: int = 4
    corpus_documents: int = 0
    corpus_chunks: int | None = None
    prompt_tokens: int = QUERY_TOKENS
    labels: int = 0               # the labels a classification chooses among; 0: answers are generated

    @property
    def chunks(self) -> int:
        # Without a measured corpus, assume a document makes three 200-token chunks.
        return self.corpus_chunks if self.corpus_chunks is not None else 3 * self.corpus_documents


def estimate_training(method: str, params_b: float, seq: int, batch: int, hw: Hardware, model: str | None = None,
                      tokens: float = 0.0, gpu_hour_usd: float | None = None) -> Estimate:
    """Memory, hours and (with a GPU-hour price) money for tuning `method`."""
    shape = shape_for(params_b, model)
    est = Estimate(memory_gb=training_memory_gb(method, shape, seq, batch, hw))
    if method == "full":
        est.extra["memory_gb_by_precision"] = {
            p: _round(training_memory_gb(method, shape, seq, batch, hw, precision=p)) for p in FULL_STATE_BYTES
        }
    if tokens:
        est.train_hours = training_hours(method, shape, tokens * base_passes(method), hw)
        if gpu_hour_usd is not None and hw.kind == "gpu":
            est.train_cost_usd = est.train_hours * gpu_hour_usd
    return est


def prompt_added(spec, work: Workload) -> int:
    """Tokens an approach adds to every prompt (demonstrations, passages or virtual tokens)."""
    return {"none": 0, "shots": round(FEW_SHOTS * work.mean_tokens), "passages": RAG_K * CHUNK_TOKENS,
            "virtual-tokens": VIRTUAL_TOKENS}[spec.prompt_extra]


def _index_costs(est: Estimate, work: Workload, hw: Hardware) -> float:
    """Index size and embedding time of the corpus; returns the retrieval time per query (ms)."""
    # Each chunk stores its vector, its text (~4 bytes/token) and metadata; HNSW + SQLite roughly double it.
    est.index_mb = work.chunks * (EMBED_DIM * 4 + CHUNK_TOKENS * 4 + 200) * 2 / 1e6
    est.embed_hours = work.chunks / EMBED_CHUNKS_PER_S[hw.kind] / 3600
    return 1000 / EMBED_CHUNKS_PER_S[hw.kind] + SEARCH_MS


def estimate_in_context(spec, shape: ModelShape, work: Workload, hw: Hardware, api: bool,
                        token_usd_per_1m: float | None = None) -> Estimate:
    """Approaches that train nothing: the cost is prompt tokens, latency and (retrieval) an index."""
    prompt = work.prompt_tokens + prompt_added(spec, work)
    est = Estimate(prompt_tokens_per_query=prompt)
    retrieval_ms = _index_costs(est, work, hw) if spec.retrieves else 0.0
    if api and spec.retrieves:
        est.extra["local_retrieval_ms"] = _round(retrieval_ms)
    elif not api:
        est.memory_gb = inference_memory_gb(shape, prompt + OUTPUT_TOKENS, hw)
        est.latency_ms_per_query = answer_ms(spec, shape, prompt, hw, work.labels) + retrieval_ms
    if token_usd_per_1m is not None:
        est.cost_per_query_usd = (prompt + OUTPUT_TOKENS) * token_usd_per_1m / 1e6
    if spec.search_queries and est.latency_ms_per_query is not None:   # building it answers a search
        est.train_hours = est.latency_ms_per_query * spec.search_queries / 3.6e6
        est.extra["search_queries"] = spec.search_queries
    return est


def estimate_tuned(spec, shape: ModelShape, work: Workload, hw: Hardware, model: str | None,
                   gpu_hour_usd: float | None) -> Estimate:
    """A locally tuned model: training memory/time/cost, then the cost of answering a query with it."""
    tokens = work.examples * min(work.mean_tokens, work.seq_len)
    est = estimate_training(spec.trainer, shape.params_b, work.seq_len, work.batch, hw, model, tokens, gpu_hour_usd)
    prompt = work.prompt_tokens + prompt_added(spec, work)
    est.prompt_tokens_per_query = prompt
    est.latency_ms_per_query = answer_ms(spec, shape, prompt, hw, work.labels)
    if spec.retrieves:
        est.latency_ms_per_query += _index_costs(est, work, hw)
    return est


def estimate_provider_tuning(work: Workload, token_usd_per_1m: float | None) -> Estimate:
    """Fine-tuning through the provider's API: no local memory; money = training tokens x price."""
    est = Estimate(prompt_tokens_per_query=work.prompt_tokens)
    est.extra["runs_at"] = "provider"
    if token_usd_per_1m is not None:
        tokens = work.examples * min(work.mean_tokens, work.seq_len) * PROVIDER_EPOCHS
        est.train_cost_usd = tokens * token_usd_per_1m / 1e6
        est.cost_per_query_usd = (work.prompt_tokens + OUTPUT_TOKENS) * token_usd_per_1m / 1e6
    return est


@dataclass(frozen=True)
class Calibration:
    """Measured / estimated, from one tuning run: multiplies the matching method's estimates."""

    method: str
    memory_factor: float | None
    time_factor: float | None
    source: str

    def apply(self, est: Estimate) -> Estimate:
        if self.memory_factor is not None and est.memory_gb is not None:
            est.memory_gb *= self.memory_factor
            est.extra["memory_factor"] = _round(self.memory_factor)
        if self.time_factor is not None and est.train_hours is not None:
            est.train_hours *= self.time_factor
            if est.train_cost_usd is not None:
                est.train_cost_usd *= self.time_factor
            est.extra["time_factor"] = _round(self.time_factor)
        est.extra["calibrated_from"] = self.source
        return est


def calibrate(run, source: str) -> Calibration:
    """Compare a `core.schema.TrainingRun` with the estimate for the same method, size, shape and device."""
    from tunewise.core.errors import ConfigError

    if run.method not in FLOPS_PER_PARAM_TOKEN or not run.total_params:
        raise ConfigError(f"{source}: cannot calibrate from method '{run.method}' without total_params")
    if run.peak_memory_mb is None and not (run.steps and run.train_seconds):
        raise ConfigError(f"{source}: has neither peak_memory_mb nor timed steps to calibrate from")
    # The GPU's size is not in run.json; the calibration itself absorbs the throughput assumption.
    hw = Hardware(gpu_memory_gb=80.0 if str(run.device).startswith("cuda") else 0.0)
    seq = int(run.config.get("max_seq_len") or 512)
    batch = int(run.config.get("batch_size") or 4)
    shape = shape_for(run.total_params / 1e9, run.model)
    precision = run.precision if run.precision in FULL_STATE_BYTES and run.method == "full" else None
    memory = None
    if run.peak_memory_mb is not None:
        memory = run.peak_memory_mb / 1024 / training_memory_gb(run.method, shape, seq, batch, hw, precision)
    timing = None
    if run.steps and run.train_seconds:
        tokens = seq * batch * int(run.config.get("grad_accum") or 1)
        timing = run.train_seconds / run.steps / (training_hours(run.method, shape, tokens, hw) * 3600)
    return Calibration(run.method, memory, timing, source)
