# Two commands on a fresh machine:  `make run` (demo on SQLite)  and  `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: install run test lint bench chromium translations vendor clean

$(STAMP): setup.cfg pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations vendor

# Front-end libraries from npm (package-lock.json pins them), copied into the app's static files.
VENDOR := webapp/static/vendor
vendor: $(VENDOR)/.stamp

$(VENDOR)/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/bpmn-js
	cp node_modules/bpmn-js/dist/bpmn-viewer.production.min.js node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js \
	   node_modules/bpmn-js/dist/bpmn-modeler.production.min.js $(VENDOR)/bpmn-js/
	cp -r node_modules/bpmn-js/dist/assets/. $(VENDOR)/bpmn-js/assets/
	touch $(VENDOR)/.stamp

translations: $(STAMP)
	$(BIN)/pybabel compile -d webapp/translations

chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/faketime || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium faketime >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium faketime >/dev/null; }; \
	  else echo "the tests need Debian's chromium and faketime: sudo apt-get install chromium faketime" >&2; exit 1; fi; }

run: install
	$(BIN)/petitions demo
	$(BIN)/petitions serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check engine workflows webapp tests migrations bench

test: install chromium lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The six benchmarks of docs/performance.md (BENCH_ARGS=--quick for a few minutes; PostgreSQL on 127.0.0.1).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache node_modules $(VENDOR)
