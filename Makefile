# Targets for developers and CI. `make test` runs ./test.sh, the README's
# test command, which .ci/run runs too.
GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 20s
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test race lint bench fuzz tidy run failover

# The README's test command: installs redis-server and chromium when they
# are missing, then runs every test with the race detector.
test:
	./test.sh -count=1 $(PKGS)

race: test

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)
	$(GO) mod tidy -diff

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

run:
	$(GO) run ./example run

# The Redis Cluster and Sentinel failover tests (part of `make test` too),
# five times each; their figures are in docs/scaling.md.
failover:
	$(GO) test -race -count=5 -timeout 30m -v -run 'TestTasksSurviveClusterFailovers|TestTasksSurviveSentinelFailovers' ./example/
