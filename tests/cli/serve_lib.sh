# Helpers for the serve*.sh tests (sourced after lib.sh; not a test itself).
# start_server NAME ARGS...: starts `larql serve ARGS --port 0` in the background,
# waits (bounded) for its "listening on" line and sets PORT, PID and URL.
SERVER_PIDS=()
cleanup_servers() {
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup_servers EXIT
start_server() {
  local name=$1; shift
  "$LARQL" serve "$@" --port 0 2>"$TMP/$name.err" &
  PID=$!
  SERVER_PIDS+=("$PID")
  PORT=""
  for _ in $(seq 1 300); do
    PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/$name.err" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$PORT" ]; then echo "FAIL: server $name did not start:"; cat "$TMP/$name.err"; exit 1; fi
  URL=http://127.0.0.1:$PORT
}
# stop_server PID: SIGTERM, must exit 0 within 10 s.
stop_server() {
  local pid=$1 rc
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then fail "server $pid ignored SIGTERM"; kill -9 "$pid"; fi
  wait "$pid"; rc=$?
  [ "$rc" -eq 0 ] && ok || fail "server exit status $rc after SIGTERM"
}
# json_get FILE EXPR: evaluates a Python expression over the parsed JSON `j`.
json_get() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
# sse_text FILE: concatenated choices[0] text/delta content of an SSE body; checks the framing.
sse_text() {
  "$PY" - "$1" <<'PYEOF'
import json, sys
body = open(sys.argv[1], encoding="utf-8", errors="replace").read()
frames = body.split("\n\n")
assert frames[-1] == "", "body does not end with a blank line"
frames = [f for f in frames[:-1] if not f.startswith(":")]
assert frames[-1] == "data: [DONE]", "last frame is not [DONE]: %r" % frames[-1][:80]
out = []
for f in frames[:-1]:
    assert f.startswith("data: "), "bad frame %r" % f[:80]
    j = json.loads(f[6:])
    if "error" in j: out.append("<error:%s>" % j["error"]["code"]); continue
    for c in j["choices"]:
        out.append(c.get("text") or (c.get("delta") or {}).get("content") or "")
sys.stdout.write("".join(out))
PYEOF
}
