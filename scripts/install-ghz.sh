#!/usr/bin/env bash
# Install the ghz gRPC load generator of one pinned version into a cache outside the repo,
# built from the Go module github.com/bojand/ghz. Reuses a binary of the right version found
# in the cache or on PATH. Prints the path of the binary on stdout. Used by `make bench` only.
set -euo pipefail

version="${GHZ_VERSION:-0.120.0}"
bin_dir="${GHZ_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spiffebind/ghz/v${version}/bin}"

has_version() {  # $1 = path of a ghz binary
  [ -x "$1" ] && "$1" --version 2>&1 | grep -Eqx "v?${version}"
}

# shellcheck source=scripts/go-tool.sh
. "$(dirname "$0")/go-tool.sh"
if find_binary ghz "$bin_dir"; then
  exit 0
fi
require_go install-ghz
echo "install-ghz: building ghz v${version} from the Go module proxy" >&2
start=$(date +%s)
mkdir -p "$bin_dir"
# `go install` leaves ghz's version string at "dev"; stamp it the way its release builds do.
GOBIN="$bin_dir" CGO_ENABLED=0 go install -ldflags "-X main.version=v${version}" \
  "github.com/bojand/ghz/cmd/ghz@v${version}" >&2
echo "install-ghz: built in $(( $(date +%s) - start ))s into $bin_dir" >&2
has_version "$bin_dir/ghz" || { echo "install-ghz: built ghz does not report v${version}" >&2; exit 2; }
echo "$bin_dir/ghz"
