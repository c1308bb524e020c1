# The two commands: `make demo` (the whole service, one real migration) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# Test processes side by side (pytest-xdist, whole files per process, heaviest files first: tests/conftest.py).
# One process runs at about half of a 2-core host's CPU (waits on guests, services, polls); 0 runs in one process.
TEST_JOBS ?= 2

.PHONY: demo test bench bench-transfer lint services flower docs clean

$(VENV)/.installed: pyproject.toml
	bash deploy/bootstrap.sh test
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,flower]'
	touch $@

# Debian's libguestfs bindings (the morphing appliance), linked into the venv: only those modules.
$(VENV)/.guestfs: $(VENV)/.installed deploy/link-guestfs.sh deploy/packages/apt-test.txt deploy/packages/apt-demo.txt
	bash deploy/bootstrap.sh $(if $(filter demo,$(MAKECMDGOALS)),demo,test)
	bash deploy/link-guestfs.sh $(VENV)
	touch $@

services:
	bash deploy/dev-services.sh

test: $(VENV)/.guestfs services
	$(VENV)/bin/pytest -q -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

demo: $(VENV)/.guestfs
	$(PY) deploy/demo.py

bench: $(VENV)/.guestfs services
	$(PY) tests/bench/bench_api.py

bench-transfer: $(VENV)/.installed services
	$(PY) tests/bench/bench_transfer.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

flower: $(VENV)/.installed
	$(VENV)/bin/coriolis flower

docs: $(VENV)/.installed
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info
