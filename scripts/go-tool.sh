# Sourced by the install-*.sh scripts that build one Go program into the cache.
# The caller defines has_version PATH (is that binary of the pinned version?).

# Print the binary NAME of the pinned version found in BIN_DIR or on PATH; fail when none is.
find_binary() {  # $1 = NAME, $2 = BIN_DIR
  local on_path
  if has_version "$2/$1"; then echo "$2/$1"; return 0; fi
  on_path=$(command -v "$1" || true)
  if [ -n "$on_path" ] && has_version "$on_path"; then echo "$on_path"; return 0; fi
  return 1
}

require_go() {  # $1 = the calling script's name, $2 = what it needs Go for
  command -v go >/dev/null || { echo "$1: 'go' is not on PATH${2:+ ($2)}" >&2; exit 2; }
}
