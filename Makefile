# iqlib: one entry point per task. Works on a fresh clone: the first target that needs
# the virtualenv creates it and installs the package (editable) with its dev extra, at the
# exact versions of requirements.lock (pyproject.toml keeps only lower bounds).

PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV ?= .venv
OUT ?= outputs
LOCK := requirements.lock

VPY := $(VENV)/bin/python

.PHONY: install install-gpu lock run test bench lab clean data data-discrete data-locomotion data-maze readme-tables reproduce

## install: the venv, the package (editable) + dev extra pinned by $(LOCK), the Jupyter kernel
## and the venv's own JupyterLab settings (python files open as notebooks); nothing in $$HOME
$(VENV)/.installed: pyproject.toml $(LOCK)
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -c $(LOCK) -e ".[dev]"
	$(VPY) -m iqlib.notebook.lab
	touch $@

install: $(VENV)/.installed

## install-gpu: install, plus jax's CUDA 12 plugin at the locked jax version (NVIDIA GPU, Linux)
install-gpu: install
	$(VPY) -m pip install -c $(LOCK) -e ".[dev,cuda12]"
	$(VPY) -c "import jax; print('jax', jax.__version__, 'devices:', jax.devices())"

## run: execute every notebook into $(OUT)/<notebook>/ and write $(OUT)/summary.{md,json}
run: install
	$(VPY) -m iqlib.notebook.runner --output-dir $(OUT)

NBMAKE_DIR := build/nbmake

## test: unit tests, papermill reruns with overridden parameters, and nbmake over every
## notebook at its default parameters (py:percent sources converted to .ipynb in build/)
test: install
	rm -rf $(NBMAKE_DIR) && mkdir -p $(NBMAKE_DIR)
	@for f in notebooks/[0-9]*.py; do \
		$(VENV)/bin/jupytext --quiet --to ipynb -o $(NBMAKE_DIR)/$$(basename $$f .py).ipynb $$f || exit 1; \
	done
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VPY) -m pytest tests $(NBMAKE_DIR) --nbmake --durations=15

## bench: run every benchmarks/*.py with the venv's python
bench: install
	@set -e; for f in benchmarks/[!_]*.py; do \
		[ -e "$$f" ] || continue; \
		echo "== $$f"; \
		$(VPY) "$$f"; \
	done

## readme-tables: rewrite the README's full-run tables (notebooks 05, 06, 09, 10) from the records in
## results/ (scripts/readme_tables.py; run it after recording a run, tests/test_readme_tables.py checks it)
readme-tables: install
	$(VPY) scripts/readme_tables.py

WORKERS ?= 1

## reproduce: regenerate every record of results/ (sweeps/full.yaml as resumable Dask runs, WORKERS
## local worker processes; records already complete are skipped: remove one to redo it), then the
## README's tables. Many hours on 2 cores; on a cluster use the sweep command with --scheduler
reproduce: install
	$(VPY) -m iqlib.notebook.sweep sweeps/full.yaml --workers $(WORKERS)
	$(VPY) scripts/readme_tables.py

## data: regenerate every expert, demonstration set and offline dataset in data/ from its seed
## (slow: tens of minutes on 2 cores; the committed files are what tests and notebooks use)
data: data-discrete data-locomotion data-maze

data-discrete: install
	$(VPY) scripts/make_discrete_data.py
	$(VPY) scripts/make_discrete_data.py --envs CartPole-v1 --robust

data-locomotion: install
	$(VPY) scripts/make_locomotion_data.py
	$(VPY) scripts/make_locomotion_data.py --envs HalfCheetah-v5 --demos-only

data-maze: install
	$(VPY) scripts/make_maze_data.py
	$(VPY) scripts/make_maze_data.py --keep-goal-segments --out data/offline/pointmaze-medium-goal.npz

.PHONY: minari

## minari: publish every offline set of data/offline into the local Minari root ($$MINARI_DATASETS_PATH, else
## ~/.minari/datasets) as iqlib/<env>/<kind>-v0, with reference scores and the eval env, and check that each
## round trip ours -> Minari -> ours is bit-identical (scripts/publish_minari.py; the .npz files are only read)
minari: install
	$(VPY) scripts/publish_minari.py

## lab: open the notebooks in JupyterLab; a double click opens a notebooks/*.py as a notebook
## (jupytext's viewer, set in the venv's share/jupyter/lab/settings/overrides.d/iqlib.json); edits are
## saved to the .py (jupytext.toml pairs it with a git-ignored .ipynb)
lab: install
	$(VPY) -m iqlib.notebook.lab
	$(VENV)/bin/jupyter lab notebooks/

LOCK_VENV := build/lock-venv

## lock: re-resolve the dev install in a throwaway venv and pin its exact versions in $(LOCK)
## (run after changing a dependency in pyproject.toml; then `make install` uses them)
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -e ".[dev]"
	sed -n '/^#/p' $(LOCK) > $(LOCK).new
	$(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | grep -v '^#' >> $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)

## clean: remove outputs and the generated notebooks/*.ipynb
clean:
	rm -rf $(OUT)
	rm -f notebooks/*.ipynb
	rm -rf build
