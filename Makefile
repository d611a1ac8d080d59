# iqlib: one entry point per task. Works on a fresh clone: the first target that needs
# the virtualenv creates it and installs the package (editable) with its dev extra.

PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV ?= .venv
OUT ?= outputs

VPY := $(VENV)/bin/python

.PHONY: install run test bench lab clean

$(VENV)/.installed: pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

## run: execute every notebook into $(OUT)/<notebook>/ and write $(OUT)/summary.{md,json}
run: install
	$(VPY) -m iqlib.runner --output-dir $(OUT)

## test: unit tests plus notebook execution tests
test: install
	$(VPY) -m pytest

## bench: run every benchmarks/*.py with the venv's python
bench: install
	@set -e; for f in benchmarks/*.py; do \
		[ -e "$$f" ] || continue; \
		echo "== $$f"; \
		$(VPY) "$$f"; \
	done

## lab: open the notebooks in JupyterLab (py:percent sources paired via jupytext.toml)
lab: install
	$(VENV)/bin/jupyter lab notebooks/

## clean: remove outputs and the generated notebooks/*.ipynb
clean:
	rm -rf $(OUT)
	rm -f notebooks/*.ipynb
