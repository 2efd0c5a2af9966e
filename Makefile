# One task runner. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup index run test browser eval eval-rgb lint clean baselines ablation fit-ranker bench compare train

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check pip==26.3
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## index seeds/ (incremental: unchanged files cost a hash, so this is cheap when the index is fresh;
## an index built with other settings is rebuilt)
index: setup
	@$(BIN)/chatbot ingest seeds || { echo "rebuilding the index"; $(BIN)/chatbot ingest --rebuild seeds; }

## open the chat UI on the seed corpus at http://127.0.0.1:7860
run: index
	$(BIN)/chatbot serve --host 127.0.0.1 --port 7860

## Debian's Chromium for the browser tests (installed when we can; the tests skip with the reason otherwise)
browser:
	@bash tests/install_browser.sh

## lint (ruff) and type-check (mypy on chatbot/); part of make test
lint: setup
	$(BIN)/ruff check chatbot tests evals benchmarks
	$(BIN)/mypy chatbot

## the whole suite: lint, unit, integration, CLI, server mode, browser and the eval gates
test: setup browser lint
	$(BIN)/python -m pytest

eval: setup
	$(BIN)/chatbot eval --pack evals/seeds --out eval-out/seeds --baseline evals/baselines/seeds.json

eval-rgb: setup
	$(BIN)/chatbot eval --pack ../shared/evals/rgb-dev --out eval-out/rgb-dev --baseline evals/baselines/rgb-dev.json

clean:
	rm -rf $(VENV) eval-out build test-artifacts

## refresh the committed baselines from fresh eval runs (commit them with the change that moved them)
baselines: setup
	$(BIN)/chatbot eval --pack evals/seeds --out eval-out/seeds
	$(BIN)/python evals/baseline.py eval-out/seeds/metrics.json evals/baselines/seeds.json
	$(BIN)/chatbot eval --pack ../shared/evals/rgb-dev --out eval-out/rgb-dev
	$(BIN)/python evals/baseline.py eval-out/rgb-dev/metrics.json evals/baselines/rgb-dev.json

## on the check split of every pack: retrieval modes side by side (plain dense, plain BM25, ours), then
## every named step of the answerer switched off in turn; both tables go to evals/README.md
## (indexes and retrievals are kept in .train-cache/, shared with make train)
ablation: setup
	$(BIN)/python evals/fit_ranker.py
	$(BIN)/python evals/ablate_steps.py --write

## speed and scale figures against a plain LangChain + Chroma pipeline (benchmarks/README.md);
## 100k chunks: make bench BENCH_SIZES="1000 10000 100000" (about half an hour of embedding)
## then the 10-minute soak of issue 27: serve, two CLI ingest loops and 10 API sessions on one data dir
BENCH_SIZES ?= 1000 10000
SOAK_SECONDS ?= 600
bench: setup
	nice -n 10 $(BIN)/python benchmarks/bench.py --sizes $(BENCH_SIZES)
	nice -n 10 $(BIN)/python benchmarks/soak.py --seconds $(SOAK_SECONDS)

## what changed between two eval runs: make compare OLD=eval-out/before NEW=eval-out/after
compare: setup
	$(BIN)/chatbot eval --compare $(OLD) $(NEW)

## fit the second-stage ranker on the fit split of every pack (writes chatbot/retrieval/ranker.json)
## and rewrite the retrieval table
fit-ranker: setup
	$(BIN)/python evals/fit_ranker.py --fit

## fit the trained reader on the fit split of every pack (writes chatbot/answering/reader.txt and
## reader.json; indexes and rows are kept in .train-cache/, reused while a corpus is unchanged)
train: setup
	$(BIN)/python evals/train_answerer.py
