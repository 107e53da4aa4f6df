# esnas — `make help` lists the targets. Every target runs inside .venv (built by `make install`).
.DEFAULT_GOAL := help
SHELL := bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Tests never touch the network or a W&B account (see tests/conftest.py for the rest).
TEST_ENV := WANDB_MODE=disabled WANDB_SILENT=true HF_HUB_OFFLINE=1 HYDRA_FULL_ERROR=1
PYTEST := $(TEST_ENV) $(BIN)/python -m pytest

.PHONY: help
help: ## Show this help
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-30s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

.PHONY: install
install: $(BIN)/python ## Build .venv from nothing: esnas editable + dev + launchers (CPU torch pins)
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[dev,launchers]'
	@$(MAKE) --no-print-directory fashion-mnist-full
	$(BIN)/python -m compileall -q $(VENV) src > /dev/null || true
	@$(BIN)/python -c "import esnas, torch, timm, hydra, lightning, wandb; \
		print(f'esnas {esnas.__version__} ready: torch {torch.__version__}, timm {timm.__version__}')"

.PHONY: fashion-mnist-full
fashion-mnist-full: ## Debian's full Fashion-MNIST (60k/10k) for data.source=full, where apt works; else says how
	@if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then \
		echo "Fashion-MNIST full: present"; \
	elif command -v apt-get > /dev/null && [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) > /dev/null 2>&1; then \
		echo "Fashion-MNIST full: installed (dataset-fashion-mnist)"; \
	else echo "Fashion-MNIST full: not installed; as root run 'apt-get install dataset-fashion-mnist'" \
		"(Debian/Ubuntu) for data.source=full; every other config uses the shipped 12k subset"; fi

.PHONY: install-gpu
install-gpu: $(BIN)/python ## Same as install without the CPU pins (a GPU machine picks its own torch)
	$(BIN)/pip install -q -e '.[dev,launchers]'

.PHONY: test
test: ## Fast test suite (no `slow`, no `gpu`); < 10 minutes on 2 cores
	$(PYTEST) -q

.PHONY: test-full
test-full: ## All tests except `gpu` (includes `slow`)
	$(PYTEST) -q -m "not gpu"

.PHONY: test-gpu
test-gpu: ## GPU tests only (needs CUDA)
	$(PYTEST) -q -m gpu

.PHONY: lint
lint: ## ruff lint + format check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

.PHONY: format
format: ## ruff autofix + format
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

.PHONY: bench
bench: ## Benchmarks: ms per NB201 cell of every metric (median of 20 cells), CLI start-up, threads (FREEREA=<checkout>: FreeREA's own functions beside; BENCH_METRICS="a b": only those)
	$(TEST_ENV) $(BIN)/esnas-study study=bench_metrics study.build=nb201 study.models=20 \
		study.reps=1 'study.input_shape=[3,32,32]' study.batch_size=64 study.num_inits=3 \
		$(if $(FREEREA),study.freerea=$(FREEREA)) \
		$(if $(BENCH_METRICS),'study.metrics=[$(subst $(space),$(comma),$(strip $(BENCH_METRICS)))]') \
		torch_threads=null logger=none $(BENCH_ARGS)
	$(TEST_ENV) $(BIN)/esnas-study study=bench_space_cost logger=none
	$(TEST_ENV) $(BIN)/esnas-study study=bench_startup logger=none
	env -u OMP_NUM_THREADS $(TEST_ENV) $(BIN)/esnas-study study=bench_threads torch_threads=null logger=none

.PHONY: score
score: ## Score 100 random NB201 cells with Entropic Score + LogSynflow (ARGS=... to override)
	$(BIN)/esnas-score $(ARGS)

.PHONY: search
search: ## The main job: cyclic search of ESFormer at the esformer_xs budget, CPU-sized
	$(BIN)/esnas-search experiment=esformer_xs_search $(ARGS)

comma := ,
space := $(empty) $(empty)
NB201_FAST_PROBE := 'study.probe={batch_size:16,num_inits:1}'

.PHONY: reproduce-nb201-correlation
reproduce-nb201-correlation: ## NB201 correlation table, 3000/1000 cells x 3 datasets, fast probe (hours on CPU; resumable)
	$(BIN)/esnas-study study=nb201_correlation study.cells=3000 study.ablation_cells=1000 \
		study.peer_cells=1000 $(NB201_FAST_PROBE) logger=none $(ARGS)

