#!/usr/bin/env bash
# README command (a): install what is missing, build, and run the main job on a
# model. With MODEL=path it uses that GGUF/safetensors model; without, it
# synthesizes a small Llama-shaped model (models/synth-llama-tiny-q8_0.gguf).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
LARQL=build/bin/larql
if [ -z "${MODEL:-}" ]; then
  mkdir -p models
  MODEL=models/synth-llama-tiny-q8_0.gguf
  if [ ! -f "$MODEL" ]; then
    echo "== no MODEL given: synthesizing $MODEL"
    "$LARQL" synth --arch llama --preset tiny --type q8_0 --layers 4 -o "$MODEL"
  fi
fi
echo "== larql info $MODEL"
"$LARQL" info "$MODEL"
echo "== larql tokenize $MODEL 'The capital of France is'"
"$LARQL" tokenize "$MODEL" "The capital of France is"
echo "== larql run $MODEL 'The capital of France is' -n 24"
"$LARQL" run "$MODEL" "The capital of France is" -n 24 --seed 1
echo "== larql bench $MODEL -p 64 -n 16 -r 2"
"$LARQL" bench "$MODEL" -p 64 -n 16 -r 2
