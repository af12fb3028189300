"""Real volatile knowledge nobody here wrote, for the pilot and compare: questions over documents about Debian
packages, from the package indexes of two Debian releases (12 "bookworm", then 13 "trixie") as the Debian
registry serves them.

One document per package: its description as its Debian maintainers wrote it (Translation-en), then the
facts of the release's package index (version, section, maintainer, homepage). The questions are templated
on those facts ("Which version of htop does Debian's stable release ship?"); the answers are the index's
own fields. The knowledge is volatile: between the two releases most versions changed, and many
maintainers and homepages with them, so the documents of the second release are the corpus an index must
follow (`corpus_next`) and the questions about the changed versions are `eval_next`.

- 100 packages that are in both releases with a homepage, a description of 25-150 words and a new version
  (programs, not libraries, language modules or data: see `wanted`), drawn with a fixed seed.
- train: 120 questions, two on each of the first 60 packages; eval: 40 questions, one on each of the other
  40, eight of each kind; eval_next: the version question on 20 of the eval packages, answered by trixie.

Run: `.venv/bin/python -m bench._debian_data OUT [--from DIR]` (DIR holds Packages-{bookworm,trixie}.xz
and Translation-en-{bookworm,trixie}.xz; without it they are fetched from deb.debian.org, about 30 MB).
Then `python -m bench.pilot --plan-file OUT/packages/plan.yaml`.
"""
from __future__ import annotations

import json
import lzma
import random
import re
import urllib.request
from pathlib import Path

from bench._wordnet_data import SETTING

RELEASES = (("bookworm", 12), ("trixie", 13))
MIRROR = "http://deb.debian.org/debian/dists/{release}/main/{path}"
FILES = {"Packages": "binary-amd64/Packages.xz", "Translation-en": "i18n/Translation-en.xz"}
PACKAGES, TRAIN_PACKAGES, NEXT_QUESTIONS = 100, 60, 20
SEED = 17
SKIP_PREFIXES = ("lib", "python3-", "python-", "node-", "golang-", "r-cran-", "r-bioc-", "ruby-", "php-", "perl-",
                 "fonts-", "texlive", "firmware-", "linux-", "haskell-", "ocaml-", "elpa-", "gir1.2-", "qml-",
                 "rust-", "trilinos-", "openjdk-", "llvm-", "gcc-", "xfonts-", "hunspell-", "myspell-", "aspell-",
                 "hyphen-", "mythes-", "task-", "tryton-", "octave-", "puppet-", "nagios-", "cl-", "coq-", "dict-")
SKIP_SUFFIXES = ("-dev", "-doc", "-dbg", "-data", "-common", "-examples", "-tests", "-plugins", "-theme",
                 "-l10n", "-locale", "-dbgsym", "-udeb")
SKIP_SECTIONS = ("libs", "oldlibs", "libdevel", "doc", "fonts", "localization", "kernel", "metapackages",
                 "introspection", "debug", "tasks")
QUESTIONS = {
    "version": "Which version of {p} does Debian's stable release ship?",
    "maintainer": "Who maintains the Debian package {p}?",
    "homepage": "What is the homepage of {p}?",
    "section": "In which section of the Debian archive is {p}?",
    "summary": "What is {p}, in a few words?",
}
LICENSE = ("Debian package indexes of bookworm and trixie (main, amd64), descriptions under their packages' licenses, "
           "from deb.debian.org")

PLAN = """# Built by bench/_debian_data.py from the {source}
task: qa
train: train.jsonl
eval: eval.jsonl
corpus: docs/
corpus_next: docs-next/
eval_next: eval-next.jsonl
model: smollm2-135m-instruct
approaches: [zero-shot, few-shot, rag, rag+lora]
tuning:
  max_steps: 40
  batch_size: 8
  lr: 5.0e-4
  max_seq_len: 256
"""

ANSWERS = """# Built by bench/_debian_data.py
task: qa
labelled_examples: {n}
corpus_documents: {docs}
knowledge_changes: monthly    # point releases every two months, a new stable release every two years
long_tail: true               # a hundred packages drawn from 60,000: few are famous
"""


def stanzas(text: str):
    """The deb822 paragraphs of a Packages or Translation file, as {field: value} (continuation lines kept,
    each without its leading space)."""
    for block in text.split("\n\n"):
        fields, last = {}, None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and last:
                fields[last] += "\n" + line[1:]
            elif ":" in line:
                last, value = line.split(":", 1)
                fields[last] = value.strip()
        if fields:
            yield fields


def long_descriptions(translation: str) -> dict[str, str]:
    """Description-md5 -> the whole English description (its synopsis line first)."""
    return {s["Description-md5"]: s["Description-en"] for s in stanzas(translation)
            if "Description-md5" in s and "Description-en" in s}


def packages(index: str, translation: str) -> dict[str, dict]:
    """Package name -> the facts a document and its questions use, for every package with a long description."""
    descriptions = long_descriptions(translation)
    found = {}
    for s in stanzas(index):
        text = descriptions.get(s.get("Description-md5", ""))
        if "Package" not in s or text is None:
            continue
        synopsis, _, body = text.partition("\n")
        found[s["Package"]] = {"package": s["Package"], "version": s.get("Version", ""),
                               "section": s.get("Section", ""), "maintainer": maintainer_name(s.get("Maintainer", "")),
                               "homepage": s.get("Homepage", ""), "summary": synopsis.strip(),
                               "description": paragraphs(body)}
    return found


