# The two commands a new machine needs: `make run` and `make test`; `make check` lints and
# type-checks.
# (`make playground` tries the bot in Microsoft's local Teams client; needs Node.js).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# npm packages for the card render and Playground tests (pinned by package-lock.json).
JS_STAMP := tests/js/node_modules/.package-lock.json


$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,bench,check]'
	@touch $@

$(JS_STAMP): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund
	@touch $@

js: $(JS_STAMP)

run: $(STAMP)
	$(BIN)/incident-bot migrate
	$(BIN)/incident-bot run --no-migrate

# Eight workers whatever the cores: the suite mostly waits (on sockets, child processes,
# Teams' pacing), using about 1.3 of 2 cores at eight. Tests are handed out one at a time,
# the `slow` ones first (tests/conftest.py), so no worker is left alone with a long story
# at the end. On 2 cores: 214 s; it was 520 s with two workers in batches.
test: $(STAMP)
	$(BIN)/python -m pytest -n 8 --maxschedchunk=1

# The linter and the type checker (strict on bot/ and integrations/): zero findings.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

playground: $(STAMP) $(JS_STAMP)
	tests/js/playground/start.sh

migrate: $(STAMP)
	$(BIN)/incident-bot migrate

# The Teams app zip (dist/incident-bot.zip), with MicrosoftAppId and PUBLIC_BASE_URL
# taken from the environment or .env.
package: $(STAMP)
	$(BIN)/incident-bot package

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info tests/js/node_modules
