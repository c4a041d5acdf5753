# criserver: make run | make test | make build | make lint | make bench
GO      ?= go
BIN     := bin
PKGS    := runc crun containernetworking-plugins iptables busybox-static criu buildah
ARGS    ?=

.PHONY: all build run deps lint test tools unit fuzz bench clean critest stress soak kubelet test-kubelet test-node

all: build

# The monitor and the infra process run for every container and pod: they
# are built static and lean, apart from the daemon.
build:
	$(GO) build -o $(BIN)/criserver ./cmd/criserver
	$(GO) build -o $(BIN)/criserverd ./cmd/criserverd
	CGO_ENABLED=0 $(GO) build -ldflags=-s -o $(BIN)/criserver-monitor ./cmd/criserver-monitor
	CGO_ENABLED=0 $(GO) build -ldflags=-s -o $(BIN)/criserver-pause ./cmd/criserver-pause

# deps installs the Debian packages criserver and its tests drive, when missing.
deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

run: deps build
	exec $(BIN)/criserver serve $(ARGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

unit:
	$(GO) test -count=1 ./...

test: deps lint tools unit fuzz critest test-kubelet

# fuzz runs each fuzz target for FUZZTIME past its committed corpus
# (testdata/fuzz): layer extraction, image references, manifests and
# configs, the TOML config, and the CRI-to-OCI translation.
FUZZTIME ?= 10s
FUZZ := imagestore:FuzzExtract imagestore:FuzzParseReference imagestore:FuzzParseManifest \
	internal/config:FuzzLoad cri:FuzzContainerTranslation
fuzz:
	@log=$$(mktemp); for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) ./$$pkg >$$log 2>&1 || { cat $$log; rm -f $$log; exit 1; }; \
	done; rm -f $$log

# bench runs every benchmark; BenchmarkBuild (criserver build) beside
# BenchmarkBuildah (Debian's buildah bud, the same Dockerfile) among them.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# stress runs 32 concurrent CRI clients on shared names and IDs against a
# daemon built with the race detector, for STRESS (default 2m), and checks
# codes, leaks, descriptors and goroutines (test/e2e/stress_test.go).
STRESS ?= 2m
stress: deps
	CRISERVER_STRESS=$(STRESS) CRISERVER_E2E_RACE=1 $(GO) test -count=1 -timeout 60m -run '^TestStress$$' -v ./test/e2e

# soak runs SOAK (default 1000) pod lifecycles, half of them with a shared
# PID namespace, and prints RSS, descriptors, goroutines and what the host
# holds every 100 (test/e2e/soak_test.go).
SOAK ?= 1000
soak: deps
	CRISERVER_SOAK=$(SOAK) $(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./test/e2e

# critest runs the CRI conformance suite (cri-tools v1.34.0) against a daemon
# of its own, with critest's images rebuilt from busybox on a loopback
# registry; test/critest/skip.txt says what it skips and why.
critest: deps
	GO=$(GO) ./test/critest/run.sh

# tools builds critest's binaries into bin/ before the unit tests, whose
# pod-metrics test also drives bin/crictl.
tools:
	CRITEST_BUILD_ONLY=1 GO=$(GO) ./test/critest/run.sh

# kubelet builds the kubelet the kubelet suite runs, at the release
# test/kubelet/build pins (about 4 minutes once; go's build cache after).
KUBELET_VERSION := v1.35.4
KUBELET_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(KUBELET_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=35
kubelet:
	cd test/kubelet/build && $(GO) build -ldflags "$(KUBELET_LDFLAGS)" -o $(abspath $(BIN))/kubelet k8s.io/kubernetes/cmd/kubelet

# test-kubelet runs a real kubelet, standalone with static pods, against a
# daemon of its own (test/kubelet); KUBELET_LOAD=3 runs it beside three busy
# loops.
KUBELET_LOAD ?= 0
test-kubelet: deps kubelet
	CRISERVER_KUBELET=$(abspath $(BIN))/kubelet CRISERVER_KUBELET_LOAD=$(KUBELET_LOAD) \
		$(GO) test -count=1 -timeout 20m -v -run '^TestKubelet$$' ./test/kubelet

# test-node boots a Debian 12 VM (own kernel, systemd, cgroup v2 with every
# controller; emulated by qemu, since this host's KVM runs only special
# guest kernels) and runs test/node inside it: the image is built once from
# Debian's packages into bin/node-vm, results land in bin/node-report.
# NODE_TEST_RUN narrows the Go suite (-test.run), NODE_CRITEST_FOCUS critest
# ("none" skips it).
test-node:
	GO=$(GO) ./test/node/run.sh

clean:
	rm -rf $(BIN)
