# Shared helpers for CLI tests. Usage in a test: source "$(dirname "$0")/lib.sh" "$@"
set -u
LARQL=$1
SHARED=${2:-}
FIX=$SHARED/fixtures
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
passes=0
ok()   { passes=$((passes+1)); }
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
need_fixtures() {
  if [ ! -d "$FIX" ]; then echo "SKIPPED: fixtures not found at $FIX (../shared absent)"; exit 77; fi
}
finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
}
# expect_fail CMD...: must exit non-zero, print an error on stderr, and not crash (exit < 128)
expect_fail() {
  local out rc
  out=$("$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -eq 0 ]; then fail "expected failure: $*"; return; fi
  if [ $rc -ge 128 ]; then fail "crashed (rc=$rc): $*"; return; fi
  if [ -z "$out" ]; then fail "no error message: $*"; return; fi
  ok
}
