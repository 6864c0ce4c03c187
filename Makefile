# `make demo` runs the lecture tour, `make test` runs every check; both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: all demo examples test lint typecheck unit graphviz chromium bench mutation clean \
	notebooks notebook
EXAMPLES := value_and_graph activations perceptron_logic_gates xor_mlp decision_boundaries \
	micrograd_demo

all: test

$(STAMP): pyproject.toml
	@sh scripts/check-python.sh $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0  # first, pinned: the CPU build
	$(BIN)/python -m pip install --quiet -e '.[dev,plot,data,export]'
	touch $(STAMP)

graphviz:
	@sh scripts/ensure-graphviz.sh

# the browser tests drive a headless Chromium (apt-get install chromium when root and missing)
chromium:
	@sh scripts/ensure-chromium.sh

demo: $(STAMP) graphviz
	$(BIN)/tinygrad-edu demo --out $(OUT)

# one example of the lecture, e.g. `make example-decision_boundaries`; `make examples` runs all
examples: $(addprefix example-,$(EXAMPLES))

example-%: $(STAMP) graphviz
	$(BIN)/python examples/$*.py --out $(OUT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict tinygrad_edu tests benchmarks examples scripts

# two processes (pytest-xdist), a test file each at a time: on two cores, half the time
JOBS ?= 2
unit: $(STAMP) graphviz chromium
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile

test: lint typecheck unit

# re-execute every notebook and store its outputs (commit them); `make test` checks they are current
notebooks: $(STAMP) graphviz
	$(BIN)/python scripts/notebooks.py --write

# Jupyter on the notebooks, from the venv (installs the `notebook` extra the first time)
notebook: $(STAMP) graphviz
	$(BIN)/python -c "import notebook" 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[notebook]'
	$(BIN)/jupyter notebook notebooks/

# mutation testing of the derivative table (several minutes; not part of `make test`, which runs
# its quick mode); `make mutation ONLY=relu` for one primitive
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(if $(ONLY),--only $(ONLY))

bench: $(STAMP)
	-$(BIN)/python -m pip install --quiet -e '.[bench]'  # MyGrad, autograd columns (optional)
	$(BIN)/python benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
