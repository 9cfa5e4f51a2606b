#!/usr/bin/env bash
# Decode the real English corpus with the two Whisper teachers, one process (one core) each, held-out test
# split first. Resumable: each teacher appends to recipes/real_en/hyps/<teacher>.beam5.jsonl and skips the
# ids already there, so a killed run (or a new session) continues where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
EDGE=${EDGE:-.venv/bin/edge-ssl}
DATA=${DATA:-data/real}
HYPS=recipes/real_en/hyps
for teacher in whisper-base whisper-tiny.en; do
  (for split in heldout_real_test train_real_en; do
     "$EDGE" pseudo-label "$DATA/$split.jsonl" -o "$DATA" --hyps "$HYPS" -t "$teacher" --beam 5 --threads 1 --decode-only
   done) &
done
wait
