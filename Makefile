# `sam build` for the profile service: SAM's makefile builder (template.yaml, Metadata: BuildMethod:
# makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set; each target builds the static
# bootstrap with scripts/build.sh (the same executable scripts/package.sh zips) and copies it there.
# See README.md, "### sam build".

SHELL := /bin/bash
REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
SAM_TEMPLATE := $(REPO)/.build/sam/template.yaml

.PHONY: build-ProfileFunction build-PreTrafficHookFunction sam-template sam-build

# Both functions run the same bootstrap (Handler profile or pretraffic); sam builds it once for both.
build-ProfileFunction build-PreTrafficHookFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "make $@: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 64; }
	"$(REPO)/scripts/build.sh" >/dev/null
	mkdir -p "$(ARTIFACTS_DIR)"
	cp "$(REPO)/.build/lambda/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"

# template.yaml as sam builds it: CodeUri is this directory (where this Makefile is) instead of the zip
# that `aws cloudformation package` uploads in the scripted release (README.md, "Releasing").
sam-template: $(SAM_TEMPLATE)
$(SAM_TEMPLATE): $(REPO)/template.yaml
	mkdir -p "$(dir $@)"
	sed 's|^      CodeUri: .build/lambda/function.zip$$|      CodeUri: ../..|' "$<" >"$@.tmp"
	test "$$(grep -c '^      CodeUri: \.\./\.\.$$' "$@.tmp")" -eq 2
	mv "$@.tmp" "$@"

# sam build in place (no copy of the repository into a scratch directory), then `sam deploy`.
sam-build: $(SAM_TEMPLATE)
	cd "$(REPO)" && sam build --template-file "$(SAM_TEMPLATE)" --build-in-source $(SAM_BUILD_ARGS)
