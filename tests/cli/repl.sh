#!/usr/bin/env bash
# larql repl: piped input (scripts) and a real terminal (readline prompts,
# multi-line statements, dot commands, history file), on the facts model.
source "$(dirname "$0")/lib.sh" "$@"
need_fixtures
M=$FIX/models/facts/facts-F32.gguf

# Piped: statements may span lines; an error is printed and the next statement runs.
out=$(printf 'USE MODEL "%s";\nINFER "The capital of France is"\n  TOP 3;\nSTATS nope;\n.json\nINFER "The capital of France is" TOP 1;\n.quit\nSTATS;\n' "$M" |
      timeout 120 "$LARQL" repl 2>&1); rc=$?
[ $rc -eq 0 ] && ok || fail "piped repl exited $rc"
grep -q "Paris" <<<"$out" && ok || fail "multi-line INFER did not answer Paris: $out"
grep -q "^error: " <<<"$out" && ok || fail "bad statement not reported as error"
grep -q "JSON output on" <<<"$out" && ok || fail ".json toggle not acknowledged"
grep -q '^{.*"token"' <<<"$out" && ok || fail "no JSON result after .json: $out"
[ "$(grep -c 'family' <<<"$out")" -eq 0 ] && ok || fail ".quit did not stop before the trailing STATS"

# A terminal: prompts, continuation prompt, .help, history written to $HOME.
$PY - "$LARQL" "$M" "$TMP" <<'PYEOF' && ok || fail "pty session"
import os, pty, select, sys, time
larql, model, home = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.execv(larql, [larql, "repl", "--use", model])
buf = b""
def expect(needle, timeout=120):
    global buf
    end = time.time() + timeout
    while needle.encode() not in buf:
        left = end - time.time()
        if left <= 0:
            sys.exit("timed out waiting for %r; got:\n%s" % (needle, buf.decode(errors="replace")))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                sys.exit("repl exited waiting for %r; got:\n%s" % (needle, buf.decode(errors="replace")))
            buf += chunk
    i = buf.index(needle.encode()) + len(needle)
    buf = buf[i:]
def send(s):
    os.write(fd, s.encode())
expect("larql> ")
send(".help\r");                         expect("Dot commands"); expect("larql> ")
send('INFER "The capital of France is"\r'); expect("...> ")
send("TOP 2;\r");                        expect("Paris"); expect("larql> ")
send(".quit\r")
_, status = os.waitpid(pid, 0)
if os.WEXITSTATUS(status) != 0:
    sys.exit("exit status %d" % os.WEXITSTATUS(status))
hist = open(os.path.join(home, ".larql_history")).read()
if "TOP 2;" not in hist:
    sys.exit("history file lacks the statement: %r" % hist)
PYEOF
finish
