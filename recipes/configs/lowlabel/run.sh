#!/usr/bin/env bash
# The low-label experiment in one command: pretrain -> fine-tune on 10% labels, vs. scratch on the same 10%,
# vs. distil -> fine-tune the student; then the CER table and plot (docs/lowlabel.md).
#   bash recipes/configs/lowlabel/run.sh                 # DATA=data/synth OUT=runs/lowlabel
#   DATA=/tmp/synth OUT=/tmp/lowlabel PT_STEPS=120 bash recipes/configs/lowlabel/run.sh
# Budget: every update sees 10 s of audio; the scratch arm gets SCRATCH_STEPS (>= PT_STEPS + FT_STEPS) CTC
# updates, the teacher arm PT_STEPS of pretraining + FT_STEPS of fine-tuning, the student arm additionally
# KD_STEPS of distillation. The defaults are what fitted in ~75 min of a heavily shared 2-core CPU.
set -euo pipefail
DATA=${DATA:-data/synth}
OUT=${OUT:-runs/lowlabel}
PT_STEPS=${PT_STEPS:-120}
KD_STEPS=${KD_STEPS:-30}
FT_STEPS=${FT_STEPS:-60}
SCRATCH_STEPS=${SCRATCH_STEPS:-220}  # >= PT_STEPS + FT_STEPS: the baseline gets at least the teacher arm's updates
ES="${EDGE_SSL:-edge-ssl}"
data="data.train_manifest=$DATA/train.jsonl"
valid="data.valid_manifest=$DATA/test.jsonl"

[ -f "$DATA/test.jsonl" ] || $ES prepare synth "$DATA"
# arm 2 runs beside arm 1's pretraining (independent of it)
$ES finetune -c lowlabel/scratch out_dir="$OUT/scratch" "$data" "$valid" train.max_steps="$SCRATCH_STEPS" &
scratch=$!
# wav2vec 2.0 needs no target-making pass (HuBERT's MFCC k-means labelling of the whole corpus took longer
# than the whole pretraining budget on the shared 2-core machine); 10 s of audio per update like every arm
$ES pretrain wav2vec2 -c wav2vec2/tiny out_dir="$OUT/teacher" "$data" data.max_batch_samples=160000 \
    train.max_steps="$PT_STEPS"
$ES finetune -c lowlabel/teacher out_dir="$OUT/teacher_ft" "$data" "$valid" \
    model.init_from="$OUT/teacher/model.safetensors" train.max_steps="$FT_STEPS" &
teacher_ft=$!
$ES distill -c distill/tiny out_dir="$OUT/student" teacher="$OUT/teacher/model.safetensors" "$data" "$valid" \
    train.max_steps="$KD_STEPS" report_utterances=50
$ES finetune -c lowlabel/student out_dir="$OUT/student_ft" "$data" "$valid" \
    model.init_from="$OUT/student/model.safetensors" train.max_steps="$FT_STEPS"
wait "$scratch" "$teacher_ft"
"${PYTHON:-python}" "$(dirname "$0")/table.py" "$OUT"
