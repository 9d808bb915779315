# FLIS-portal. `make run` starts the portal; `make test` runs every test. Both set up what they
# need on a fresh Debian machine (as root or with sudo) and are safe to run again.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the portal and its tests use (Redis for the queue, OpenSSH's sftp client for
# the stand-in's interoperability test, OpenSSH's sshd as the real server the SFTP client is
# tested and benchmarked against, Chromium for the browser tests with its language packs (the
# tests run it in Danish; Debian ships da.pak apart), PostgreSQL for the suite's
# second run, a C compiler for the validator's row screen (deliveries/screen.c, built by the
# portal on first use), and python3-venv, without which Debian's python3 cannot make `.venv`.
DEBS := redis-server openssh-client openssh-server chromium chromium-l10n postgresql gcc libc6-dev python3-venv

.PHONY: run test test-dates system venv lint typecheck clean-data

run: system venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py demodata
	$(VENV)/bin/honcho start -f Procfile

# The suite runs twice: on SQLite (the embedded default) and on a throw-away PostgreSQL.
test: system venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy flisportal routes deliveries
	$(VENV)/bin/pytest
	$(PY) tests/run_on_postgres.py $(VENV)/bin/pytest -p no:cacheprovider

# The suite on SQLite with the clock moved forward: a month, across New Year's Eve in Copenhagen,
# and a year (tests/run_with_clock_moved.py). Not part of `make test`: run it before changing
# anything that reads the date, and after writing a test that freezes one.
test-dates: system venv
	$(PY) tests/run_with_clock_moved.py $(or $(SHIFTS),month newyear year) -- $(VENV)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS)

# Installs the Debian packages that are missing. apt-get update runs only when one is missing.
system:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

# setuptools < 81 still has pkg_resources, which xstatic-bootstrap's sdist needs to build, so
# the project installs without build isolation into a venv that has it. The `s3` extra
# (django-storages, boto3) is installed for the tests that keep files in an object store.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip "setuptools>=68,<81" wheel
	$(PIP) install -q --no-build-isolation -e ".[dev,s3]"
	touch $(STAMP)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy flisportal routes deliveries

clean-data:
	rm -rf var
