#!/usr/bin/env bash
# Editing through the server's POST /v1/lql (docs/editing.md, "Editing over
# HTTP"): INSERT then INFER in one request answers with the edit and needs no
# --allow-writes (an insert only changes that request's in-memory patch); the
# next request starts from the unedited model (a fresh LQL context per
# request); SAVE PATCH / COMPILE are refused without --allow-writes and, with
# it, write inside --model-dir a patch and a GGUF that answer with the edit.
# Expected answers: the facts model says ' D' for Spain's capital (unedited,
# tests/cli/edit.sh) and ' Paris' for France's.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/serve_lib.sh"
need_fixtures
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
F=$FIX/models/facts
C="curl -s --max-time 120"
J=(-H "Content-Type: application/json")
mkdir -p "$TMP/m"
# --probes stores the probe file in the vindex as probes.txt: INSERT's relation templates.
"$LARQL" extract "$F/facts-F32.gguf" -o "$TMP/m/facts.vindex" -q -t 2 --probes "$(dirname "$0")/../golden/facts.probes" && ok || fail "extract"

# lql QUERY OUT: POST /v1/lql, prints the HTTP status.
lql() { $C -o "$2" -w '%{http_code}' "${J[@]}" --data-binary @<(printf '%s' "$1" | "$PY" -c 'import json,sys; print(json.dumps({"query": sys.stdin.read()}))') "$URL/v1/lql"; }
# top1 FILE I: the top-1 token of result I (an INFER), or the error.
top1() { json_get "$1" "j['results'][$2].get('error') or j['results'][$2]['rows'][0][1]"; }

start_server ro "$F/facts-F32.gguf" --threads 2 --model-dir "$TMP/m"
SPAIN='INFER "The capital of Spain is" TOP 1;'
INS='INSERT INTO EDGES (entity, relation, target) VALUES ("Spain", "capital", "Madrid");'
code=$(lql "USE \"facts.vindex\"; $SPAIN $INS $SPAIN INFER \"The capital of France is\" TOP 1;" "$TMP/a.json")
[ "$code" = 200 ] && ok || fail "insert request: $code $(head -c 400 "$TMP/a.json")"
[ "$(json_get "$TMP/a.json" 'len(j["results"])')" = 5 ] && ok || fail "insert request stopped early: $(head -c 600 "$TMP/a.json")"
[ "$(top1 "$TMP/a.json" 1)" = D ] && ok || fail "unedited Spain: $(top1 "$TMP/a.json" 1)"
[ "$(json_get "$TMP/a.json" 'j["results"][2]["kind"]')" = INSERT ] && ok || fail "no INSERT result"
[ "$(top1 "$TMP/a.json" 3)" = M ] && ok || fail "edited Spain answers '$(top1 "$TMP/a.json" 3)', want M"
[ "$(top1 "$TMP/a.json" 4)" = Paris ] && ok || fail "France after the edit: $(top1 "$TMP/a.json" 4)"
json_get "$TMP/a.json" '" ".join(j["results"][3]["notes"])' | grep -q "FEATURE edit Spain / capital -> Madrid fired" \
  && ok || fail "INFER note naming the edit: $(json_get "$TMP/a.json" 'j["results"][3]["notes"]')"
# The next request is a fresh context: the edit is gone.
code=$(lql "USE \"facts.vindex\"; $SPAIN" "$TMP/b.json")
[ "$code" = 200 ] && [ "$(top1 "$TMP/b.json" 1)" = D ] && ok || fail "edit leaked into the next request: $code $(head -c 300 "$TMP/b.json")"
# Writes are refused (403) without --allow-writes, and nothing is written.
code=$(lql "USE \"facts.vindex\"; BEGIN PATCH \"p.vlp\"; $INS SAVE PATCH;" "$TMP/c.json")
[ "$code" = 403 ] && ok || fail "SAVE PATCH without --allow-writes: $code $(head -c 300 "$TMP/c.json")"
code=$(lql "USE \"facts.vindex\"; $INS COMPILE CURRENT INTO MODEL \"e.gguf\";" "$TMP/c.json")
[ "$code" = 403 ] && ok || fail "COMPILE without --allow-writes: $code $(head -c 300 "$TMP/c.json")"
[ ! -e "$TMP/m/p.vlp" ] && [ ! -e "$TMP/m/e.gguf" ] && ok || fail "a refused request wrote a file"
# Outside --model-dir is refused even with an edit in the query.
code=$(lql "USE \"facts.vindex\"; $INS APPLY PATCH \"/etc/passwd\";" "$TMP/c.json")
[ "$code" = 403 ] && ok || fail "path outside --model-dir: $code"
stop_server "$PID"

# --allow-writes: the patch and the compiled GGUF land inside --model-dir and answer with the edit.
start_server rw "$F/facts-F32.gguf" --threads 2 --model-dir "$TMP/m" --allow-writes
code=$(lql "USE \"facts.vindex\"; BEGIN PATCH \"p.vlp\"; $INS SAVE PATCH; COMPILE CURRENT INTO MODEL \"e.gguf\";" "$TMP/d.json")
[ "$code" = 200 ] && ! grep -q '"error"' "$TMP/d.json" && ok || fail "write request: $code $(head -c 600 "$TMP/d.json")"
grep -q '"format": "larql-patch"' "$TMP/m/p.vlp" && ok || fail "patch not written inside --model-dir"
[ -f "$TMP/m/e.gguf" ] && ok || fail "compiled GGUF not written inside --model-dir"
code=$(lql "USE MODEL \"e.gguf\"; $SPAIN" "$TMP/e.json")
[ "$code" = 200 ] && [ "$(top1 "$TMP/e.json" 1)" = M ] && ok || fail "compiled GGUF over HTTP: $code $(head -c 300 "$TMP/e.json")"
code=$(lql "USE \"facts.vindex\"; APPLY PATCH \"p.vlp\"; $SPAIN" "$TMP/f.json")
[ "$code" = 200 ] && [ "$(top1 "$TMP/f.json" 2)" = M ] && ok || fail "APPLY PATCH over HTTP: $code $(head -c 300 "$TMP/f.json")"
stop_server "$PID"
finish
