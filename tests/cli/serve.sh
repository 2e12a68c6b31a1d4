#!/usr/bin/env bash
# larql serve over loopback with curl: completions (plain and SSE), chat,
# errors (bad JSON, fields, key, size, route), slow reader, client
# disconnect, SIGTERM. Expected text: llama.cpp's greedy reference for the
# facts model (" Paris." = ids 1843 1988, fixtures/reference/facts-F32).
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/serve_lib.sh"
need_fixtures
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
FACTS=$FIX/models/facts/facts-F32.gguf
TINY=$FIX/models/synthetic/tiny-llama-gqa-F32.gguf
C="curl -s --max-time 60"
J=(-H "Content-Type: application/json")

start_server main "$FACTS" --parallel 2 --max-body 4096 --threads 2 --model-dir "$FIX/models/facts"
MAIN_PID=$PID

# health, models
[ "$($C -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && ok || fail "health"
$C "$URL/v1/models" >"$TMP/models.json"
[ "$(json_get "$TMP/models.json" 'j["data"][0]["id"]')" = "facts-F32.gguf" ] && ok || fail "models: $(cat "$TMP/models.json")"

# non-streaming completion
$C "${J[@]}" -d '{"prompt":"The capital of France is","max_tokens":2,"temperature":0}' "$URL/v1/completions" >"$TMP/c.json"
[ "$(json_get "$TMP/c.json" 'repr(j["choices"][0]["text"])')" = "' Paris.'" ] && ok || fail "completion text: $(cat "$TMP/c.json")"
[ "$(json_get "$TMP/c.json" 'j["usage"]["prompt_tokens"], j["usage"]["completion_tokens"], j["choices"][0]["finish_reason"]')" = "6 2 length" ] \
  && ok || fail "completion usage: $(cat "$TMP/c.json")"

# streaming completion: SSE frames, ends with [DONE], deltas concatenate to the same text
$C -N "${J[@]}" -d '{"prompt":"The capital of France is","max_tokens":2,"temperature":0,"stream":true}' "$URL/v1/completions" >"$TMP/s.txt"
[ "$(sse_text "$TMP/s.txt")" = " Paris." ] && ok || fail "streamed text: $(head -c 400 "$TMP/s.txt")"

# chat, non-streaming and streaming
$C "${J[@]}" -d '{"model":"x","messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"seed":1}' "$URL/v1/chat/completions" >"$TMP/chat.json"
[ "$(json_get "$TMP/chat.json" 'j["object"], j["choices"][0]["message"]["role"], j["usage"]["completion_tokens"] <= 4')" = "chat.completion assistant True" ] \
  && ok || fail "chat: $(cat "$TMP/chat.json")"
$C -N "${J[@]}" -d '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}' "$URL/v1/chat/completions" >"$TMP/chat.sse"
sse_text "$TMP/chat.sse" >/dev/null && grep -q '"usage"' "$TMP/chat.sse" && ok || fail "chat stream: $(head -c 400 "$TMP/chat.sse")"

# errors: status and the OpenAI error object
expect_error() {  # expect_error STATUS CURL-ARGS...
  local want=$1; shift
  local code
  code=$($C -o "$TMP/err.json" -w '%{http_code}' "$@")
  if [ "$code" != "$want" ]; then fail "want $want got $code for $*: $(head -c 300 "$TMP/err.json")"; return; fi
  json_get "$TMP/err.json" 'j["error"]["message"]' >/dev/null 2>&1 && ok || fail "no error object for $*: $(head -c 300 "$TMP/err.json")"
}
expect_error 400 "${J[@]}" -d '{"prompt": "x",' "$URL/v1/completions"
expect_error 400 "${J[@]}" -d '[1,2,3]' "$URL/v1/completions"
expect_error 400 "${J[@]}" -d '{"prompt":"x","n":3}' "$URL/v1/completions"
expect_error 400 "${J[@]}" -d '{"prompt":"x","temperature":"hot"}' "$URL/v1/completions"
expect_error 400 "${J[@]}" -d '{"messages":[]}' "$URL/v1/chat/completions"
expect_error 400 "${J[@]}" --data-binary @<(printf '{"prompt":"\xff\xfe"}') "$URL/v1/completions"
head -c 10000 /dev/zero | tr '\0' 'a' | sed 's/^/{"prompt":"/; s/$/"}/' >"$TMP/big.json"
expect_error 413 "${J[@]}" --data-binary @"$TMP/big.json" "$URL/v1/completions"
expect_error 404 "$URL/v1/nope"
# /v1/lql: writes refused without --allow-writes; paths must stay inside --model-dir
expect_error 403 "${J[@]}" -d '{"query":"EXTRACT \"facts-F32.gguf\" INTO \"x.vindex\";"}' "$URL/v1/lql"
expect_error 403 "${J[@]}" -d '{"query":"USE \"../synthetic/tiny-llama-gqa-F32.gguf\";"}' "$URL/v1/lql"
expect_error 403 "${J[@]}" -d '{"query":"USE \"/etc/passwd\";"}' "$URL/v1/lql"
expect_error 400 "${J[@]}" -d '{"query":7}' "$URL/v1/lql"
code=$($C -o "$TMP/lql.json" -w '%{http_code}' "${J[@]}" -d '{"query":"USE MODEL \"facts-F32.gguf\"; STATS;"}' "$URL/v1/lql")
[ "$code" = 200 ] && json_get "$TMP/lql.json" 'len(j["results"])' >/dev/null && ok || fail "lql inside --model-dir: $code $(head -c 300 "$TMP/lql.json")"
grep -q '"status":413' "$TMP/main.err" && grep -q '"path":"/v1/completions"' "$TMP/main.err" && ok || fail "no JSON request log lines on stderr"

# slow reader: a stream read at 300 bytes/s still completes, and the server keeps answering others meanwhile
$C -N --limit-rate 300 "${J[@]}" -d '{"prompt":"Once upon a time","max_tokens":20,"temperature":0,"stream":true}' "$URL/v1/completions" >"$TMP/slow.txt" &
SLOW=$!
sleep 0.5
t0=$(date +%s%N)
[ "$($C -o /dev/null -w '%{http_code}' "${J[@]}" -d '{"prompt":"The capital of France is","max_tokens":2,"temperature":0}' "$URL/v1/completions")" = 200 ] && ok || fail "request beside a slow reader"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] && ok || fail "request beside a slow reader took >5 s"
wait $SLOW
sse_text "$TMP/slow.txt" >/dev/null && ok || fail "slow reader stream: $(head -c 300 "$TMP/slow.txt")"
stop_server "$MAIN_PID"
grep -q "shutting down" "$TMP/main.err" && ok || fail "no shutdown message"