NB201_DATASETS := cifar10 cifar100 ImageNet16-120
NB201_TRUTH := src/esnas/data/nb201/nb201_tss_accuracy.csv --key arch_str \
	--figure cifar10=c10_test cifar100=c100_test ImageNet16-120=in16_test
PEERS = experiments/results/nb201_peers
# The combinations the peers table and the fitness choice compare (`a+b@agg`; az_nas: AZ-NAS's own):
# Entropic Score + LogSynflow, alone and with the signals a noise forward already gives
# (AZ-NAS's expressivity, progressivity; FLOPs = az_complexity) and one complementary signal
# (MeCo, or AZ-NAS's trainability, which needs a backward of its own).
ES_LS := entropic+logsynflow
FITNESS_CANDIDATES = $(ES_LS) $(ES_LS)@log_rank $(ES_LS)+az_complexity@log_rank $(ES_LS)+meco@log_rank \
	$(ES_LS)+az_complexity+meco@log_rank $(ES_LS)+az_progressivity@log_rank \
	$(ES_LS)+az_progressivity+meco $(ES_LS)+az_progressivity+meco@log_rank \
	$(ES_LS)+az_progressivity+az_complexity+meco@log_rank $(ES_LS)+az_expressivity@log_rank \
	$(ES_LS)+az_expressivity+az_progressivity@log_rank $(ES_LS)+az_expressivity+az_progressivity+meco@log_rank \
	$(ES_LS)+az_trainability+meco@log_rank \
	$(ES_LS)+az_expressivity+az_progressivity+az_trainability+az_complexity@log_rank
PEER_COMBOS := az_nas $(FITNESS_CANDIDATES)

.PHONY: nb201-peers
nb201-peers: ## AZ-NAS / MeCo beside ES and LogSynflow on NB201: 3,000 CIFAR-10 cells, a quarter of them (750) on CIFAR-100, a twelfth (250) on IN16 (CPU-hours; resumable)
	$(BIN)/esnas-score experiment=nb201_peers space.dataset=cifar10 logger=none $(ARGS)
	$(BIN)/esnas-score experiment=nb201_peers space.dataset=cifar100 sample.shard=0/4 logger=none $(ARGS)
	$(BIN)/esnas-score experiment=nb201_peers space.dataset=ImageNet16-120 sample.shard=0/12 \
		logger=none $(ARGS)
	$(BIN)/esnas-score -m experiment=nb201_peers space.dataset=cifar10 sample.shard=0/10 seed=1,2 \
		'output=$${paths.root_dir}/$(PEERS)_cifar10_probe_seed$${seed}.csv' logger=none $(ARGS)
	$(MAKE) nb201-peers-table

.PHONY: nb201-peers-table
nb201-peers-table: ## nb201_peers.{md,csv,png}, nb201_fitness_choice.{md,csv,png} from the committed score CSVs
	$(BIN)/esnas-report $(foreach d,$(NB201_DATASETS),$(if $(wildcard $(PEERS)_$(d).csv),--correlate $(d)=$(PEERS)_$(d).csv)) \
		--truth $(NB201_TRUTH) --combine $(PEER_COMBOS) \
		--title "NB201: AZ-NAS, MeCo, SWAP beside Entropic Score and LogSynflow" \
		--protocol @experiments/protocols/nb201_peers.md --out $(PEERS)
	$(if $(wildcard $(PEERS)_cifar10_probe_seed2.csv),$(BIN)/esnas-report \
		--correlate "cifar10=$(PEERS)_cifar10.csv@0/10$(comma)$(PEERS)_cifar10_probe_seed1.csv$(comma)$(PEERS)_cifar10_probe_seed2.csv" \
		--truth $(NB201_TRUTH) --combine $(PEER_COMBOS) \
		--title "NB201 peers: the spread over probe seeds 0-2 (300 CIFAR-10 cells)" \
		--protocol @experiments/protocols/nb201_peers_probe_seeds.md --out $(PEERS)_probe_seeds)
	$(BIN)/esnas-report --correlate "cifar10 choice=$(PEERS)_cifar10.csv@0/2" \
		--correlate "cifar10 held-out=$(PEERS)_cifar10.csv@1/2" \
		--truth $(NB201_TRUTH) "cifar10 choice=c10_test" "cifar10 held-out=c10_test" \
		--combine $(PEER_COMBOS) --title "NB201 fitness: chosen on one half, reported on the other" \
		--protocol @experiments/protocols/nb201_fitness_choice.md \
		--out experiments/results/nb201_fitness_choice

