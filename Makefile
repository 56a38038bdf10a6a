# Trellis build. `make build` puts the host and every plugin in bin/.
GO        ?= go
BIN       := bin
PLUGINS   := $(notdir $(wildcard plugins/*/cmd/trellis-*))
# Pinned code generators: `make proto` refuses other versions.
PROTOC_VERSION          := 3.21.12
PROTOC_GEN_GO           := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.10
PROTOC_GEN_GO_GRPC      := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
# Pinned linters: `make lint` installs these versions into .tools.
STATICCHECK             := honnef.co/go/tools/cmd/staticcheck@v0.8.2
ERRCHECK                := github.com/kisielk/errcheck@v1.30.0
TOOLS     := $(CURDIR)/.tools
DEVNET    ?= .devnet

.PHONY: build test proto run bench lint clean

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/trellis ./cmd/trellis
	@for p in $(PLUGINS); do \
		d=$$(dirname $$(ls -d plugins/*/cmd/$$p)); \
		echo "$(GO) build -o $(BIN)/$$p ./$$d/$$p"; \
		$(GO) build -o $(BIN)/$$p ./$$d/$$p || exit 1; \
	done

test: build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# run starts a local single-node network on built-in defaults.
run: build
	@test -f $(DEVNET)/node.hcl || $(BIN)/trellis init $(DEVNET)
	$(BIN)/trellis run -config $(DEVNET)/node.hcl

# lint: go vet, staticcheck (its default checks) and errcheck on non-test
# code; .lint/errcheck-exclude.txt lists the calls whose errors are
# deliberately dropped, with the reason. CI runs it before the tests.
lint:
	GOBIN=$(TOOLS) $(GO) install $(STATICCHECK)
	GOBIN=$(TOOLS) $(GO) install $(ERRCHECK)
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/errcheck -ignoretests -exclude .lint/errcheck-exclude.txt ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

proto:
	@protoc --version | grep -q "libprotoc $(PROTOC_VERSION)" || \
		{ echo "make proto needs protoc $(PROTOC_VERSION) (apt-get install protobuf-compiler)"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(TOOLS) $(GO) install $(PROTOC_GEN_GO_GRPC)
	cd sdk/proto && PATH=$(TOOLS):$$PATH protoc -I . \
		--go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		$$(find trellis -name '*.proto' | sort)

clean:
	rm -rf $(BIN) $(TOOLS)
