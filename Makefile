# `make demo` and `make test` do all the set-up on a fresh machine (Python 3.11+, pip, make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-targets clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jml demo

# The servers the tests start themselves (throwaway, on free loopback ports): OpenLDAP
# slapd, PostgreSQL and a Samba AD DC, from Debian's packages; and Debian's Chromium, which the
# browser test drives headless through Playwright (which cannot download a browser
# here). Installed only when missing (one apt-get update); a service a package starts
# on install is stopped again.
system-deps:
	@missing=""; \
	command -v slapd >/dev/null 2>&1 || test -x /usr/sbin/slapd || missing="$$missing slapd"; \
	command -v ldapsearch >/dev/null 2>&1 || missing="$$missing ldap-utils"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/sbin/samba || missing="$$missing samba"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi; \
	  $$sudo apt-get update -qq || exit 1; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  for service in slapd postgresql; do \
	    case " $$missing " in *" $$service "*) $$sudo service $$service stop >/dev/null 2>&1 || true;; esac; \
	  done; \
	  case " $$missing " in *" samba "*) for service in samba-ad-dc smbd nmbd winbind; do \
	    $$sudo service $$service stop >/dev/null 2>&1 || true; done;; esac; \
	fi

test: $(STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --cov --cov-report=term:skip-covered --durations=25
	$(BIN)/python -m tests.coverage_floor 90 jml

bench: $(STAMP)
	$(BIN)/python bench/plan_100k.py

bench-targets: $(STAMP) system-deps
	$(BIN)/python bench/target_throughput.py

clean:
	rm -rf $(VENV) demo-state test-output .pytest_cache .hypothesis .coverage .coverage.*
