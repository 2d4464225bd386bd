#!/usr/bin/env bash
# Install nats-server of one pinned version into a cache outside the repo, built from the Go
# module github.com/nats-io/nats-server/v2: the JetStream engine of cluster-wide revocation
# (docs/cluster.md). Reuses a binary of the right version found in the cache or on PATH.
# Prints the bin directory on stdout.
set -euo pipefail

version="${NATS_VERSION:-2.15.3}"
bin_dir="${NATS_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spiffebind/nats/v${version}/bin}"

has_version() {  # $1 = path of a nats-server binary; `nats-server --version` prints "nats-server: v2.15.3"
  [ -x "$1" ] && "$1" --version 2>&1 | grep -Eqx "nats-server: v${version//./\\.}"
}

if has_version "$bin_dir/nats-server"; then
  echo "$bin_dir"; exit 0
fi
on_path=$(command -v nats-server || true)
if [ -n "$on_path" ] && has_version "$on_path"; then
  dirname "$on_path"; exit 0
fi

command -v go >/dev/null || { echo "install-nats: 'go' is not on PATH (nats-server v${version} needs Go)" >&2; exit 2; }

echo "install-nats: building nats-server v${version} from the Go module proxy" >&2
start=$(date +%s)
mkdir -p "$bin_dir"
# nats-server's go.mod has no replace directives, so `go install pkg@version` builds it as is.
GOBIN="$bin_dir" CGO_ENABLED=0 go install "github.com/nats-io/nats-server/v2@v${version}" >&2
echo "install-nats: built in $(( $(date +%s) - start ))s into $bin_dir" >&2
has_version "$bin_dir/nats-server" || { echo "install-nats: built nats-server does not report v${version}" >&2; exit 2; }
echo "$bin_dir"
