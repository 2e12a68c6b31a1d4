#!/usr/bin/env bash
# Load: 200 requests at concurrency 16 (curl under xargs -P, a bounded client)
# against 4 slots and a queue of 8, so some requests must be refused. Every
# request is answered 200 or refused 503 with Retry-After; the server stays up;
# its RSS stays bounded.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/serve_lib.sh"
need_fixtures
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
N=${LOAD_REQUESTS:-200}
P=${LOAD_CONCURRENCY:-16}
start_server load "$FIX/models/facts/facts-F32.gguf" --parallel 4 --queue 8 --threads 2 --timeout 120 --no-log
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
curl -s -o /dev/null -H "Content-Type: application/json" -d '{"prompt":"warm up","max_tokens":4}' "$URL/v1/completions"
rss0=$(rss)
export URL TMP
one() {  # one REQUEST-INDEX: alternates plain/streaming completions and chat; writes status and Retry-After
  local i=$1 body path=/v1/completions
  case $((i % 3)) in
    0) body='{"prompt":"The capital of France is","max_tokens":8,"seed":'$i'}' ;;
    1) body='{"prompt":"A frog","max_tokens":8,"stream":true,"seed":'$i'}' ;;
    2) body='{"messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"seed":'$i'}'; path=/v1/chat/completions ;;
  esac
  curl -s --max-time 120 -D "$TMP/h.$i" -o "$TMP/b.$i" -w '%{http_code}\n' -H "Content-Type: application/json" -d "$body" "$URL$path" >"$TMP/s.$i"
}
export -f one
t0=$(date +%s%N)
seq 1 "$N" | xargs -P "$P" -I{} bash -c 'one {}'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rss1=$(rss)
n200=0; n503=0; bad=0
for i in $(seq 1 "$N"); do
  s=$(cat "$TMP/s.$i" 2>/dev/null)
  case $s in
    200) n200=$((n200+1)); grep -q '"error"' "$TMP/b.$i" && { bad=$((bad+1)); echo "error body: $(head -c 200 "$TMP/b.$i")"; } ;;
    503) n503=$((n503+1)); grep -qi '^Retry-After: 1' "$TMP/h.$i" || { bad=$((bad+1)); echo "503 without Retry-After"; } ;;
    *) bad=$((bad+1)); echo "request $i: status '$s' $(head -c 200 "$TMP/b.$i" 2>/dev/null)" ;;
  esac
done
echo "load: $N requests, concurrency $P, ${ms} ms: $n200 answered, $n503 refused (503), $bad bad; RSS ${rss0} kB -> ${rss1} kB"
[ "$bad" -eq 0 ] && [ $((n200 + n503)) -eq "$N" ] && ok || fail "some requests neither answered nor cleanly refused"
[ "$n200" -gt 0 ] && ok || fail "nothing answered"
kill -0 "$PID" 2>/dev/null && ok || fail "server died"
[ "$rss1" -lt $((rss0 + 262144)) ] && ok || fail "RSS grew from ${rss0} kB to ${rss1} kB"
curl -s "$URL/metrics" >"$TMP/m.txt"
grep -q '^larql_active_slots 0' "$TMP/m.txt" && grep -q '^larql_queue_depth 0' "$TMP/m.txt" && ok || fail "slots/queue not drained: $(grep -E 'active|queue' "$TMP/m.txt")"
stop_server "$PID"
finish
