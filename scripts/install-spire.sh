#!/usr/bin/env bash
# Install spire-server and spire-agent of one pinned version into a cache outside the repo,
# built from the Go module github.com/spiffe/spire. Reuses binaries of the right version found
# in the cache or on PATH. Prints the bin directory on stdout.
set -euo pipefail

version="${SPIRE_VERSION:-1.13.3}"
bin_dir="${SPIRE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spiffebind/spire/v${version}/bin}"

has_version() {  # $1 = path of a spire binary; a go-install build reports "1.13.3-dev-unk"
  [ -x "$1" ] && "$1" --version 2>&1 | grep -Eqx "${version//./\\.}(-dev-unk)?"
}

if has_version "$bin_dir/spire-server" && has_version "$bin_dir/spire-agent"; then
  echo "$bin_dir"; exit 0
fi
server_on_path=$(command -v spire-server || true)
agent_on_path=$(command -v spire-agent || true)
if [ -n "$server_on_path" ] && [ -n "$agent_on_path" ] \
   && has_version "$server_on_path" && has_version "$agent_on_path"; then
  dirname "$server_on_path"; exit 0
fi

command -v go >/dev/null || { echo "install-spire: 'go' is not on PATH (SPIRE v${version} needs Go >= 1.25.3)" >&2; exit 2; }
command -v "${CC:-cc}" >/dev/null || { echo "install-spire: no C compiler: spire-server's sqlite datastore needs cgo" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install-spire: building SPIRE v${version} from the Go module proxy (a cold build takes several minutes)" >&2
start=$(date +%s)
(
  cd "$work"
  go mod init spiffebind.local/spire-tools >/dev/null 2>&1
  # A throwaway module pins the program versions; `go install pkg@version` refuses SPIRE's
  # replace directives, `go get -tool` honours the module graph instead.
  go get -tool "github.com/spiffe/spire/cmd/spire-server@v${version}" \
               "github.com/spiffe/spire/cmd/spire-agent@v${version}" >&2
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" CGO_ENABLED=1 go install github.com/spiffe/spire/cmd/spire-server \
    github.com/spiffe/spire/cmd/spire-agent >&2
)
echo "install-spire: built in $(( $(date +%s) - start ))s into $bin_dir" >&2
has_version "$bin_dir/spire-server" || { echo "install-spire: built spire-server does not report v${version}" >&2; exit 2; }
echo "$bin_dir"
