# lps_robot: every target sets itself up; `make test` and `make demo` need nothing installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS := train,deploy,record,ros,sim,teleop,bench,dev
# Tests and nodes talk DDS on loopback only, in their own domain.
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup test mindeps interop lint format bench ogbench demo clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup: $(STAMP)  ## create .venv and install everything (system libs included)

$(STAMP): pyproject.toml constraints.txt scripts/apt-deps.sh
	bash scripts/apt-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"
	# robomimic's own loader checks our files (tests); its heavy dependencies are not needed
	$(PY) -m pip install -q --no-deps -c constraints.txt robomimic
	touch $(STAMP)

test: setup  ## run the test suite
	$(PY) -m pytest -q -ra

mindeps: setup  ## the deploy path (core + deploy extras) at the lowest versions pyproject.toml allows
	rm -rf .venv-min && $(PYTHON) -m venv .venv-min
	$(PY) scripts/min_deps.py make-model .venv-min/policy.onnx
	.venv-min/bin/python -m pip install -q --upgrade pip
	$(PYTHON) scripts/min_deps.py requirements deploy > .venv-min/floors.txt
	.venv-min/bin/python -m pip install -q --only-binary :all: -r .venv-min/floors.txt
	.venv-min/bin/python -m pip install -q --no-deps -e .
	.venv-min/bin/python scripts/min_deps.py check .venv-min/policy.onnx

interop: setup  ## LeRobot's own loader reads an lps-exported LeRobot v3 dataset (own venv)
	test -x .venv-interop/bin/python || $(PYTHON) -m venv .venv-interop
	.venv-interop/bin/python -m pip install -q torch==2.13.0 lerobot-dataset==0.4.4
	rm -rf runs/interop && mkdir -p runs/interop
	$(VENV)/bin/lps data generate --sim 3 --seed 4 --max-steps 60 --json -o runs/interop/episodes
	$(VENV)/bin/lps data export runs/interop/episodes --format lerobot -o runs/interop/lerobot
	.venv-interop/bin/python scripts/lerobot_interop.py runs/interop/lerobot

lint: setup  ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup  ## benchmarks (each prints one JSON line; copies under runs/bench/)
	mkdir -p runs/bench
	$(VENV)/bin/lps bench io --json | tee runs/bench/io.json
	$(VENV)/bin/lps bench toy --json | tee runs/bench/toy.json
	$(VENV)/bin/lps bench train --json | tee runs/bench/train.json
	$(VENV)/bin/lps bench inference --json | tee runs/bench/inference.json
	$(VENV)/bin/lps bench loop --json --seconds 60 | tee runs/bench/loop.json

ogbench: setup  ## LPS vs MF-BC on OGBench cube-single, seeds 0 and 1 (state; oracle-generated data)
	mkdir -p runs
	$(VENV)/bin/lps bench ogbench --env cube-single-play-singletask-task1-v0 --steps 15000 \
		--data-episodes 100 --eval-episodes 50 --eval-every 3000 --seeds 0 1 --parallel \
		--out-dir runs/ogbench --json | tee runs/ogbench.json

demo: setup  ## the main job end to end on the simulated robot
	$(VENV)/bin/lps demo $(if $(ROBOT),--robot $(ROBOT))

clean:  ## remove the venv and run outputs
	rm -rf $(VENV) .venv-min .venv-interop runs .pytest_cache .ruff_cache *.egg-info
