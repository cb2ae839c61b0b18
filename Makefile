# The two commands a new machine needs: `make run` and `make test`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test migrate package bench clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@touch $@

run: $(STAMP)
	$(BIN)/incident-bot migrate
	$(BIN)/incident-bot run --no-migrate

test: $(STAMP)
	$(BIN)/python -m pytest

migrate: $(STAMP)
	$(BIN)/incident-bot migrate

# The Teams app zip (dist/incident-bot.zip), with MicrosoftAppId and PUBLIC_BASE_URL
# taken from the environment or .env.
package: $(STAMP)
	$(BIN)/incident-bot package

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info