NB201_FIT_FIGURES := best_test_acc/cifar10 first_pick_test_acc/cifar10 best_test_acc/cifar100 \
	best_test_acc/ImageNet16-120 best_entropic best_logsynflow evaluations wall_time_s rescore_seconds_uncached
.PHONY: nb201-fitness-search
nb201-fitness-search: ## Cyclic search on NB201 with the default fitness, probe seed = search seed, 10 seeds x 1,000 evaluations
	$(BIN)/esnas-search -m experiment=nb201_cyclic strategy=cyclic probe=fast 'seed=range(0,10)' \
		logger=csv hydra.sweep.dir=logs/nb201_fitness_search/default $(ARGS)
	$(BIN)/esnas-report logs/nb201_fitness_search/default \
		--figures $(NB201_FIT_FIGURES) --out experiments/results/nb201_fitness_search \
		--title "NB201 cyclic search with the default fitness (probe seed = search seed)" \
		--protocol @experiments/protocols/nb201_fitness_search.md

.PHONY: nb201-rescore
nb201-rescore: ## The fitness search's answers re-picked after their top 10 are re-scored with 3 / 10 inits (batch 16) or 3 (batch 64); needs nb201-fitness-search's runs
	$(BIN)/esnas-search -m experiment=nb201_rescore 'seed=range(0,10)' \
		strategy.rescore.probe.num_inits=3,10 logger=csv $(ARGS)
	$(BIN)/esnas-search -m experiment=nb201_rescore 'seed=range(0,10)' \
		+strategy.rescore.probe.batch_size=64 logger=csv $(ARGS)
	$(BIN)/esnas-report logs/nb201_rescore --replicate seed \
		--figures best_test_acc/cifar10 first_pick_test_acc/cifar10 best_test_acc/cifar100 \
		best_test_acc/ImageNet16-120 rescore_seconds_uncached --out experiments/results/nb201_rescore \
		--title "NB201: the default fitness search's pick after re-scoring its 10 finalists" \
		--protocol @experiments/protocols/nb201_rescore.md

.PHONY: reproduce-nb201-probe-study
reproduce-nb201-probe-study: ## What the fast probe costs in rank correlation (200 CIFAR-10 cells)
	$(BIN)/esnas-study study=nb201_probe_study logger=none $(ARGS)

.PHONY: reproduce-decoupling
reproduce-decoupling: ## Decoupling table: rho with NB201 accuracy vs rho with NATS-SSS #params
	$(BIN)/esnas-study study=decoupling logger=none $(ARGS)

.PHONY: reproduce-esformer-family
reproduce-esformer-family: ## ESFormer family table: a search per budget (xxs/xs/s) beside timm references
	$(BIN)/esnas-study study=esformer_family logger=none $(ARGS)

.PHONY: nb201-all-cells
nb201-all-cells: ## Score all 15,625 NB201 cells (fast probe) into the score cache: what NB201 searches read
	$(BIN)/esnas-score space=nb201 sample.n=all probe=fast seed=0 logger=none \
		hydra.run.dir=logs/nb201_all_cells

.PHONY: reproduce-nb201-search
reproduce-nb201-search: nb201-all-cells ## NB201 search table (the ES + LS fitness it was made with): 6 strategy rows x 10 seeds x budgets 300/1000
	$(BIN)/esnas-study study=nb201_search study.seeds=10 'study.budgets=[300,1000]' \
		'study.strategies=["cyclic:strategy=cyclic_es_ls","cyclic_maxnorm:strategy=cyclic_es_ls,strategy.combine=max_norm","combined:strategy=combined_es_ls",freerea,"rea:strategy=rea_es_ls","random:strategy=random_es_ls"]' \
		study.probe=fast 'study.overrides=["metrics=[entropic,logsynflow]"]' logger=none $(ARGS)

# A sweep target: the multirun into logs/<name> (2 jobs at a time), then esnas-report on it.
# $(1) experiment; $(2) figures; $(3) title; $(4) protocol line (no commas in $(3) and $(4)).
define sweep
	$(BIN)/esnas-search -m experiment=$(1) launcher=joblib logger=csv \
		hydra.sweep.dir=logs/$(1) $(ARGS)
	$(BIN)/esnas-report logs/$(1) --figures $(2) --out experiments/results/$(1) \
		--title '$(3)' --protocol '$(4)'
endef
NB201_GRID_FIGURES := best_test_acc/cifar10 best_test_acc/cifar100 best_test_acc/ImageNet16-120 \
	best_fitness wall_time_s