# client disconnect mid-stream: generation stops (the tiny random model would otherwise run to its 512-token context)
start_server tiny "$TINY" --parallel 1 --threads 2 --api-key sk-abc
expect_error 401 "${J[@]}" -d '{"prompt":"x"}' "$URL/v1/completions"
expect_error 401 -H "Authorization: Bearer wrong" "${J[@]}" -d '{"prompt":"x"}' "$URL/v1/completions"
AUTH=(-H "Authorization: Bearer sk-abc")
curl -s -N --max-time 60 "${AUTH[@]}" "${J[@]}" -d '{"prompt":[1,373],"max_tokens":100000,"temperature":0,"stream":true}' "$URL/v1/completions" 2>/dev/null | head -c 1500 >/dev/null
gen=""
for _ in $(seq 1 50); do
  $C "${AUTH[@]}" "$URL/metrics" >"$TMP/m.txt"
  grep -q '^larql_active_slots 0' "$TMP/m.txt" && { gen=$(sed -n 's/^larql_generated_tokens_total //p' "$TMP/m.txt"); break; }
  sleep 0.1
done
[ -n "$gen" ] && [ "$gen" -lt 300 ] && ok || fail "disconnect did not cancel (generated: '$gen')"
[ "$($C -o /dev/null -w '%{http_code}' "${AUTH[@]}" "${J[@]}" -d '{"prompt":"x","max_tokens":1}' "$URL/v1/completions")" = 200 ] && ok || fail "slot not freed after disconnect"
grep -q 'finish_reason":"cancelled' "$TMP/tiny.err" && ok || fail "no cancelled request in the log"
stop_server "$PID"
finish
