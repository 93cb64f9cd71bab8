# `sam build` for the profile service: SAM's makefile builder (template.yaml, Metadata: BuildMethod:
# makefile) runs `make build-<LogicalId>` with ARTIFACTS_DIR set; each target builds the static
# bootstrap with scripts/build.sh (the same executable scripts/package.sh zips) and copies it there.
# `make release-template` is for the scripted release instead (README.md, "Releasing", step 4).

SHELL := /bin/bash
REPO := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
RELEASE_ZIP := $(REPO)/.build/lambda/function.zip
RELEASE_TEMPLATE := $(REPO)/.build/lambda/template.yaml

.PHONY: build-ProfileFunction build-PreTrafficHookFunction release-template

# Both functions run the same bootstrap (Handler profile or pretraffic); sam builds it once for both.
build-ProfileFunction build-PreTrafficHookFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "make $@: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 64; }
	"$(REPO)/scripts/build.sh" >/dev/null
	mkdir -p "$(ARTIFACTS_DIR)"
	cp "$(REPO)/.build/lambda/bootstrap" "$(ARTIFACTS_DIR)/bootstrap"

# template.yaml for `aws cloudformation package`: both functions' CodeUri is package.sh's zip (written
# beside it, so the relative path is the file's name) instead of the repository that sam build builds.
release-template:
	@test -f "$(RELEASE_ZIP)" || { echo "make $@: no $(RELEASE_ZIP): run scripts/package.sh first" >&2; exit 1; }
	@sed 's|^      CodeUri: \.$$|      CodeUri: function.zip|' "$(REPO)/template.yaml" >"$(RELEASE_TEMPLATE).tmp"
	@test "$$(grep -c '^      CodeUri: function\.zip$$' "$(RELEASE_TEMPLATE).tmp")" -eq 2 \
	  || { rm -f "$(RELEASE_TEMPLATE).tmp"; echo "make $@: template.yaml no longer has two 'CodeUri: .' lines" >&2; exit 1; }
	@mv "$(RELEASE_TEMPLATE).tmp" "$(RELEASE_TEMPLATE)"
	@echo "$(RELEASE_TEMPLATE)"
