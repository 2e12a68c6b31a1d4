#!/usr/bin/env bash
# Golden tests for LQL (sqllogictest style): runs every tests/golden/*.lql with
# `larql lql --keep-going -t 1` and diffs its output against NAME.expected.
# Placeholders in scripts: @FACTS@ (fixtures/models/facts), @VINDEX@ (a
# vindex of facts-F32 extracted here with facts.probes, which extract stores
# in it as probes.txt so that DESCRIBE uses the relation templates), @TMP@.
# Usage: run.sh LARQL SHARED_DIR [NAME...]; UPDATE=1 rewrites the .expected files.
set -u
LARQL=$1
SHARED=${2:-}
shift 2 || shift $#
HERE=$(cd "$(dirname "$0")" && pwd)
FACTS=$SHARED/fixtures/models/facts
if [ ! -f "$FACTS/facts-F32.gguf" ]; then echo "SKIPPED: fixtures not found at $SHARED/fixtures"; exit 77; fi
TMP=$(mktemp -d)
works=()
trap 'rm -rf "$TMP" "${works[@]}"' EXIT
VINDEX=$TMP/facts.vindex
if ! "$LARQL" extract "$FACTS/facts-F32.gguf" -o "$VINDEX" --probes "$HERE/facts.probes" -t 1 >"$TMP/extract.log" 2>&1; then
  echo "FAIL: extraction of the facts vindex"; cat "$TMP/extract.log"; exit 1
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then for f in "$HERE"/*.lql; do names+=("$(basename "$f" .lql)"); done; fi
pass=0; fail=0
for n in "${names[@]}"; do
  script=$TMP/$n.lql
  # Each script gets its own @TMP@ so patch files of one never leak into another
  # (a mktemp name, the same length as $TMP: table widths in .expected depend on it).
  work=$(mktemp -d); works+=("$work")
  sed -e "s|@FACTS@|$FACTS|g" -e "s|@VINDEX@|$VINDEX|g" -e "s|@TMP@|$work|g" "$HERE/$n.lql" >"$script"
  # Paths differ per machine: print them as placeholders again.
  (cd "$work" && "$LARQL" lql --keep-going -t 1 -f "$script" 2>&1; echo "-- exit $?") |
    sed -e "s|$VINDEX|@VINDEX@|g" -e "s|$FACTS|@FACTS@|g" -e "s|$work|@TMP@|g" -e "s|$TMP|@TMP@|g" >"$TMP/$n.out"
  if [ "${UPDATE:-0}" = 1 ]; then cp "$TMP/$n.out" "$HERE/$n.expected"; echo "updated $n.expected"; continue; fi
  if diff -u "$HERE/$n.expected" "$TMP/$n.out" >"$TMP/$n.diff" 2>&1; then
    pass=$((pass+1))
  else
    echo "FAIL: $n (diff expected -> actual)"; head -n 80 "$TMP/$n.diff"; fail=$((fail+1))
  fi
done
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
