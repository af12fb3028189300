"""`tunewise export --merge`: fold a LoRA adapter into its base and write one plain safetensors model."""
from __future__ import annotations

from pathlib import Path

from tunewise.core.artefacts import adapter_config, check_adapter_weights
from tunewise.core.errors import ConfigError, DamagedFileError, ModelError
from tunewise.core.files import check_apart, claim_output, mark_output, read_json, staged_dir
from tunewise.core.models import check_safetensors, load_causal_lm, model_dir
from tunewise.tuning.head import CLASSIFIER_FILE, load_sequence_classifier, write_classifier_info


def merge_adapter(source: str | Path, out: str | Path, force: bool = False) -> Path:
    """Merge the LoRA adapter at `source` into its base model and save it (with tokenizer) at `out`."""
    source, out = Path(source), Path(out)
    adapter = adapter_config(source)
    if adapter.get("peft_type") != "LORA":
        raise ConfigError(f"{source}: a {adapter.get('peft_type', 'unknown').lower()} adapter cannot be merged "
                          "into the weights; only LoRA adapters can")
    check_apart(out, [source])
    check_adapter_weights(source)
    check_safetensors(source)
    base = _base_model(source, adapter)
    claim_output(out, force, (source, base))
    from peft import PeftModel

    classifier = read_json(source / CLASSIFIER_FILE) if (source / CLASSIFIER_FILE).exists() else None
    if classifier:
        model, tokenizer = load_sequence_classifier(base, classifier["labels"])
    else:
        model, tokenizer = load_causal_lm(base)
    merged = PeftModel.from_pretrained(model, str(source)).merge_and_unload()
    with staged_dir(out) as stage:
        merged.save_pretrained(stage, safe_serialization=True)
        tokenizer.save_pretrained(stage)
        mark_output(stage, "export")
        if classifier:
            write_classifier_info(stage, "full", classifier["labels"], classifier["max_seq_len"])
    return out




def _base_model(source: Path, adapter: dict) -> str:
    """The base the adapter was trained on: the tunewise model name in run.json, else peft's record."""
    run = source / "run.json"
    if run.is_file():
        record = read_json(run)
        model = record.get("model") if isinstance(record, dict) else None
        if not isinstance(model, str):
            raise DamagedFileError(run, "run.json does not name the model it tuned")
        return model_dir(model)
    base = adapter.get("base_model_name_or_path")
    if not base:
        raise ModelError(f"{source}: adapter_config.json does not name its base model")
    return model_dir(base)
