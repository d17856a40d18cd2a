# Sourced by the CLI tests (tests/cli/*.sh): failure reporting that never shows the test password.
# Needs $secret set to the password; counts failures in $failures.

failures=0

# Replaces the password with <SECRET>.
scrub() { sed "s/${secret}/<SECRET>/g"; }

# fail MESSAGE [OUTPUT]: reports a failed check, with the output scrubbed.
fail() {
  echo "FAIL: $1" >&2
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | scrub | head -40 | sed 's/^/    /' >&2; fi
  failures=$((failures + 1))
}

# finish NAME: exit status 1 when a check failed.
finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "$1: all checks passed"
}
