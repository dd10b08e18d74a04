# Beijing compulsory-school enrollment platform. `make` alone lists the targets.
# Scripts live in deploy/ (see deploy/README.md); everything runs from the repository root.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help run test faults bench bench-platform bench-allocation bench-districts bench-documents \
	bench-opening-day migrate lint clean

help:
	@echo "Targets:"
	@echo "  make run      set up this machine, migrate, start every process (common/registry.py)"
	@echo "                (http://127.0.0.1:8000, Ctrl-C stops everything)"
	@echo "  make test     set up with dev requirements, run pytest (PYTEST_ARGS=\"-k x -x\")"
	@echo "  make faults   the fault suite: broker and database restarts, SIGKILLs, under load,"
	@echo "                on a broker node and database cluster of its own (~8 min)"
	@echo "  make bench    set up with dev requirements, run the five benchmarks (bench/results/):"
	@echo "                bench-platform (registrations, reads, submissions, checks, a"
	@echo "                registry outage's backlog, memory; ~12 min),"
	@echo "                bench-allocation (150,000-applicant draw, matching package; ~5 min),"
	@echo "                bench-districts (350,000 applications: district lists, bulk"
	@echo "                reviews, families' pages meanwhile; ~6 min), bench-documents"
	@echo "                (the 学龄人口信息采集表: renders, 100 downloads at once, memory; ~8 min)"
	@echo "                and bench-opening-day (registrations offered at 1.2 and 2 × the"
	@echo "                sustainable rate, with and without retries, families' status"
	@echo "                reads meanwhile; ~7 min)"
	@echo "  make migrate  apply the database migrations of every service (MIGRATION_DATABASE_URL)"
	@echo "  make lint     ruff check ."
	@echo "  make clean    remove var/ and .venv"

run:
	@bash deploy/run.sh

test:
	@bash deploy/setup.sh --dev
	@bash deploy/test.sh $(PYTEST_ARGS)

faults:
	@bash deploy/setup.sh --dev
	$(VENV)/bin/pytest -m faults tests/faults -s $(PYTEST_ARGS)

bench:
	@bash deploy/setup.sh --dev
	@mkdir -p bench/results
	$(PYTHON) -m bench.run; platform=$$?; $(PYTHON) -m bench.allocation; \
	    allocation=$$?; $(PYTHON) -m bench.districts; districts=$$?; \
	    $(PYTHON) -m bench.documents; documents=$$?; \
	    $(PYTHON) -m bench.opening_day; opening=$$?; \
	    exit $$(( platform || allocation || districts || documents || opening ))

bench-platform:
	@bash deploy/setup.sh --dev
	$(PYTHON) -m bench.run

bench-allocation:
	@bash deploy/setup.sh --dev
	$(PYTHON) -m bench.allocation

bench-districts:
	@bash deploy/setup.sh --dev
	$(PYTHON) -m bench.districts

bench-documents:
	@bash deploy/setup.sh --dev
	$(PYTHON) -m bench.documents

bench-opening-day:
	@bash deploy/setup.sh --dev
	$(PYTHON) -m bench.opening_day

migrate:
	@bash deploy/setup.sh
	$(PYTHON) -m common.migrations

lint:
	@bash deploy/setup.sh --dev --python-only
	$(VENV)/bin/ruff check .

clean:
	rm -rf var $(VENV)
