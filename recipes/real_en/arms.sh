#!/usr/bin/env bash
# The ablation arms of the default model (docs/real_speech.md, section 6), beside the v2 recipe itself
# (recipes/bundled/run.sh). Same labeled data (data/edge_en_v2/train.jsonl: real + TTS, made by run.sh), scored
# on the held-out real speakers and the held-out TTS voices, greedy and with run.sh's word LM. Every stage
# resumes; ARMS picks arms (default: all three, in this order).
#   scratch    the v1 architecture (log-mel, 6 x 192, 3.1M; ctc/edge_en) from random initialisation,
#              6000 CTC updates of 20 s (v2's budget)
#   distilled  DistilHuBERT from Whisper base (distill/whisper_base: 2000 updates of 20 s on the mix's audio,
#              teacher features cached once) into a 2 x 512 student (7.2M), then v2's CTC recipe
#              (ctc/edge_en_v2: 6000 updates) from the student instead of Whisper tiny.en
#   lowlabel   the low-label SSL question on real audio (recipes/lowlabel/run.sh): HuBERT iteration 1 on all
#              unlabeled audio (English and non-English real, TTS: data/edge_en_v2/ssl_audio.jsonl) -> CTC on
#              10% of the mix's labels, vs the same architecture from scratch on the same 10%
#   lowlabel_whisper  v2's recipe (Whisper tiny.en's encoder, ctc/edge_en_v2) on the same 10%, with the
#              HuBERT arm's 1000 CTC updates: the low-label question with a teacher pretrained at scale
#   ARMS="distilled lowlabel" recipes/real_en/arms.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ES=${EDGE_SSL:-.venv/bin/edge-ssl}
PY=${PYTHON:-.venv/bin/python}
REAL=${REAL:-data/real}
SYN=${SYN:-data/synth_v2}
MIX=${MIX:-data/edge_en_v2}
LM=${LM:-runs/bundled_v2/lm.arpa}
OUT=runs/real_v2
ARMS=${ARMS:-scratch distilled lowlabel lowlabel_whisper}
[ -f "$MIX/train.jsonl" ] && [ -f "$LM" ] || { echo "run recipes/bundled/run.sh first (data and LM)"; exit 1; }
export OMP_NUM_THREADS=1

# Greedy on the held-out TTS voices; real and TTS with the LM. Greedy on the real speakers is the CTC run's
# own end-of-run score (valid_manifest = the held-out real test split): <run>/valid/summary.json.
score() {  # name model
    [ -f "$OUT/eval_tts_$1/summary.json" ] || $ES evaluate "$2" "$SYN/test_card.jsonl" --out "$OUT/eval_tts_$1"
    [ -f "$OUT/eval_real_lm_$1/summary.json" ] || $ES evaluate "$2" "$REAL/heldout_real_test.script.jsonl" \
        --lm "$LM" --out "$OUT/eval_real_lm_$1"
    [ -f "$OUT/eval_tts_lm_$1/summary.json" ] || $ES evaluate "$2" "$SYN/test_card.jsonl" --lm "$LM" \
        --out "$OUT/eval_tts_lm_$1"
}
ctc=(data.train_manifest="$MIX/train.jsonl" data.valid_manifest="$REAL/heldout_real_test.script.jsonl")

for arm in $ARMS; do case $arm in
scratch)
    [ -f "$OUT/edge_scratch/model.safetensors" ] || $ES finetune -c ctc/edge_en out_dir="$OUT/edge_scratch" "${ctc[@]}" \
        data.max_batch_samples=320000 data.lowpass_prob=0.5 train.max_steps=6000 train.save_every=100
    score scratch "$OUT/edge_scratch/model.safetensors" ;;
distilled)
    [ -f runs/whisper/base_pad10.safetensors ] || $ES import whisper:base --out runs/whisper/base_pad10.safetensors --pad-to 10
    [ -f "$OUT/distill_whisper_base/model.safetensors" ] || $ES distill -c distill/whisper_base out_dir="$OUT/distill_whisper_base"
    [ -f "$OUT/distilled_ctc/model.safetensors" ] || $ES finetune -c ctc/edge_en_v2 out_dir="$OUT/distilled_ctc" "${ctc[@]}" \
        model.init_from="$OUT/distill_whisper_base/model.safetensors"
    score distilled "$OUT/distilled_ctc/model.safetensors" ;;
lowlabel)
    # lowlabel/run.sh's layout: train.jsonl (its 10% are the labels), valid.jsonl (training speakers: k-means
    # purity), test.jsonl (every CTC stage's end-of-run score)
    mkdir -p data/lowlabel_real
    ln -sfn "$PWD/$MIX/train.jsonl" data/lowlabel_real/train.jsonl
    ln -sfn "$PWD/$MIX/calib.jsonl" data/lowlabel_real/valid.jsonl
    ln -sfn "$PWD/$REAL/heldout_real_test.script.jsonl" data/lowlabel_real/test.jsonl
    [ -f "$MIX/ssl_audio.jsonl" ] || $ES prepare mix "$MIX/ssl_audio.jsonl" "$REAL/train_real_en.jsonl" \
        "$REAL/unlabeled_other.jsonl" "$SYN/train.jsonl"
    [ -f "$OUT/lowlabel/table.json" ] || LANES=1 DATA=data/lowlabel_real OUT="$OUT/lowlabel" PT_AUDIO="$MIX/ssl_audio.jsonl" \
        EDGE_SSL="$ES" PYTHON="$PY" bash recipes/lowlabel/run.sh
    score lowlabel_hubert "$OUT/lowlabel/teacher_ft/model.safetensors"
    score lowlabel_scratch "$OUT/lowlabel/scratch/model.safetensors" ;;
lowlabel_whisper)
    [ -f runs/whisper/tiny_en_pad0.safetensors ] || \
        $ES import whisper:tiny.en --out runs/whisper/tiny_en_pad0.safetensors --pad-to 0
    [ -f "$OUT/lowlabel/whisper_ft/model.safetensors" ] || $ES finetune -c ctc/edge_en_v2 out_dir="$OUT/lowlabel/whisper_ft" \
        "${ctc[@]}" data.labeled_fraction=0.1 data.subset_seed=0 train.max_steps=1000 model.freeze_encoder_steps=100
    score lowlabel_whisper "$OUT/lowlabel/whisper_ft/model.safetensors" ;;
*) echo "unknown arm $arm (scratch, distilled, lowlabel, lowlabel_whisper)" >&2; exit 2 ;;
esac; done
