#!/usr/bin/env bash
# The ablation arms of the default model (docs/real_speech.md, section 6), beside the v2 recipe itself
# (recipes/bundled/run.sh). Same labeled data (data/edge_en_v2/train.jsonl: real + TTS, made by run.sh), same
# budget (6000 updates of 20 s, one thread), scored on the held-out real speakers and the held-out TTS voices,
# greedy and with run.sh's word LM. Every stage resumes.
#   scratch: the v1 architecture (log-mel, 6 x 192, 3.1M; ctc/edge_en) from random initialisation
set -euo pipefail
cd "$(dirname "$0")/../.."
ES=${EDGE_SSL:-.venv/bin/edge-ssl}
REAL=${REAL:-data/real}
SYN=${SYN:-data/synth_v2}
LM=${LM:-runs/bundled_v2/lm.arpa}
OUT=runs/real_v2
[ -f data/edge_en_v2/train.jsonl ] && [ -f "$LM" ] || { echo "run recipes/bundled/run.sh first (data and LM)"; exit 1; }
[ -f "$OUT/edge_scratch/model.safetensors" ] || OMP_NUM_THREADS=1 $ES finetune -c ctc/edge_en out_dir="$OUT/edge_scratch" \
    data.train_manifest=data/edge_en_v2/train.jsonl data.valid_manifest="$REAL/heldout_real_test.script.jsonl" \
    data.max_batch_samples=320000 data.lowpass_prob=0.5 train.max_steps=6000 train.save_every=100
M="$OUT/edge_scratch/model.safetensors"
[ -f "$OUT/eval_tts_scratch/summary.json" ] || $ES evaluate "$M" "$SYN/test_card.jsonl" --out "$OUT/eval_tts_scratch"
[ -f "$OUT/eval_real_lm_scratch/summary.json" ] || $ES evaluate "$M" "$REAL/heldout_real_test.script.jsonl" --lm "$LM" \
    --out "$OUT/eval_real_lm_scratch"
[ -f "$OUT/eval_tts_lm_scratch/summary.json" ] || $ES evaluate "$M" "$SYN/test_card.jsonl" --lm "$LM" \
    --out "$OUT/eval_tts_lm_scratch"
