# Branch: the two commands a fresh Debian 12 machine needs are `make run` and `make test`.
SWIFT := scripts/swift.sh
# `make run` builds an optimized binary (its `build` step too); `make build` alone builds
# debug, and `make test` builds its own debug build. CONFIGURATION=debug make run overrides.
run: CONFIGURATION ?= release
CONFIGURATION ?= debug

.PHONY: run test build deps bench fuzz stop clean

run: build ## Install what is needed, build optimized (release), start `branch serve`, print the URL, key and first steps
	CONFIGURATION=$(CONFIGURATION) scripts/run.sh

test: ## Install what is needed and run the whole test suite (as root)
	scripts/test.sh

build: deps
	$(SWIFT) build -c $(CONFIGURATION)

deps:
	scripts/install-deps.sh

bench: deps ## Build optimized (release) and run the benchmarks; writes docs/benchmarks.md
	$(SWIFT) build -c release
	CONFIGURATION=release scripts/bench.sh

fuzz: deps ## Fuzz the query-string, select, header and JWT parsers with libFuzzer, FUZZ_SECONDS (default 60) per target (docs/fuzzing.md)
	scripts/fuzz.sh

stop: ## Stop the service started by `make run`
	scripts/stop.sh

clean:
	rm -rf .build