ESFORMER_FIGURES := best_entropic best_logsynflow best_params best_macs best_attention_blocks \
	best_blocks wall_time_s

.PHONY: reproduce-nb201-phase-grid
reproduce-nb201-phase-grid: nb201-all-cells ## NB201 phase grids (starts x steps x 5 seeds) at 1,000 and 150 evaluations
	$(call sweep,nb201_phase_grid,$(NB201_GRID_FIGURES),NB201 phase-duration grid: cyclic search; \
		multi-start phase (starts x steps) x 5 seeds; 1000 evaluations; fast probe,Sweep: \
		`make reproduce-nb201-phase-grid` = `esnas-search -m experiment=nb201_phase_grid \
		launcher=joblib logger=csv`; scores from the NB201 score cache (fast probe).)
	$(call sweep,nb201_phase_grid_small,$(NB201_GRID_FIGURES),NB201 phase-duration grid at 150 \
		evaluations: multi-start phase (starts x steps) x 5 seeds; fast probe,Sweep: \
		`make reproduce-nb201-phase-grid` = `esnas-search -m experiment=nb201_phase_grid_small \
		launcher=joblib logger=csv`; scores from the NB201 score cache (fast probe).)

.PHONY: reproduce-esformer-phase-grid
reproduce-esformer-phase-grid: ## ESFormer phase grid (topology x size phase lengths x 5 seeds), xs budget
	$(call sweep,esformer_phase_grid,$(ESFORMER_FIGURES),ESFormer phase-duration grid (esformer_xs \
		budget): topology-phase x size-phase length x 5 seeds; 150 evaluations,Sweep: \
		`make reproduce-esformer-phase-grid` = `esnas-search -m experiment=esformer_phase_grid \
		launcher=joblib logger=csv` on a 2-core CPU; probe noise 8 x 1 init at 96 px; \
		no accuracy exists: raw scores of the answer; params and MACs at 224 px.)

.PHONY: reproduce-esformer-decoupled
reproduce-esformer-decoupled: ## ESFormer: decoupled (cyclic) vs combined scoring, 5 seeds
	$(call sweep,esformer_decoupled,$(ESFORMER_FIGURES),ESFormer (xs budget): decoupled (cyclic) \
		vs combined scoring; 5 seeds; 150 evaluations,Sweep: `make reproduce-esformer-decoupled` \
		= `esnas-search -m experiment=esformer_decoupled launcher=joblib logger=csv` on a 2-core \
		CPU; probe noise 8 x 1 init at 96 px; higher raw Entropic Score and LogSynflow at \
		similar cost = a better answer under both metrics.)

.PHONY: reproduce-es-sensitivity
reproduce-es-sensitivity: ## Entropic Score rho on NB201 vs inits / batch / input, 3 probe seeds
	$(BIN)/esnas-study study=es_sensitivity logger=none $(ARGS)

.PHONY: clean
clean: ## Remove caches and run outputs (keeps .venv and committed results)
	rm -rf .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info logs outputs multirun wandb
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

.PHONY: clean-all
clean-all: clean ## clean, and remove .venv
	rm -rf $(VENV)

.PHONY: train
train: ## Proof it learns: ESFormer-XXS on the shipped Fashion-MNIST 12k subset, CPU, minutes
	$(BIN)/esnas-train experiment=fmnist_esformer_xxs $(ARGS)

.PHONY: esformer-bench-genomes
esformer-bench-genomes: ## The ESFormer stand-in's genome list: 120 sampled under the xxs budget (224 px)
	$(BIN)/esnas-score space=esformer space.max_macs=2.6e8 space.max_params=1.3e6 sample.n=120 \
		sample.seed=0 'metrics=[params]' logger=none cache.path=null \
		output=experiments/results/esformer_bench_genomes.csv

.PHONY: esformer-bench
esformer-bench: ## Train the ESFormer stand-in ground truth (CPU-hours; resumable: reruns skip done jobs)
	$(BIN)/esnas-train -m experiment=esformer_bench_fmnist 'bench.index=range(0,100)' seed=0 \
		launcher=joblib trainer.enable_progress_bar=false $(ARGS)
	$(BIN)/esnas-train -m experiment=esformer_bench_fmnist 'bench.index=range(0,25)' seed=1 \
		launcher=joblib trainer.enable_progress_bar=false $(ARGS)

