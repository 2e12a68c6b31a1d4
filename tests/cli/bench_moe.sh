# `larql bench` decode bytes per token on a MoE model: non-expert tensors once,
# one embedding row (the whole table when the head is tied to it), only the k routed experts of each layer (not all of them),
# plus the KV cache read; checked against sizes computed from the GGUF header by
# the independent reader tests/reference/gguf_reader.py.
source "$(dirname "$0")/lib.sh" "$@"
M=$TMP/q3m.gguf
"$LARQL" synth --arch qwen3moe --preset tiny --type q4_k_m -o "$M" -q >/dev/null || { fail "synth"; finish; exit; }
N=6
"$LARQL" bench "$M" -p 0 -n $N -r 1 -t 1 --json > "$TMP/out.json" 2> "$TMP/err" || { cat "$TMP/err"; fail "bench"; finish; exit; }
if $PY - "$M" "$TMP/out.json" $N "$(dirname "$0")/../reference" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[4])
from gguf_reader import GGUFFile
g = GGUFFile(sys.argv[1])
j = json.loads(open(sys.argv[2]).read().splitlines()[0])
n = int(sys.argv[3])
arch = g.get("general.architecture")
L, X, K = g.get(arch + ".block_count"), g.get(arch + ".expert_count"), g.get(arch + ".expert_used_count")
assert K < X, (K, X)
other = experts = 0
for t in g.tensors.values():
    if "_exps." in t.name: experts += t.n_bytes
    elif t.name == "token_embd.weight" and "output.weight" in g.tensors: other += t.n_bytes / t.ne[1]
    else: other += t.n_bytes
want_w = other + experts / X * K          # experts: every layer runs exactly K of its X
heads_kv = g.get(arch + ".attention.head_count_kv")
kl = g.get(arch + ".attention.key_length", g.get(arch + ".embedding_length") // g.get(arch + ".attention.head_count"))
vl = g.get(arch + ".attention.value_length", kl)
want_kv = L * heads_kv * (kl + vl) * 4 * (n + 1) / 2
got_w, got_kv = j["weight_bytes_per_token"], j["kv_bytes_per_token"]
print(f"weights/token {got_w:.0f} (want {want_w:.0f}, all experts would be {other + experts:.0f}); kv {got_kv:.0f} (want {want_kv:.0f})")
assert abs(got_w - want_w) <= 1e-9 * want_w, "weight bytes"
assert abs(got_kv - want_kv) <= 1e-9 * want_kv, "kv bytes"
assert abs(j["bytes_per_token"] - (want_w + want_kv)) <= 1e-9 * want_w, "total"
assert abs(j["bandwidth_gb_s"] - j["bytes_per_token"] * j["tok_s"] / 1e9) <= 1e-6 * j["bandwidth_gb_s"], "GB/s"
PY
then ok; else fail "bytes per token"; fi

# --vs-llama-bench: a stand-in llama-bench (same arguments, JSON rows) gives the
# ratio column; it runs after LARQL has freed its model.
cat > "$TMP/llama-bench" <<'SH'
#!/bin/sh
echo '[{"n_prompt": 8, "n_gen": 0, "avg_ts": 50.0}, {"n_prompt": 0, "n_gen": 2, "avg_ts": 10.0}]'
SH
chmod +x "$TMP/llama-bench"
if "$LARQL" bench "$M" -p 8 -n 2 -r 1 -t 1 --json --vs-llama-bench "$TMP/llama-bench" > "$TMP/vs.json" 2> "$TMP/err" &&
   "$PY" - "$TMP/vs.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ref = {"pp8": 50.0, "tg2": 10.0}
assert [r["test"] for r in rows] == ["pp8", "tg2"], rows
for r in rows:
    assert r["llama_bench_tok_s"] == ref[r["test"]], r
    assert abs(r["ratio"] - r["tok_s"] / ref[r["test"]]) < 1e-9, r
PY
then ok; else cat "$TMP/err"; fail "--vs-llama-bench ratio"; fi
# --interleave with two peers: each runs -r 1 for one test right after every
# LARQL repetition, in the order given (the stand-ins log their name and
# arguments and answer 40, 60, ... per call, counted over both).
cat > "$TMP/llama-bench-rounds" <<SH
#!/bin/sh
echo "\$(basename \$0) \$*" >> "$TMP/rounds.log"
k=\$(wc -l < "$TMP/rounds.log")
while [ \$# -gt 0 ]; do case "\$1" in -p) p=\$2;; -n) n=\$2;; esac; shift; done
echo "[{\"n_prompt\": \$p, \"n_gen\": \$n, \"avg_ts\": \$((20 + 20 * k))}]"
SH
chmod +x "$TMP/llama-bench-rounds"
cp "$TMP/llama-bench-rounds" "$TMP/peer-b"
if "$LARQL" bench "$M" -p 8 -n 2 -r 3 -t 1 --json --interleave --vs-llama-bench "$TMP/llama-bench-rounds" \
     --vs-llama-bench "$TMP/peer-b" > "$TMP/il.json" 2> "$TMP/err" &&
   "$PY" - "$TMP/il.json" "$TMP/rounds.log" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
calls = [l.split() for l in open(sys.argv[2]) if l.strip()]
arg = lambda c, k: c[c.index(k) + 1]
assert len(calls) == 12, calls
assert [c[0] for c in calls] == ["llama-bench-rounds", "peer-b"] * 6, calls
assert all(arg(c, "-r") == "1" and arg(c, "-t") == "1" for c in calls), calls
assert [(arg(c, "-p"), arg(c, "-n")) for c in calls] == [("8", "0")] * 6 + [("0", "2")] * 6, calls
want = {"pp8": ([40, 80, 120], [60, 100, 140]), "tg2": ([160, 200, 240], [180, 220, 260])}
assert [r["test"] for r in rows] == ["pp8", "tg2"], rows
for r in rows:
    ours = r["tok_s_per_round"]
    assert r["interleaved"] and len(ours) == 3 and abs(sum(ours) / 3 - r["tok_s"]) < 1e-9 * r["tok_s"], r
    assert len(r["peers"]) == 2 and r["peers"][1]["llama_bench"].endswith("peer-b"), r
    for p, refs in zip(r["peers"], want[r["test"]]):
        assert p["llama_bench_tok_s_per_round"] == refs, r
        assert all(abs(q - a / b) < 1e-12 for q, a, b in zip(p["ratio_per_round"], ours, refs)), r
        assert abs(p["ratio"] - r["tok_s"] / (sum(refs) / 3)) < 1e-9, r
    assert r["ratio"] == r["peers"][0]["ratio"] and r["llama_bench_tok_s"] == r["peers"][0]["llama_bench_tok_s"], r
PY
then ok; else cat "$TMP/err"; fail "--interleave rounds"; fi
# A peer that prints no row for the test is an error, not a 0 tok/s round.
printf '#!/bin/sh\necho "[]"\n' > "$TMP/no-rows" && chmod +x "$TMP/no-rows"
"$LARQL" bench "$M" -p 8 -n 0 -r 1 -t 1 --interleave --vs-llama-bench "$TMP/no-rows" > /dev/null 2> "$TMP/err"
if [ $? -ne 0 ] && grep -q "printed no pp row" "$TMP/err"; then ok; else cat "$TMP/err"; fail "--interleave peer without a row"; fi
"$LARQL" bench "$M" -p 8 -n 0 -r 1 --interleave > /dev/null 2> "$TMP/err"
if [ $? -ne 0 ] && grep -q "needs --vs-llama-bench" "$TMP/err"; then ok; else fail "--interleave without --vs-llama-bench"; fi
finish
