#!/usr/bin/env bash
# The official `openai` npm client, unchanged, against larql serve: a
# non-streaming and a streaming chat completion. Installs the package into a
# temporary folder; skips (77) when node/npm or the registry is unavailable.
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/serve_lib.sh"
need_fixtures
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIPPED: node/npm not installed"; exit 77; }
mkdir -p "$TMP/npm"
if ! (cd "$TMP/npm" && timeout 180 npm install --silent --no-audit --no-fund openai >"$TMP/npm.log" 2>&1); then
  echo "SKIPPED: 'npm install openai' failed (registry unreachable?):"; tail -5 "$TMP/npm.log"; exit 77
fi
start_server facts "$FIX/models/facts/facts-F32.gguf" --parallel 2 --threads 2 --api-key sk-larql-test
cat >"$TMP/npm/client.mjs" <<'JSEOF'
import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "sk-larql-test", timeout: 60000, maxRetries: 0 });
const msgs = [{ role: "user", content: "The capital of France is" }];
const r = await client.chat.completions.create({ model: "facts", messages: msgs, max_tokens: 8, temperature: 0 });
if (r.object !== "chat.completion" || typeof r.choices[0].message.content !== "string" || !r.usage) throw new Error("bad reply " + JSON.stringify(r));
const stream = await client.chat.completions.create({ model: "facts", messages: msgs, max_tokens: 8, temperature: 0, stream: true });
let text = "", finish = null, n = 0;
for await (const chunk of stream) { n++; text += chunk.choices[0]?.delta?.content ?? ""; finish = chunk.choices[0]?.finish_reason ?? finish; }
if (text !== r.choices[0].message.content) throw new Error(`stream text ${JSON.stringify(text)} != ${JSON.stringify(r.choices[0].message.content)}`);
if (!finish || n < 2) throw new Error("stream had no finish_reason");
let status = 0;
try { await new OpenAI({ baseURL: process.env.BASE_URL, apiKey: "wrong", maxRetries: 0 }).models.list(); } catch (e) { status = e.status; }
if (status !== 401) throw new Error("bad key gave " + status);
console.log("openai client ok:", JSON.stringify(text), finish, n, "chunks");
JSEOF
if (cd "$TMP/npm" && BASE_URL="$URL/v1" timeout 120 node client.mjs); then ok; else fail "openai client"; fi
stop_server "$PID"
finish
