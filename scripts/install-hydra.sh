#!/usr/bin/env bash
# Install Ory Hydra of one pinned version into a cache outside the repo, built from the Go
# module github.com/ory/hydra/v2 (the upstream OAuth2 server of the exchange tests). Reuses a
# binary of the right version found in the cache. Prints the bin directory on stdout.
set -euo pipefail

version="${HYDRA_VERSION:-2.3.0}"
bin_dir="${HYDRA_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spiffebind/hydra/v${version}/bin}"

if [ -x "$bin_dir/hydra" ]; then
  echo "$bin_dir"; exit 0
fi

command -v go >/dev/null || { echo "install-hydra: 'go' is not on PATH" >&2; exit 2; }
command -v "${CC:-cc}" >/dev/null || { echo "install-hydra: no C compiler: hydra's in-memory sqlite store needs cgo" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install-hydra: building Hydra v${version} from the Go module proxy (a cold build takes many minutes)" >&2
start=$(date +%s)
(
  cd "$work"
  go mod init spiffebind.local/hydra-tools >/dev/null 2>&1
  # Same approach as install-spire.sh: `go get -tool` honours the module graph where
  # `go install pkg@version` would refuse replace directives.
  go get -tool "github.com/ory/hydra/v2@v${version}" >&2
  # Only the main module's replace directives count, and Hydra builds against a fork of
  # gobuffalo/pop (without it: "p.conn.Store.SQLDB undefined"). Replay Hydra's own
  # single-line `replace A => B vX` directives here; local ones (./internal/...) name
  # nested modules the proxy also serves.
  hydra_mod="$(go env GOMODCACHE)/github.com/ory/hydra/v2@v${version}/go.mod"
  sed -nE 's#^replace[[:space:]]+([^[:space:]]+)[[:space:]]+=>[[:space:]]+([^.[:space:]][^[:space:]]*)[[:space:]]+(v[^[:space:]]+)$#\1=\2@\3#p' \
    "$hydra_mod" | while read -r replacement; do
      go mod edit -replace "$replacement"
    done
  go mod tidy >&2
  mkdir -p "$bin_dir"
  # The `sqlite` tag compiles in the sqlite dialect behind the in-memory DSN `memory`.
  GOBIN="$bin_dir" CGO_ENABLED=1 go install -tags sqlite,sqlite_omit_load_extension \
    github.com/ory/hydra/v2 >&2
)
echo "install-hydra: built in $(( $(date +%s) - start ))s into $bin_dir" >&2
echo "$bin_dir"
