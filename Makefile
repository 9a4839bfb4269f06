# One command each on a fresh machine (only Python 3.11, pip, git and make needed):
#   make demo   - start the emulator, plan, apply, re-plan against examples/
#   make demo-fleet - the same for three servers from one repository (examples/fleet/)
#   make test   - the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo demo-fleet golden bench docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,emulator]'
	$(BIN)/python -c "from reconciler.core.yamlfile.read import c_parser_in_use as c; assert c(), 'PyYAML built with libyaml (its C parser) missing'"
	touch $(STAMP)

test: install
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

demo: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# Three emulators (staging and two customers), then validate -> plan -> apply -> plan the fleet
# of examples/fleet/; the last line says the re-plan is empty on every server.
demo-fleet: install
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo_fleet.sh

# Refresh the renderer and claims golden files on purpose (review the diff before committing).
golden: install
	PISYNC_UPDATE_GOLDEN=1 $(BIN)/pytest -q tests/core/render/test_render.py tests/core/render/test_fleet_render.py tests/core/review/test_review.py tests/e2e/test_claims_e2e.py

# Every benchmark at 1,000 / 10,000 / 100,000 users (an hour or so; SIZES=1000,10000 for a
# quicker run, ONLY=plan,import for some); the output is kept in benchmarks/.data/bench-*.log.
bench: install
	$(BIN)/pip install --quiet -e '.[dev,emulator,bench]'  # what the baselines compare against
	$(BIN)/python benchmarks/run_all.py $(if $(SIZES),--sizes $(SIZES)) $(if $(ONLY),--only $(ONLY))

# Regenerate docs/yaml-reference.md from the schemas (tests/test_docs.py fails while it is stale).
docs: install
	$(BIN)/python scripts/gen_yaml_reference.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .demo
