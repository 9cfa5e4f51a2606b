#!/usr/bin/env bash
# The low-label experiment in one command, on the edge architecture (log-mel + 2 convs -> 50 Hz, 6 x 192
# pre-LN, ~3.1M params) and data/synth_big (10200 training utterances, 19 voices; test = 4 held-out voices):
#   (1) HuBERT iteration 1 on all training audio, no labels -> CTC on 10% of the labels
#   (2) the same architecture from scratch, CTC on the same 10% (and (2b): with only arm 1's FT_STEPS updates)
#   (3) DistilHuBERT of (1)'s teacher (front-end + 2 layers, heads for layers 2, 4, 6) -> CTC on the same 10%
# then the CER table and plot (docs/lowlabel.md).
#   bash recipes/lowlabel/run.sh                         # DATA=data/synth_big OUT=runs/lowlabel_edge
#   PT_STEPS=500 FT_STEPS=300 KD_STEPS=100 bash recipes/lowlabel/run.sh      # a shorter run
#   PT_AUDIO=more.jsonl: the unlabeled audio of pretraining and distillation (default: DATA's train.jsonl,
#   whose 10% deterministic subset is always the labeled data); LANES=1 runs the two lanes one after the other.
# Budget: every update sees 20 s of audio. Arm 1: PT_STEPS + FT_STEPS; arm 2: SCRATCH_STEPS (default
# PT_STEPS + FT_STEPS, never fewer) CTC updates; arm 2b: FT_STEPS; arm 3: arm 1's pretraining + KD_STEPS + FT_STEPS.
# Two lanes run side by side, one thread each (on 2 cores, one OpenMP thread per process is ~2.6x faster
# than two threads fighting over the cores): lane A = arms 2, 2b; lane B = targets -> pretrain -> arm 1 -> arm 3.
set -euo pipefail
DATA=${DATA:-data/synth_big}
OUT=${OUT:-runs/lowlabel_edge}
PT_STEPS=${PT_STEPS:-2000}
FT_STEPS=${FT_STEPS:-1000}
KD_STEPS=${KD_STEPS:-400}
SCRATCH_STEPS=${SCRATCH_STEPS:-$((PT_STEPS + FT_STEPS))}
if [ "$SCRATCH_STEPS" -lt $((PT_STEPS + FT_STEPS)) ]; then
    echo "SCRATCH_STEPS=$SCRATCH_STEPS < PT_STEPS + FT_STEPS: the baseline must get at least arm 1's updates" >&2
    exit 2
fi
ES="${EDGE_SSL:-edge-ssl}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
PT_AUDIO=${PT_AUDIO:-$DATA/train.jsonl}
data="data.train_manifest=$DATA/train.jsonl"
pt_data="data.train_manifest=$PT_AUDIO"
km="$OUT/km1/$(basename "$PT_AUDIO" .jsonl).km"  # hubert-targets writes <stem>.km per manifest
valid="data.valid_manifest=$DATA/test.jsonl"
ft=(train.max_steps="$FT_STEPS" model.freeze_encoder_steps=$((FT_STEPS / 10)))
[ -f "$DATA/test.jsonl" ] || { echo "$DATA/test.jsonl missing: edge-ssl prepare synth $DATA -n 12000 --augment-prob 0.6 --seed 1" >&2; exit 2; }

# lane A: arm 2, then arm 2b (scratch with only FT_STEPS updates: pretraining's worth at equal CTC updates)
{ $ES finetune -c lowlabel/scratch out_dir="$OUT/scratch" "$data" "$valid" train.max_steps="$SCRATCH_STEPS"
  $ES finetune -c lowlabel/scratch out_dir="$OUT/scratch_short" "$data" "$valid" train.max_steps="$FT_STEPS"; } &
scratch=$!
[ "${LANES:-2}" = 1 ] && wait "$scratch"

[ -f "$km" ] || $ES hubert-targets "$PT_AUDIO" "$DATA/valid.jsonl" --out "$OUT/km1" -k 100
$ES pretrain hubert -c hubert/edge_lowlabel out_dir="$OUT/teacher" "$pt_data" data.train_labels="$km" \
    train.max_steps="$PT_STEPS"
$ES finetune -c lowlabel/teacher out_dir="$OUT/teacher_ft" "$data" "$valid" \
    model.init_from="$OUT/teacher/model.safetensors" "${ft[@]}"
$ES distill -c distill/edge_lowlabel out_dir="$OUT/student" teacher="$OUT/teacher/model.safetensors" "$pt_data" "$valid" \
    train.max_steps="$KD_STEPS"
$ES finetune -c lowlabel/student out_dir="$OUT/student_ft" "$data" "$valid" \
    model.init_from="$OUT/student/model.safetensors" "${ft[@]}"
wait "$scratch"
"${PYTHON:-python}" "$(dirname "$0")/table.py" "$OUT"