def maintainer_name(field: str) -> str:
    """'Daniel Lange <DLange@debian.org>' -> 'Daniel Lange'."""
    return re.sub(r"\s*<[^>]*>", "", field).strip().strip('"')


def paragraphs(body: str) -> str:
    """A description's body as plain paragraphs: ' .' lines end a paragraph, lines joined with spaces."""
    out, current = [], []
    for line in body.splitlines():
        if line.strip() == ".":
            out.append(" ".join(current))
            current = []
        else:
            current.append(line.strip())
    out.append(" ".join(current))
    return "\n\n".join(p for p in out if p)


def wanted(old: dict, new: dict | None) -> bool:
    """A program a user would ask about, described at some length, in both releases, at a new version."""
    name, section = old["package"], old["section"].split("/")[-1]
    words = len(old["description"].split())
    return (new is not None and not name.startswith(SKIP_PREFIXES) and not name.endswith(SKIP_SUFFIXES)
            and section not in SKIP_SECTIONS and bool(old["homepage"]) and bool(new["homepage"])
            and 25 <= words <= 150 and old["version"] != new["version"] and old["summary"] != "")


def document(facts: dict, release: str, number: int) -> str:
    section = facts["section"].split("/")[-1]
    return (f"# {facts['package']}\n\n{facts['package']}: {facts['summary']}.\n\n{facts['description']}\n\n"
            f"Debian's stable release, Debian {number} ({release}), ships {facts['package']} version "
            f"{facts['version']} in the {section} section. The package is maintained by {facts['maintainer']}. "
            f"Its homepage is {facts['homepage']}\n")


def answer(facts: dict, kind: str) -> str:
    return facts["section"].split("/")[-1] if kind == "section" else facts[kind]


def question(facts: dict, kind: str, split: str, number: int) -> dict:
    return {"id": f"deb-{split}-{number:03d}", "question": QUESTIONS[kind].format(p=facts["package"]),
            "answer": answer(facts, kind), "source": f"{facts['package']}.md"}


def build(old: dict[str, dict], new: dict[str, dict], rng: random.Random) -> dict:
    """The documents of both releases and the three question sets, from each release's packages."""
    pool = sorted(name for name, facts in old.items() if wanted(facts, new.get(name)))
    picked = rng.sample(pool, PACKAGES)
    kinds = list(QUESTIONS)
    train = [question(old[name], kind, "train", i * 2 + j) for i, name in enumerate(picked[:TRAIN_PACKAGES])
             for j, kind in enumerate(rng.sample(kinds, 2))]
    eval_names = picked[TRAIN_PACKAGES:]
    eval_kinds = [kinds[i % len(kinds)] for i in range(len(eval_names))]
    rng.shuffle(eval_kinds)
    evaluation = [question(old[name], kind, "eval", i) for i, (name, kind) in enumerate(zip(eval_names, eval_kinds))]
    following = [question(new[name], "version", "next", i) for i, name in enumerate(eval_names[:NEXT_QUESTIONS])]
    (first, n1), (second, n2) = RELEASES
    return {"docs": {f"{name}.md": document(old[name], first, n1) for name in picked},
            "docs-next": {f"{name}.md": document(new[name], second, n2) for name in picked},
            "train": train, "eval": evaluation, "eval-next": following}


def fetch(folder: Path | None, name: str, release: str) -> str:
    if folder is not None:
        return lzma.decompress((folder / f"{name}-{release}.xz").read_bytes()).decode("utf-8", errors="replace")
    url = MIRROR.format(release=release, path=FILES[name])
    with urllib.request.urlopen(url, timeout=120) as response:
        return lzma.decompress(response.read()).decode("utf-8", errors="replace")


def write(folder: Path, built: dict) -> None:
    for corpus in ("docs", "docs-next"):
        (folder / corpus).mkdir(parents=True, exist_ok=True)
        for name, text in built[corpus].items():
            (folder / corpus / name).write_text(text, encoding="utf-8")
    for split in ("train", "eval", "eval-next"):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in built[split]),
                                               encoding="utf-8")
    (folder / "plan.yaml").write_text(PLAN.format(source=LICENSE), encoding="utf-8")
    (folder / "answers.yaml").write_text(ANSWERS.format(n=len(built["train"]), docs=len(built["docs"])) + SETTING,
                                         encoding="utf-8")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--from", dest="source", type=Path,
                        help="a folder with Packages-RELEASE.xz and Translation-en-RELEASE.xz (default: fetch them)")
    args = parser.parse_args()
    old, new = (packages(fetch(args.source, "Packages", release), fetch(args.source, "Translation-en", release))
                for release, _ in RELEASES)
    built = build(old, new, random.Random(SEED))
    write(args.out / "packages", built)
    print(f"wrote {args.out / 'packages'}: {len(built['docs'])} documents a release, {len(built['train'])} train, "
          f"{len(built['eval'])} eval and {len(built['eval-next'])} next questions")


if __name__ == "__main__":
    main()
