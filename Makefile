# HAMAD for Zeek. `make run` and `make test` work on a fresh Debian/Ubuntu box with Python >= 3.10.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
HAMAD  := $(VENV)/bin/hamad
DATA   ?= ../shared/datasets
# make run: a short simulated capture (hamad simulate, fixed seed) into an ignored directory.
RUN_OUT := run-out
RUN_SIM := --seed 0 --connections 20000 --hosts 16 --duration 6h
# As serve runs on a new network: learn it first (here the first hour; serve's default is a day).
RUN_LEARN := 1h

# The nine labelled captures: LOCO holds each out in turn; the shipped model trains on all of
# them (see models/README.md).
LOCO_DATA  := $(DATA)/iot23/CTU-IoT-Malware-Capture-34-1/conn.log.labeled.xz \
              $(DATA)/iot23/CTU-Honeypot-Capture-4-1/conn.log.labeled.xz \
              $(DATA)/iot23/CTU-Honeypot-Capture-5-1/conn.log.labeled.xz \
              $(DATA)/stratosphere-labeled-zeek/001-njrat-ctu-botnet-230-1.first1000.conn.log.labeled.xz \
              $(DATA)/stratosphere-labeled-zeek/008-ctu-normal-40-day1.conn.log.labeled.xz \
              $(DATA)/stratosphere-labeled-zeek/010-ctu-normal-42-day2.conn.log.labeled.xz \
              $(DATA)/iot23/CTU-IoT-Malware-Capture-8-1/conn.log.labeled.xz \
              $(DATA)/iot23/CTU-IoT-Malware-Capture-44-1/conn.log.labeled.xz \
              $(DATA)/stratosphere-labeled-zeek/018-ctu-sme-11-win-remcos.conn.log.labeled.xz
TRAIN_DATA := $(LOCO_DATA)

.PHONY: help venv venv-dev run test test-fast lint typecheck model eval loco bench report docs clean \
        dashboard image-test screenshots edge evasion fleet

help:
	@echo "make run     - set up .venv, simulate a short labelled capture, replay it through the shipped model"
	@echo "make test    - set up .venv with dev extras and run the test suite"
	@echo "make test-fast - the suite without the tests marked slow"
	@echo "make model   - retrain models/default from $(DATA) (needs the shared datasets)"
	@echo "make eval    - LOCO + seed-protocol report into docs/evaluation.md (needs the datasets)"
	@echo "make bench   - throughput / latency / memory figures"
	@echo "make edge    - rebuild models/default-int8 and write docs/edge.md (float vs int8)"
	@echo "make evasion - the evasion study into docs/evasion.md and docs/img/evasion.png"
	@echo "make fleet   - the fleet-learning study into docs/fleet.md (hamad fleet, Flower)"
	@echo "make dashboard  - the live dashboard (Streamlit) on the run of make run"
	@echo "make image-test - build the worker's container image on a local base and test it (needs dockerd)"

$(VENV)/.stamp-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-base
	$(PIP) install -q -e '.[train,dev,dashboard,fleet]'
	touch $@

$(VENV)/.stamp-dashboard: $(VENV)/.stamp-base
	$(PIP) install -q -e '.[dashboard]'
	touch $@

venv: $(VENV)/.stamp-base
venv-dev: $(VENV)/.stamp-dev

run: venv
	$(HAMAD) info
	$(HAMAD) simulate --out $(RUN_OUT)/simulated.conn.log $(RUN_SIM)
	$(HAMAD) replay $(RUN_OUT)/simulated.conn.log --learn $(RUN_LEARN) --out $(RUN_OUT)/verdicts.jsonl --top 5
	@echo
	@echo "Open the dashboard on this run:  make dashboard   (then http://127.0.0.1:8501)"

# The dashboard on what make run wrote: its verdicts (notices derived as Zeek raises them)
# and a hamad eval of the same labelled capture.
dashboard: $(VENV)/.stamp-dashboard
	@test -f $(RUN_OUT)/verdicts.jsonl || $(MAKE) run
	$(HAMAD) eval --data $(RUN_OUT)/simulated.conn.log --out $(RUN_OUT)/eval > /dev/null
	$(HAMAD) dashboard --logs $(RUN_OUT) --eval $(RUN_OUT)/eval

test: venv-dev
	$(PY) -m pytest -q -rs

# The edit-test loop: everything but the tests marked slow (training, ../shared, browser).
test-fast: venv-dev
	$(PY) -m pytest -q -rs -m "not slow"

