#!/usr/bin/env bash
# A first look at what real speech buys, before the pseudo-labels are complete (the v2 recipe of issue 16
# replaces this): two CTC models on the same labels and budget, scored on the held-out speakers.
#   labels: Queen's own dialogue text (game_text) for the training characters' clips (script, unverified)
#   arm A: the edge_en architecture (log-mel, 6 x 192) from scratch, 1500 updates
#   arm B: Whisper tiny.en's whole encoder (4 x 384, imported, clips alone) + a CTC head, all of it trained
#          from the start at lr 3e-4, 1500 updates
#   arm C: the same, transformer layers frozen (the head and the two convs train), lr 1e-3, 2000 updates
#   arm D: the same, encoder frozen for 500 updates, then all of it at lr 1e-4, 1500 updates
# Batches of 20 s, one thread per run, two runs side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
EDGE=${EDGE:-.venv/bin/edge-ssl}
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/real}
"$PY" - "$DATA" <<'PYEOF'
import json, sys
from pathlib import Path
from edge_ssl.asr.decode.tokenizer import normalize_text
data = Path(sys.argv[1])
rows = [json.loads(l) for l in (data / "train_real_en.jsonl").read_text().splitlines()]
out = []
for r in rows:
    text = normalize_text(r.get("game_text") or "")
    if text:
        out.append(json.dumps({**r, "text": text}, ensure_ascii=False))
(data / "train_real_en.script.jsonl").write_text("\n".join(out) + "\n")
print(f"{len(out)} training clips labeled with the game's text")
PYEOF
[ -f runs/whisper/tiny_en_pad0.safetensors ] || "$EDGE" import whisper:tiny.en --out runs/whisper/tiny_en_pad0.safetensors --pad-to 0
COMMON=(-c ctc/edge_en data.train_manifest="$DATA/train_real_en.script.jsonl"
        data.valid_manifest="$DATA/heldout_real_test.script.jsonl" data.max_batch_samples=320000 train.save_every=100)
WHISPER=(model.init_from=runs/whisper/tiny_en_pad0.safetensors)
FT=(env OMP_NUM_THREADS=1 "$EDGE" finetune "${COMMON[@]}")
"${FT[@]}" out_dir=runs/real_prelim/edge_scratch train.max_steps=1500 &
"${FT[@]}" out_dir=runs/real_prelim/whisper_tiny_ctc train.max_steps=1500 "${WHISPER[@]}" optim.lr=0.0003 \
  model.freeze_feature_extractor=true &
wait
NOREG=(model.dropout=0 model.attention_dropout=0 model.activation_dropout=0)  # Whisper trained without dropout
"${FT[@]}" out_dir=runs/real_prelim/whisper_tiny_headonly_2k train.max_steps=2000 "${WHISPER[@]}" "${NOREG[@]}" \
  optim.lr=0.001 model.freeze_encoder_steps=100000 model.masking.mask_prob=0 model.masking.mask_channel_prob=0 &
"${FT[@]}" out_dir=runs/real_prelim/whisper_tiny_freeze_tune train.max_steps=1500 "${WHISPER[@]}" "${NOREG[@]}" \
  optim.lr=0.0001 model.freeze_encoder_steps=500 &
wait