.PHONY: bench-train
bench-train: ## Train/inference img/s + peak memory: ESFormers vs mobilevit_xs, edgenext_x_small
	$(TEST_ENV) $(BIN)/esnas-study study=bench_train logger=none $(ARGS)

COMPARE = experiments/results/fmnist_compare
COMPARE_MODELS = esformer_s,mobilevit_xs,esformer_xs,esformer_xs_hand,\
edgenext_x_small,esformer_xxs,esformer_xxs_hand,mobilevit_xxs,edgenext_xx_small

.PHONY: compare-fmnist
compare-fmnist: ## Same-recipe FMNIST-12k comparison: LR sweep (seed 0), seeds 1-2 at the best LR
	HF_HUB_OFFLINE=1 $(BIN)/esnas-train -m experiment=fmnist_compare launcher=joblib \
		model.name=$(COMPARE_MODELS) module.optimizer.lr=1e-3,2e-3,4e-3 seed=0 \
		trainer.enable_progress_bar=false $(ARGS)
	$(BIN)/esnas-report logs/fmnist_compare --rows $(COMPARE).csv --update --figures $(TRAIN_FIGURES) lr
	HF_HUB_OFFLINE=1 $(BIN)/esnas-train -m experiment=fmnist_compare launcher=joblib \
		model.name=$(COMPARE_MODELS) compare.lr=best seed=1,2 trainer.enable_progress_bar=false \
		$(ARGS)
	$(BIN)/esnas-report logs/fmnist_compare --rows $(COMPARE).csv --update --figures $(TRAIN_FIGURES) lr
	$(MAKE) compare-fmnist-table

.PHONY: compare-fmnist-table
compare-fmnist-table: ## fmnist_compare.{md,png} from the committed rows
	$(BIN)/esnas-report --compare $(COMPARE).csv --title \
		"Fashion-MNIST 12k: ESFormers (searched and hand-picked) vs timm mobile models" \
		--protocol @experiments/protocols/fmnist_compare.md --out $(COMPARE)

BENCH_ROWS = experiments/results/esformer_bench_fmnist.csv
TRAIN_FIGURES = model params macs macs_224 epochs fit_time_s val/acc1_best test/acc1

.PHONY: esformer-bench-table
esformer-bench-table: ## Collect the stand-in trainings into esformer_bench_fmnist.csv (keeps committed rows)
	$(BIN)/esnas-report logs/esformer_bench_fmnist --rows $(BENCH_ROWS) --update \
		--figures $(TRAIN_FIGURES) --agreement bench.index:test/acc1

.PHONY: esformer-bench-longer
esformer-bench-longer: ## The stand-in against longer training: genomes 0-39 at 12 epochs, 0-29 on the 60k set (CPU-hours; resumable)
	$(BIN)/esnas-train -m experiment=esformer_bench_fmnist_e12 'bench.index=range(0,40)' seed=0 \
		launcher=joblib trainer.enable_progress_bar=false $(ARGS)
	$(BIN)/esnas-train -m experiment=esformer_bench_fmnist_full 'bench.index=range(0,30)' seed=0 \
		launcher=joblib trainer.enable_progress_bar=false $(ARGS)
	$(MAKE) esformer-bench-longer-table

.PHONY: esformer-bench-longer-table
esformer-bench-longer-table: ## Collect the longer trainings' rows and write esformer_bench_longer.{md,csv,png}
	for v in e12 full; do [ ! -d logs/esformer_bench_fmnist_$$v ] || $(BIN)/esnas-report \
		logs/esformer_bench_fmnist_$$v --rows experiments/results/esformer_bench_fmnist_$$v.csv \
		--update --figures $(TRAIN_FIGURES) || exit 1; done
	$(BIN)/esnas-study study=esformer_bench_longer logger=none

# The NB201 metrics the committed nb201_peers scores lack, on every tenth of the same 3,000 cells.
SUITE_NB201_METRICS = [{entropic/binary:{estimator:binary}},{entropic/gaussian:{estimator:gaussian}},\
synflow,naswot,zen,grad_norm,snip,zico,params,flops,swap]

.PHONY: proxy-suite-scores
proxy-suite-scores: ## The proxy suite's score CSVs: NAS-Bench-Macro, ViT-Bench-101 AutoFormer/PiT, NB201 extras (CPU-hours; resumable)
	$(BIN)/esnas-score experiment=proxy_suite space=nb201 sample.n=3000 sample.shard=0/10 \
		probe.num_inits=1 'metrics=$(SUITE_NB201_METRICS)' logger=none \
		output=experiments/results/proxy_suite/nb201_cifar10.csv $(ARGS)
	$(BIN)/esnas-score experiment=proxy_suite space=nb_macro sample.n=200 probe.num_inits=1 \
		logger=none $(ARGS)
	$(BIN)/esnas-score -m experiment=proxy_suite space=vitbench_autoformer,vitbench_pit \
		probe.batch_size=16 probe.num_inits=1 launcher=joblib logger=none $(ARGS)

