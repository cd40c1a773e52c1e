# Two commands for a newcomer: `make run` (install, demo data, serve) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-postgresql lint typecheck bench clean system-packages screenshots docs messages

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/feedserver init
	$(BIN)/feedserver demo --if-empty
	$(BIN)/feedserver serve

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# What the tests drive besides Python: Debian's Chromium (Playwright's own download is not
# used), libical (a C reader of feedserver's output), Node.js for ical.js and node-ical,
# PostgreSQL (the tests start throwaway clusters of their own; no service is used), nginx (the
# reference load balancer in front of two nodes; started by the tests on loopback).
system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	pkg-config --exists libical 2>/dev/null || missing="$$missing libical-dev pkg-config"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for the tests:$$missing"; \
		SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Third-party iCalendar parsers (ical.js, node-ical) that read feedserver's output in the tests.
JS := tests/js/node_modules/.installed
$(JS): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS)

# The whole suite on SQLite and, at the same time, every test that opens a store again on
# PostgreSQL (its output follows the SQLite pass's; either failing fails the target). Each pass
# spends much of its time waiting on other processes (servers, browsers, PostgreSQL): side by
# side they fit 15 minutes on two cores.
test: lint typecheck system-packages $(JS)
	@FEEDSERVER_TEST_BACKEND=postgresql $(BIN)/pytest -p no:cacheprovider \
		> .pytest-postgresql.log 2>&1 & postgresql=$$!; \
	$(BIN)/pytest; sqlite=$$?; \
	wait $$postgresql; pg=$$?; \
	echo "--- the PostgreSQL pass (exit status $$pg):"; cat .pytest-postgresql.log; \
	test $$sqlite -eq 0 -a $$pg -eq 0

test-postgresql: $(STAMP) system-packages $(JS)
	FEEDSERVER_TEST_BACKEND=postgresql $(BIN)/pytest

# The fast lane: in-process tests only (no other process, browser or external suite), on two
# workers (pytest-xdist), about 70 s on two cores. `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -n 2

# The web app's message catalogs: every _("...") and N_("...") the pages use (babel.cfg) added
# to feedserver/web/pages/locale/*/LC_MESSAGES/messages.po, to be translated there
# (tests/test_translations.py fails while one is not).
LOCALE := feedserver/web/pages/locale
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k PageRefused:2 --no-location --omit-header \
		-o $(LOCALE)/messages.pot .
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) --no-fuzzy-matching \
		--ignore-obsolete -w 100
	rm $(LOCALE)/messages.pot
	$(BIN)/python -c "from feedserver.web.pages import refusals; refusals.update_catalogs()"

screenshots: $(STAMP) system-packages
	FEEDSERVER_SCREENSHOTS=docs $(BIN)/pytest -q tests/test_browser.py

# The reference parts of docs/ (options, commands, routes) and the example configuration,
# written from the code; tests/test_docs.py fails when they are out of date.
docs: $(STAMP)
	$(BIN)/feedserver docs docs
	$(BIN)/feedserver example-config > config/feedserver.example.toml

bench: $(STAMP)
	$(BIN)/python bench/feeds.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
