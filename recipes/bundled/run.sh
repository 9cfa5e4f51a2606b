#!/usr/bin/env bash
# Rebuild the bundled English model (edge_ssl/assets/edge_en) and its model card, end to end:
#   bash recipes/bundled/run.sh            # OUT=runs/bundled DATA=data/synth_big
# corpus -> CTC training (ctc/edge_en) -> int8 .pte + int8 .onnx (verified) -> evaluate them and the peer engines
# on the same held-out-voice clips -> bench -> MODEL_CARD.md. Training takes ~1 h on 2 cores; one thread
# trains faster than two here when anything else runs (OpenMP barriers), hence OMP_NUM_THREADS=1.
set -euo pipefail
DATA=${DATA:-data/synth_big}
OUT=${OUT:-runs/bundled}
MODEL=${MODEL:-runs/ctc_edge_en/model.safetensors}
DEST=${DEST:-edge_ssl/assets/edge_en}
ES="${EDGE_SSL:-edge-ssl}"
mkdir -p "$OUT" "$DEST"

[ -f "$DATA/test.jsonl" ] || $ES prepare synth "$DATA" -n 12000 --augment-prob 0.6 --seed 1
[ -f "$MODEL" ] || OMP_NUM_THREADS=1 $ES finetune -c ctc/edge_en "data.train_manifest=$DATA/train.jsonl" \
    "data.valid_manifest=$DATA/test.jsonl"
# 300 held-out-voice clips (every 4th of the test split: all 4 held-out voices) scored by every system
awk 'NR % 4 == 1' "$DATA/test.jsonl" > "$DATA/test_card.jsonl"
$ES export executorch "$MODEL" --out "$OUT/model_int8.pte" --quant static --calibration "$DATA/valid.jsonl"
$ES export onnx "$MODEL" --out "$OUT/model_int8.onnx" --quant dynamic --calibration "$DATA/valid.jsonl"
for a in "$MODEL" "$OUT/model_int8.pte" "$OUT/model_int8.onnx"; do
    $ES evaluate "$a" "$DATA/test_card.jsonl" --out "$OUT/eval/$(basename "$a" | tr . _)"
done
for e in pocketsphinx whisper-tiny.en; do
    $ES evaluate --engine "$e" "$DATA/test_card.jsonl" --out "$OUT/eval/$e"
done
$ES bench "$MODEL" --no-hf --calibration "$DATA/valid.jsonl" --out "$OUT/bench"
"${PYTHON:-python}" "$(dirname "$0")/card.py" "$OUT" "$MODEL" "$DATA/test_card.jsonl" "$DEST"
cp "$OUT/model_int8.pte" "$OUT/model_int8.onnx" "$DEST/"