.PHONY: proxy-suite
proxy-suite: ## experiments/results/proxy_suite.{md,csv,png} from the committed score CSVs
	$(BIN)/esnas-study study=proxy_suite logger=none

.PHONY: esformer-bench-scores
esformer-bench-scores: ## Every metric on the stand-in's 100 genomes: 64 px/10 classes (3 probe seeds), 224 px/1000
	for s in 0 1 2; do $(BIN)/esnas-score experiment=esformer_bench_scores space.resolution=64 \
		space.num_classes=10 seed=$$s logger=none \
		output=experiments/results/esformer_bench_scores_64$$( [ $$s = 0 ] || echo _s$$s ).csv $(ARGS) \
		|| exit 1; done
	$(BIN)/esnas-score experiment=esformer_bench_scores \
		logger=none output=experiments/results/esformer_bench_scores_224.csv $(ARGS)

SCORES = experiments/results/esformer_bench_scores
.PHONY: esformer-bench-correlation
esformer-bench-correlation: ## esformer_bench_correlation.{md,csv,png} from the committed scores and rows
	$(BIN)/esnas-report --truth $(BENCH_ROWS) --trait attention_blocks \
		--correlate "64 px, 10 classes=$(SCORES)_64.csv,$(SCORES)_64_s1.csv,$(SCORES)_64_s2.csv" \
		--correlate "224 px, 1000 classes=$(SCORES)_224.csv" \
		--combine entropic+logsynflow entropic/block+logsynflow entropic/gaussian+cost_macs \
		entropic/gaussian+trait/blocks az_nas $(subst entropic+,entropic/gaussian+,$(FITNESS_CANDIDATES)) \
		entropic+logsynflow+az_expressivity@log_rank entropic+logsynflow+az_progressivity+meco@log_rank \
		--title "ESFormer stand-in: training-free scores against trained accuracy" \
		--protocol @experiments/protocols/esformer_bench_correlation.md \
		--out experiments/results/esformer_bench_correlation

VALIDATION = experiments/results/esformer_search_validation
.PHONY: esformer-search-validation
esformer-search-validation: ## 4 strategies x 3 seeds searched, answers trained x 2 seeds, baselines, table
	$(BIN)/esnas-search -m experiment=esformer_search_validation $(ARGS)
	$(BIN)/esnas-report logs/esformer_search_validation --rows $(VALIDATION)_answers.csv --update \
		--figures best_arch best_params best_macs best_entropic best_logsynflow \
		best_attention_blocks best_blocks
	$(BIN)/esnas-train -m experiment=esformer_validation_train launcher=joblib \
		validation.strategy=cyclic,combined,freerea,random validation.search_seed=0,1,2 \
		seed=0,1 trainer.enable_progress_bar=false
	$(BIN)/esnas-report logs/esformer_validation_train --rows $(VALIDATION)_train.csv --update \
		--figures $(TRAIN_FIGURES)
	$(BIN)/esnas-train -m experiment=esformer_baselines_fmnist launcher=joblib \
		model.name=esformer_xxs_hand,mobilevit_xxs,edgenext_xx_small seed=0,1 \
		trainer.enable_progress_bar=false
	$(BIN)/esnas-report logs/esformer_baselines_fmnist \
		--rows experiments/results/esformer_baselines_fmnist.csv --update --figures $(TRAIN_FIGURES)
	$(MAKE) esformer-validation-table

.PHONY: esformer-validation-table
esformer-validation-table: ## esformer_search_validation.md from the committed rows
	$(BIN)/esnas-report --validate $(VALIDATION)_answers.csv --trained $(VALIDATION)_train.csv \
		--truth $(BENCH_ROWS) --group esformer_strategy \
		$$( [ -f experiments/results/esformer_baselines_fmnist.csv ] && \
		echo --baselines experiments/results/esformer_baselines_fmnist.csv ) \
		--title "ESFormer search validated by training (xxs budget, stand-in recipe)" \
		--protocol @experiments/protocols/esformer_search_validation.md --out $(VALIDATION)
