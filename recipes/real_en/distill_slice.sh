#!/usr/bin/env bash
# Distillation from Whisper base on a small slice of the real corpus: the end-to-end check of the path
# (import -> teacher-feature cache -> DistilHuBERT student -> per-layer cosine on held-out speakers).
# Slices: 400 training clips (queen + sky, seed 0) and 100 clips of the held-out test speakers (only for
# the similarity report, never trained on). Resumable: the import is skipped when its file exists, the
# cache and the run resume.
set -euo pipefail
cd "$(dirname "$0")/../.."
EDGE=${EDGE:-.venv/bin/edge-ssl}
PY=${PY:-.venv/bin/python}
DATA=${DATA:-data/real}
"$PY" - "$DATA" <<'PYEOF'
import json, random, sys
from pathlib import Path
data = Path(sys.argv[1])
train = [l for l in (data / "train_real_en.jsonl").read_text().splitlines() if json.loads(l)["source"] in ("queen", "sky")]
test = (data / "heldout_real_test.jsonl").read_text().splitlines()
random.Random(0).shuffle(train)
random.Random(0).shuffle(test)
(data / "slice_train_400.jsonl").write_text("\n".join(train[:400]) + "\n")
(data / "slice_heldout_100.jsonl").write_text("\n".join(test[:100]) + "\n")
PYEOF
[ -f runs/whisper/base_pad10.safetensors ] || "$EDGE" import whisper:base --out runs/whisper/base_pad10.safetensors --pad-to 10
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$EDGE" distill -c distill/whisper_base_slice "$@"
