"""Real data nobody here wrote, for the pilot and compare: two tasks built from Princeton WordNet 3.0 as
Debian packages it (`wordnet-base`, fetched from the Debian registry with `apt-get download`).

- `classes`: classification. The text is a noun sense's definition (its gloss, without the word itself or the
  usage examples); the label is the lexicographer file WordNet's editors filed it under, one of six
  (animal, artifact, body, food, location, person). 100 per class to train, 25 per class to evaluate.
- `define`: generation. The prompt asks for the definition of a word; the reference is WordNet's gloss of its
  most frequent noun sense. 600 to train, 100 to evaluate.

Each task gets a folder with train.jsonl, eval.jsonl, a plan (plan.yaml: the approaches, tuning and
model of `make demo`'s ticket plan) and the advisor's answers (answers.yaml). The sample is fixed by a seed,
so the same package version gives the same files.
Run: `.venv/bin/python -m bench._wordnet_data OUT [--deb wordnet-base_*.deb]` (without --deb it runs
`apt-get download wordnet-base` in OUT). Then `python -m bench.pilot --plan-file OUT/classes/plan.yaml`.
"""
from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
from pathlib import Path

CLASSES = {"05": "animal", "06": "artifact", "08": "body", "13": "food", "15": "location", "18": "person"}
TRAIN_PER_CLASS, EVAL_PER_CLASS = 100, 25
DEFINE_TRAIN, DEFINE_EVAL = 600, 100
SEED = 13
LICENSE = "WordNet 3.0 (c) Princeton University, under the WordNet license (Debian package wordnet-base)"

PLAN = """# Built by bench/_wordnet_data.py from {source}
task: {task}
train: train.jsonl
eval: eval.jsonl
model: smollm2-135m-instruct
approaches: [{approaches}]
tuning:
  max_steps: 40
  batch_size: 8
  lr: 5.0e-4
  max_seq_len: 256
{extra}"""

ANSWERS = """# Built by bench/_wordnet_data.py
task: {task}
labelled_examples: {n}
corpus_documents: 0
knowledge_changes: never      # a dictionary's senses do not change
long_tail: false
"""
SETTING = """model_access: open-weights
model_params_b: 0.135
gpu_memory_gb: 0
ram_gb: 16
latency_ms: none
budget_usd: none
data_may_leave: false
"""   # the bundled model on a CPU, as every bench task answers the advisor


def wordnet_dir(out: Path, deb: Path | None) -> Path:
    """The package's dictionary files, unpacked under a temporary folder of OUT."""
    if deb is None:
        subprocess.run(["apt-get", "download", "wordnet-base"], cwd=out, check=True, capture_output=True)
        deb = next(out.glob("wordnet-base_*.deb"))
    unpacked = Path(tempfile.mkdtemp(dir=out))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    return unpacked / "usr" / "share" / "wordnet"


def noun_senses(wordnet: Path) -> list[dict]:
    """Every noun synset: its lexicographer file, words and definition (the gloss before any quoted example)."""
    senses = []
    for line in (wordnet / "data.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  ") or " | " not in line:
            continue                                            # the license header
        fields, gloss = line.split(" | ", 1)
        parts = fields.split()
        words = [parts[4 + 2 * i].replace("_", " ") for i in range(int(parts[3], 16))]
        definition = re.split(r';\s*"', gloss)[0].strip().rstrip(";").strip()
        senses.append({"offset": parts[0], "lexfile": parts[1], "words": [re.sub(r"\(.*\)$", "", w) for w in words],
                       "definition": definition})
    return senses


def classes_task(senses: list[dict], rng: random.Random) -> tuple[list[dict], list[dict]]:
    train, evaluation = [], []
    for code, label in CLASSES.items():
        pool = [s for s in senses if s["lexfile"] == code and len(s["definition"].split()) >= 4]
        picked = rng.sample(pool, TRAIN_PER_CLASS + EVAL_PER_CLASS)
        rows = [{"id": f"wn-{s['offset']}", "text": s["definition"], "label": label} for s in picked]
        train += rows[:TRAIN_PER_CLASS]
        evaluation += rows[TRAIN_PER_CLASS:]
    rng.shuffle(train)
    rng.shuffle(evaluation)
    return train, evaluation


def define_task(wordnet: Path, senses: list[dict], rng: random.Random) -> tuple[list[dict], list[dict]]:
    """One-word nouns whose most frequent sense (first in index.noun) has a definition of 4-20 words."""
    by_offset = {s["offset"]: s for s in senses}
    rows = []
    for line in (wordnet / "index.noun").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("  "):
            continue
        parts = line.split()
        word, offsets = parts[0], parts[-int(parts[2]):]
        sense = by_offset.get(offsets[0])
        if "_" in word or not word.isalpha() or sense is None or not 4 <= len(sense["definition"].split()) <= 20:
            continue
        rows.append({"id": f"wn-define-{word}", "prompt": f"Define the word '{word}' in one short phrase.",
                     "completion": sense["definition"]})
    picked = rng.sample(rows, DEFINE_TRAIN + DEFINE_EVAL)
    return picked[:DEFINE_TRAIN], picked[DEFINE_TRAIN:]


def write_task(folder: Path, task: str, train: list[dict], evaluation: list[dict], approaches: str, extra: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("eval.jsonl", evaluation)):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (folder / "plan.yaml").write_text(PLAN.format(source=LICENSE, task=task, approaches=approaches, extra=extra),
                                      encoding="utf-8")
    (folder / "answers.yaml").write_text(ANSWERS.format(task=task, n=len(train)) + SETTING, encoding="utf-8")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--deb", type=Path, help="a downloaded wordnet-base .deb (default: apt-get download it)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    wordnet = wordnet_dir(args.out, args.deb)
    senses = noun_senses(wordnet)
    rng = random.Random(SEED)
    write_task(args.out / "classes", "classification", *classes_task(senses, rng),
               "zero-shot, few-shot, lora, head", "  head:\n    lr: 5.0e-3\n")
    write_task(args.out / "define", "generation", *define_task(wordnet, senses, rng), "zero-shot, few-shot, lora", "")
    print(f"wrote {args.out / 'classes'} and {args.out / 'define'} ({len(senses)} noun senses read)")


if __name__ == "__main__":
    main()
