# The two set-up commands of the README:
#   make demo   install into .venv and run the main job on built-in defaults
#   make test   install into .venv and run the test suite
# Everything installs into .venv (created with the python3 on PATH); nothing else on the machine changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out

.PHONY: demo test cpptest lint bench install clean

$(STAMP): pyproject.toml setup.py CMakeLists.txt $(wildcard csrc/*.h csrc/*.cc csrc/python/*.h csrc/python/*.cc)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The main job on its built-in default: a generated demo library (ten 30 s songs, one per style),
# classified by the bundled genre model and tagged by the bundled mood model; then the quick benchmark.
demo: $(STAMP)
	$(BIN)/python -m musicedge info
	$(BIN)/python -m training corpus --layout gtzan --out $(OUT)/demo-library --tracks 10 --seconds 30 \
		--seed 42 --sample-rate 44100 -q
	$(BIN)/python -m musicedge analyze $(OUT)/demo-library/genres --out $(OUT)/demo-analysis \
		--tasks classify,tag,segment,fingerprint
	$(BIN)/python -m musicedge classify $(OUT)/demo-library/genres -m genre --top-k 3
	$(BIN)/python -m musicedge classify $(OUT)/demo-library/genres -m mood -f csv -o $(OUT)/demo-moods.csv
	$(BIN)/python -m musicedge latent interpolate $(OUT)/demo-library/genres/classical/classical.00000.wav \
		$(OUT)/demo-library/genres/metal/metal.00000.wav --offset-a 10 --offset-b 10 --steps 6 -o $(OUT)/demo-latent
	rm -rf $(OUT)/demo-fingerprints  # a fresh library each run (an older one may hold another model's fingerprints)
	$(BIN)/python -m musicedge index $(OUT)/demo-library/genres --db $(OUT)/demo-fingerprints
	$(BIN)/python -m musicedge query $(OUT)/demo-library/genres/jazz $(OUT)/demo-library/genres/rock \
		--db $(OUT)/demo-fingerprints --top-k 2
	$(BIN)/python -m musicedge segment $(OUT)/demo-library/genres -f jsonl -o $(OUT)/demo-sections.jsonl \
		--plot $(OUT)/demo-sections
	$(BIN)/python -m musicedge bench --suite frontend --quick --json $(OUT)/bench.json -o $(OUT)/bench.md

# The C++ library's own unit tests and example (ctest), then the Python suite.
test: $(STAMP) cpptest
	$(BIN)/python -m pytest -q

CPPBUILD := build/cpp
cpptest: $(STAMP)
	$(BIN)/cmake -S . -B $(CPPBUILD) -DMUSICEDGE_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
	$(BIN)/cmake --build $(CPPBUILD) -j 2
	$(BIN)/ctest --test-dir $(CPPBUILD) --output-on-failure

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m musicedge bench --suite frontend --json benchmarks/results/frontend.json \
		-o benchmarks/results/frontend.md

clean:
	rm -rf $(VENV) build *.egg-info $(OUT) musicedge/_native*.so
