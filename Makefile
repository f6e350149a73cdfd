# The two Quickstart commands (`make demo`, `make test`) set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
# torch is installed before the project so that pip keeps it: 2.13.0 is the CPU build on this
# team's machines and the CUDA build from PyPI on a Linux GPU machine. An already installed torch
# (for example a CUDA build you chose) is left alone. Override with `make setup TORCH_SPEC=...`.
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
export HANROCK_HOME ?= $(CURDIR)/.hanrock
# one persistent Dagster instance for the command line and the UI (runs, catalog, checks)
export DAGSTER_HOME ?= $(HANROCK_HOME)/dagster
# the demo's settings (the synthetic corpus at full scale) for every target, so the UI shows what the demo ran
export HANROCK_CONFIG ?= $(CURDIR)/examples/demo/hanrock.yaml

.PHONY: setup instance demo demo-h4 report test lint format bench gpu-wheels gpu-check-dry ui ui-shots clean

setup: $(VENV)/.hanrock-installed

$(VENV)/.hanrock-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

instance: setup
	$(BIN)/python -m hanrock_assets.instance "$(DAGSTER_HOME)" >/dev/null

# H1 on iemocap.emotion, 5 seeds a condition; then each comparison's verdict under both methods, and Table 1
demo: instance
	$(BIN)/dagster job execute -m hanrock_assets -j h1_study -c examples/demo/h1_study.yaml
	$(BIN)/hanrock results verdicts
	$(BIN)/hanrock results table1_h1

# H4 on iemocap.emotion: the paper's fixed loss weights against learned weightings and auto-selected targets
demo-h4: instance
	$(BIN)/dagster job execute -m hanrock_assets -j h4_study -c examples/demo/h4_study.yaml
	$(BIN)/hanrock results verdicts
	$(BIN)/hanrock results table_h4_weighting
	$(BIN)/hanrock results affinity

# after `make demo`: the attention report of iemocap.emotion, and a headless-Chromium screenshot of it
report: instance
	$(BIN)/dagster asset materialize -m hanrock_assets --select attention_report --partition iemocap.emotion
	$(BIN)/hanrock screenshot $(HANROCK_HOME)/reports/attention/iemocap.emotion.html --png $(HANROCK_HOME)/reports/attention/iemocap.emotion.png

test: setup
	$(BIN)/python -m pytest -n 2 tests

# ruff (configured in pyproject.toml): the format and the lint rules every file keeps; import-linter: the
# architecture's contracts ([tool.importlinter] in pyproject.toml)
lint: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/hanrock bench

# the GPU check (scripts/gpu_check.sh): wheels for a bare GPU machine (Python 3.12, manylinux x86-64), and
# its dry run on this machine's CPU
gpu-wheels: setup
	$(BIN)/python -m pip download -q --only-binary=:all: --no-deps --python-version 3.12 --implementation cp \
		--abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 --platform any -r gpu/requirements.txt -d gpu/wheels

gpu-check-dry: setup
	scripts/gpu_check.sh --device cpu --tiny --out .hanrock/gpu-check-dry

ui: instance
	@echo "the study's answer: http://localhost:3000/assets/h1_significance (each partition is linked from its description)"
	$(BIN)/dagster dev -w workspace.yaml

# after `make demo`: the pages a researcher opens first, rendered in headless Chromium (PNGs, seconds each)
ui-shots: instance
	$(BIN)/python -m hanrock_assets.ui_tour --out $(HANROCK_HOME)/ui-shots

clean:
	rm -rf $(VENV) .hanrock