lint: venv-dev
	$(VENV)/bin/ruff check hamad_plugin tests tools
	$(VENV)/bin/ruff format --check hamad_plugin

typecheck: venv-dev
	$(VENV)/bin/mypy hamad_plugin

model: venv-dev
	$(HAMAD) train $(foreach f,$(TRAIN_DATA),--data $(f)) --out models/default --n-estimators 100 --seed 0 --name default-$$(date +%Y.%m.%d)
	$(HAMAD) eval --model models/default $(foreach f,$(TRAIN_DATA),--data $(f)) --out models/default/eval-all-captures

eval report: venv-dev
	$(HAMAD) report --data-root $(DATA) --out docs

bench: venv
	$(HAMAD) bench --json-out docs/bench.json

# The int8 edge build of the shipped model, calibrated on a simulated day (seed 5, never
# used to evaluate), and its figures beside the float model's.
EDGE_TMP := $(RUN_OUT)/edge
edge: venv-dev
	mkdir -p $(EDGE_TMP)
	$(HAMAD) simulate --seed 5 --hosts 32 --duration 6h --connections 30000 --out $(EDGE_TMP)/calib-sim5.log
	$(HAMAD) quantize --model models/default --out models/default-int8 --calibration $(EDGE_TMP)/calib-sim5.log
	for s in 3 13; do $(HAMAD) simulate --seed $$s --hosts 64 --duration 24h --connections 100000 --out $(EDGE_TMP)/sim$$s.log; done
	$(HAMAD) edge --model models/default --edge-model models/default-int8 $(foreach f,$(LOCO_DATA),--data $(f)) \
	  --data $(EDGE_TMP)/sim3.log --data $(EDGE_TMP)/sim13.log --speed-log $(EDGE_TMP)/sim13.log \
	  --json-out docs/edge.json --md-out docs/edge.md

evasion: venv-dev
	$(HAMAD) evasion --seed 17 --seed 29 --md-out docs/evasion.md --png-out docs/img/evasion.png --json-out docs/evasion.json

# Fleet learning (docs/fleet.md): the labelled captures as three gateways and two simulated
# gateways (seeds never used elsewhere), federated vs local-only vs central.
FLEET_TMP := $(RUN_OUT)/fleet
IOT := $(DATA)/iot23
STRATO := $(DATA)/stratosphere-labeled-zeek
fleet: venv-dev
	mkdir -p $(FLEET_TMP)
	for s in 71 72; do $(HAMAD) simulate --seed $$s --hosts 32 --duration 12h --connections 30000 --out $(FLEET_TMP)/sim$$s.log; done
	$(HAMAD) fleet-study \
	  --gateway iot-mirai=$(IOT)/CTU-IoT-Malware-Capture-34-1/conn.log.labeled.xz,$(IOT)/CTU-Honeypot-Capture-4-1/conn.log.labeled.xz \
	  --gateway iot-mixed=$(IOT)/CTU-IoT-Malware-Capture-8-1/conn.log.labeled.xz,$(IOT)/CTU-IoT-Malware-Capture-44-1/conn.log.labeled.xz,$(IOT)/CTU-Honeypot-Capture-5-1/conn.log.labeled.xz \
	  --gateway stratosphere=$(STRATO)/001-njrat-ctu-botnet-230-1.first1000.conn.log.labeled.xz,$(STRATO)/008-ctu-normal-40-day1.conn.log.labeled.xz,$(STRATO)/010-ctu-normal-42-day2.conn.log.labeled.xz,$(STRATO)/018-ctu-sme-11-win-remcos.conn.log.labeled.xz \
	  --gateway sim71=$(FLEET_TMP)/sim71.log --gateway sim72=$(FLEET_TMP)/sim72.log \
	  --md-out docs/fleet.md --json-out docs/fleet.json

# Build the worker image on a Debian base made here with debootstrap (no registry needed) and
# run hamad replay inside it; needs root and a Docker daemon. Not part of make test.
image-test: venv
	PYTHON=$(PY) packaging/docker/image-test.sh

# Regenerate docs/img/dashboard-*.png (the browser test's screenshots; needs chromium).
screenshots: venv-dev
	HAMAD_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/dashboard/test_app_browser.py

docs: venv-dev
	$(PY) tools/gen_option_docs.py

clean:
	rm -rf $(VENV) eval-out $(RUN_OUT) verdicts.jsonl .pytest_cache .mypy_cache .ruff_cache

loco: venv-dev
	$(HAMAD) loco $(foreach f,$(LOCO_DATA),--data $(f)) --learn 0.25 --learn 0.1 --learn 0.5 --out docs/loco.md
