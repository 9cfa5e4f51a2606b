#!/usr/bin/env bash
# Rebuild the bundled English model (edge_ssl/assets/edge_en, v2: trained on real voices) and its model card:
#   bash recipes/bundled/run.sh          # CPU-hours; every stage resumes (finished outputs are kept, training
#                                        # continues from its checkpoint), so a killed run is simply rerun
#   1. real speech: data/real (make real-data) and the training labels from the committed Whisper decodes
#      (recipes/real_en/label.sh: the game's script where Whisper tiny.en agrees with it)
#   2. TTS: 4,500 utterances of the offline voices (4 voices held out), 60% augmented
#   3. the mix (real + TTS), Whisper tiny.en's encoder, CTC fine-tuning: edge_ssl/recipes/configs/ctc/edge_en_v2.yaml
#   4. int8 .pte (XNNPACK, static, convs included) and int8 .onnx, both verified against eager
#   5. a word LM (3-gram) from the training transcripts and WordNet, without any test sentence
#   6. evaluate on the held-out real speakers and the held-out TTS voices beside the previous bundled model
#      (v1, TTS only) and the peers, greedy and with the LM; bench on one thread; MODEL_CARD.md
# The previous bundled model (TTS only) came from this file as of commit d92b69f.
set -euo pipefail
cd "$(dirname "$0")/../.."
ES=${EDGE_SSL:-.venv/bin/edge-ssl}
PY=${PYTHON:-.venv/bin/python}
REAL=${REAL:-data/real}
SYN=${SYN:-data/synth_v2}
MIX=${MIX:-data/edge_en_v2}
OUT=${OUT:-runs/bundled_v2}
RUN=runs/ctc_edge_en_v2
MODEL=$RUN/model.safetensors
DEST=${DEST:-edge_ssl/assets/edge_en}
V1_COMMIT=d92b69f
mkdir -p "$OUT" "$MIX" "$DEST"

# 1-2: data
[ -f "$REAL/heldout_real_test.jsonl" ] || make real-data
[ -f "$REAL/train_real_en.script_checked.jsonl" ] || recipes/real_en/label.sh
[ -f "$SYN/test.jsonl" ] || $ES prepare synth "$SYN" -n 4500 --augment-prob 0.6 --seed 1
# 3: train
[ -f "$MIX/train.jsonl" ] || $ES prepare mix "$MIX/train.jsonl" "$REAL/train_real_en.script_checked.jsonl" \
    "$SYN/train.jsonl"
[ -f "$MIX/calib.jsonl" ] || $ES prepare mix "$MIX/calib.jsonl" "$REAL/train_real_en.script_checked.jsonl:0.02" \
    "$SYN/valid.jsonl:0.2"
[ -f runs/whisper/tiny_en_pad0.safetensors ] || \
    $ES import whisper:tiny.en --out runs/whisper/tiny_en_pad0.safetensors --pad-to 0
[ -f "$MODEL" ] || OMP_NUM_THREADS=1 $ES finetune -c ctc/edge_en_v2
# 4: int8 artifacts (training-distribution calibration: training speakers and voices only)
[ -f "$OUT/model_int8.pte" ] || $ES export executorch "$MODEL" --out "$OUT/model_int8.pte" --quant static \
    --no-keep-frontend-fp32 --calibration "$MIX/calib.jsonl"
[ -f "$OUT/model_int8.onnx" ] || $ES export onnx "$MODEL" --out "$OUT/model_int8.onnx" --quant dynamic \
    --calibration "$MIX/calib.jsonl"
# 5: LM
[ -f "$OUT/lm.arpa" ] || $ES build-lm "$MIX/train.jsonl" --wordnet --exclude "$REAL/heldout_real_test.jsonl" \
    --exclude "$REAL/heldout_real_test.script.jsonl" --exclude "$SYN/test.jsonl" --out "$OUT/lm.arpa"
# 6: the previous bundled model, the held-out sets, evaluation, bench, card
[ -f "$OUT/edge_en_v1.pte" ] || git show "$V1_COMMIT:edge_ssl/assets/edge_en/model_int8.pte" > "$OUT/edge_en_v1.pte"
cp "$MODEL" "$OUT/edge_en_v2_fp32.safetensors"
awk 'NR % 3 == 1' "$SYN/test.jsonl" > "$SYN/test_card.jsonl"  # 150 clips, all 4 held-out voices
SYSTEMS=("$OUT/edge_en_v2_fp32.safetensors" "$OUT/model_int8.pte" "$OUT/model_int8.onnx" "$OUT/edge_en_v1.pte")
for set in real:"$REAL/heldout_real_test.script.jsonl" tts:"$SYN/test_card.jsonl"; do
    name=${set%%:*}; clips=${set#*:}
    peers=(-e pocketsphinx -e whisper-tiny.en); [ "$name" = real ] && peers+=(-e whisper-base)
    [ -f "$OUT/eval_$name/comparison.json" ] || $ES evaluate "${SYSTEMS[@]}" "$clips" "${peers[@]}" --out "$OUT/eval_$name"
    [ -f "$OUT/eval_${name}_lm/comparison.json" ] || $ES evaluate "$OUT/model_int8.pte" "$OUT/edge_en_v1.pte" "$clips" \
        --lm "$OUT/lm.arpa" --out "$OUT/eval_${name}_lm"
done
[ -f "$OUT/bench/bench.json" ] || $ES bench "$MODEL" --no-hf --threads 1 --calibration "$MIX/calib.jsonl" --out "$OUT/bench"
"$PY" recipes/bundled/card.py "$OUT" "$MODEL" "$REAL" "$DEST"
cp "$OUT/model_int8.pte" "$OUT/model_int8.onnx" "$DEST/"
