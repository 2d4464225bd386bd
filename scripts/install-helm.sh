#!/usr/bin/env bash
# Install the helm CLI of one pinned version into a cache outside the repo, built from the Go
# module helm.sh/helm/v4 (the chart tests run the real binary). Reuses a binary of the right
# version found in the cache or on PATH. Prints the bin directory on stdout.
set -euo pipefail

version="${HELM_VERSION:-4.3.2}"
bin_dir="${HELM_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spiffebind/helm/v${version}/bin}"

has_version() {  # $1 = path of a helm binary
  [ -x "$1" ] && "$1" version --short 2>/dev/null | grep -Eq "^v${version//./\\.}(\+|$)"
}

# shellcheck source=scripts/go-tool.sh
. "$(dirname "$0")/go-tool.sh"
if found=$(find_binary helm "$bin_dir"); then
  dirname "$found"; exit 0
fi
require_go install-helm "helm v${version} needs Go >= 1.26"
echo "install-helm: building helm v${version} from the Go module proxy (a cold build takes several minutes)" >&2
start=$(date +%s)
mkdir -p "$bin_dir"
# helm.sh/helm/v4 has no replace directives, so `go install pkg@version` builds it as released.
# Stamp the version the way helm's Makefile does (otherwise it reports "v4.3"); the default
# Kubernetes version for `helm template` comes from the client-go in the build info.
GOBIN="$bin_dir" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-X helm.sh/helm/v4/internal/version.version=v${version} -X helm.sh/helm/v4/internal/version.metadata=" \
  "helm.sh/helm/v4/cmd/helm@v${version}" >&2
echo "install-helm: built in $(( $(date +%s) - start ))s into $bin_dir" >&2
has_version "$bin_dir/helm" || { echo "install-helm: built helm does not report v${version}" >&2; exit 2; }
echo "$bin_dir"
