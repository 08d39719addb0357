# FieldOps: `make run` starts everything on SQLite with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers: each has its own databases (SQLite copies, a PostgreSQL database per
# worker) and its own Chromium; two keep both cores of the CI machine busy.
TEST_WORKERS ?= 2

.PHONY: run test lint messages bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The demo lets agents capture at any hour; set FIELDOPS_WORKING_DAYS/HOURS to see the C2 gate.
DEMO_HOURS := FIELDOPS_WORKING_DAYS="$${FIELDOPS_WORKING_DAYS:-1,2,3,4,5,6,7}" \
	FIELDOPS_WORKING_HOURS="$${FIELDOPS_WORKING_HOURS:-00:00-23:59}"

run: $(STAMP)
	$(BIN)/fieldops migrate
	$(BIN)/fieldops demo
	$(DEMO_HOURS) $(BIN)/fieldops run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n $(TEST_WORKERS)
	@if [ -n "$$FIELDOPS_TEST_DATABASE_URL" ]; then \
		echo "== again on PostgreSQL ($$FIELDOPS_TEST_DATABASE_URL) =="; \
		FIELDOPS_TEST_BACKEND=postgres $(BIN)/pytest -q -n $(TEST_WORKERS); \
	else \
		echo "FIELDOPS_TEST_DATABASE_URL not set: PostgreSQL run skipped"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NC_:1c,2 -k translate:2 -k translate_plural:2,3 \
		--no-location --sort-output -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching --ignore-obsolete

bench: $(STAMP)
	$(BIN)/python -m bench.bot_throughput
	$(BIN)/python -m bench.capture_throughput
	$(BIN)/python -m bench.sweeps

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
