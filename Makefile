# Pixels to Predictions: every command a student, an instructor or CI needs.
# Run `make help` for the list. Everything is installed into .venv by these rules.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000

# The course's data sets: tests and the book read ../shared/data when it is there
# (CI and the developers' machines); elsewhere the loaders download and verify them.
ifneq ($(wildcard ../shared/data/mnist),)
export CNN_COURSE_DATA ?= $(abspath ../shared/data)
endif
# nbgrader calls `alembic` (and the book calls jupyter) from PATH: use the venv's.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Matplotlib must never try to open a window while building or testing.
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

ASSIGNMENTS := $(notdir $(wildcard solutions/[0-9][0-9]_*))

.PHONY: help install book sync serve test test-fast lab check exercises release collect autograde feedback grades grading-status capstone-checkpoint bench lint clean

help:
	@echo "make book       build the website (creates .venv, installs everything) -> _build/html"
	@echo "make serve      build, then serve the website on http://127.0.0.1:$(PORT)"
	@echo "make publish    build, check and prepare the website for static hosting -> _build/publish"
	@echo "make test       run the whole test suite (book build and browser checks included)"
	@echo "make lab        open JupyterLab on exercises/ with the course's kernel"
	@echo "make check NB=exercises/01_pixels/01_pixels.ipynb   run a notebook's visible tests"
	@echo "make exercises  regenerate the student versions in exercises/ from solutions/"
	@echo "make sync       after editing course.toml: rewrite every setup cell, then make exercises"
	@echo "make release    generate the student versions and register them in the gradebook"
	@echo "make collect ASSIGNMENT=01_pixels FROM=inbox/   take submissions (zips, notebooks, folders)"
	@echo "make autograde [ASSIGNMENT=01_pixels] [JOBS=n]  grade everyone in sandboxes, n at once"
	@echo "make feedback   HTML feedback per student (hidden tests never shown)"
	@echo "make grades     grades.csv with a summary and a histogram per assignment"
	@echo "make grading-status   who is missing, failed, flagged or changed by hand"
	@echo "make capstone-checkpoint   train the instructor's digitnet.pt (needed to grade 07_capstone)"
	@echo "make bench      run the benchmarks (NumPy vs PyTorch side by side)"
	@echo "make lint       ruff, the formatter check and pyright over helpers/ and grader/"

# --- installation -----------------------------------------------------------
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[lab,book,instructor,dev]'
	$(PY) -m pip check
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (Pixels to Predictions)" >/dev/null
	touch $@

install: $(VENV)/.installed book/_vendor/.installed

# Widget manager and MathJax are served from the site itself, so pages work offline.
book/_vendor/.installed: vendor/package.json vendor/package-lock.json
	cd vendor && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf book/_vendor && mkdir -p book/_vendor/html-manager book/_vendor/mathjax
	cp -r vendor/node_modules/@jupyter-widgets/html-manager/dist/. book/_vendor/html-manager/
	# Pages load embed.js (and the fonts it asks for); the AMD builds and source maps would
	# only add 20 MB to every copy of the site.
	rm -f book/_vendor/html-manager/*.map book/_vendor/html-manager/*embed-amd.js
	cp -r vendor/node_modules/mathjax/es5/. book/_vendor/mathjax/
	touch $@

# --- the website ------------------------------------------------------------
# The setup cells and the chapters' notebook twins must follow course.toml (make sync fixes it).
book: install
	$(PY) _ext/course.py check
	$(BIN)/jupyter-book build . --builder html -W --keep-going
	@echo
	@echo "The website is in $(CURDIR)/_build/html/index.html  (make serve: http://127.0.0.1:$(PORT))"

serve: book
	@echo "Serving on http://127.0.0.1:$(PORT)  (Ctrl-C stops)"
	$(PY) -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# The website as a static host (GitHub Pages, any web server) serves it: refused when a page
# links to this machine or to a placeholder host, else copied with .nojekyll to $(PUBLISH_DIR),
# the folder .github/workflows/publish.yml deploys (tools/publish_site.py says why).
SITE_DIR ?= _build/html
PUBLISH_DIR ?= _build/publish
.PHONY: publish
publish: book
	$(PY) tools/publish_site.py $(SITE_DIR) $(PUBLISH_DIR)

# --- tests ------------------------------------------------------------------
test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

# ruff (with a complexity limit and docstrings on the public API), the formatter's check, and a
# basic pyright pass over the two packages (settings in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pyright --project pyproject.toml --warnings

# --- students ---------------------------------------------------------------
lab: install
	$(BIN)/jupyter lab --notebook-dir=exercises

NB ?= exercises/01_pixels/01_pixels.ipynb
check: install
	$(PY) -m helpers.check $(NB)

# --- instructors ------------------------------------------------------------
# nbgrader reads nbgrader_config.py from the current folder only: run from here.
exercises: install
	for a in $(ASSIGNMENTS); do $(BIN)/nbgrader generate_assignment $$a --force --no-db || exit 1; done

# course.toml changed (repository, site, hub, mirrors): every notebook's setup cell follows it.
sync: install
	$(PY) _ext/course.py sync
	$(MAKE) exercises

# The instructor's workflow: python -m grader VERB (see book/instructors.md). The grader is a
# package of this repository, never installed into a student's environment.
COURSE := $(PY) -m grader
JOBS ?= $(shell n=$$(nproc); echo $$(( n > 1 ? n - 1 : 1 )))
ASSIGNMENT ?=
FROM ?=

release: install
	$(COURSE) release $(ASSIGNMENT)

collect: install
	@test -n "$(ASSIGNMENT)" || { echo "make collect ASSIGNMENT=<name> [FROM=<folder>]"; exit 2; }
	$(COURSE) collect $(ASSIGNMENT) $(if $(FROM),--from $(FROM))

autograde: install
	$(COURSE) autograde $(ASSIGNMENT) --jobs $(JOBS)

feedback: install
	$(COURSE) feedback $(ASSIGNMENT)

grades: install
	$(COURSE) grades

grading-status: install
	$(COURSE) status

# The capstone is graded against the instructor's own trained network: running the solution
# notebook outside grading trains it (about a minute on a CPU) and saves digitnet.pt, which
# goes to grading/reference/ (never into solutions/: nbgrader would release it to students).
capstone-checkpoint: grading/reference/07_capstone/digitnet.pt
grading/reference/07_capstone/digitnet.pt: solutions/07_capstone/07_capstone.ipynb | install
	rm -rf _build/capstone-run && mkdir -p _build/capstone-run $(@D)
	cp solutions/07_capstone/07_capstone.ipynb _build/capstone-run/
	cd _build/capstone-run && $(CURDIR)/$(BIN)/jupyter nbconvert --to notebook --execute \
	  --inplace --ExecutePreprocessor.timeout=1800 07_capstone.ipynb
	cp _build/capstone-run/digitnet.pt $@.tmp && mv $@.tmp $@
	@echo "Wrote $@"

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, where a machine sets them for old OpenBLAS builds, force
# a slower kernel on NumPy's current one: unset for the benchmarks only (see benchmarks/README.md).
bench: install
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) -m benchmarks

clean:
	rm -rf _build .pytest_cache .hypothesis
