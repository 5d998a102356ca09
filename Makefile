# The two quick-start commands: `make demo` and `make test`. Each builds .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean kubectl alertmanager deploy-rbac constraints

# constraints.txt pins every dependency to the versions the tests passed with, so a fresh
# machine installs exactly what was tested (a new typer or rich release cannot break it).
$(STAMP): pyproject.toml constraints.txt
	@$(PY) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "irkit needs Python >= 3.11 (found $$($(PY) --version)); set PY=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# kubectl is on these machines; elsewhere install Debian's client when we can (tests that need it skip otherwise).
kubectl:
	@command -v kubectl >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq kubernetes-client) >/dev/null 2>&1 || \
		echo "kubectl not found and could not be installed: kubectl tests will be skipped"; }

# The real Alertmanager that the serve tests send alerts through (Debian's package, as root only).
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager) >/dev/null 2>&1 || \
		echo "prometheus-alertmanager not found and could not be installed: Alertmanager tests will be skipped"; }

# A scored drill of runbooks/compromised-pod.yaml on the simulator (the old tour: irkit sim demo).
demo: $(STAMP)
	$(BIN)/irkit drill --scenario examples/scenarios/compromised-pod.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: $(STAMP) kubectl alertmanager lint typecheck unit

# examples/deploy/kubernetes/rbac.yaml from irkit rbac (a test fails while the two disagree).
deploy-rbac: $(STAMP)
	$(BIN)/python examples/deploy/generate_rbac.py

bench: $(STAMP)
	$(BIN)/python bench/sim_throughput.py

# After changing dependencies in pyproject.toml: install them, run `make test`, then pin them.
constraints:
	$(BIN)/python -m pip install --quiet -e '.[test]'
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
