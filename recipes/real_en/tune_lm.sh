#!/usr/bin/env bash
# The word LM's weight and word score for CTC beam search, tuned on voices that no model here was trained on
# and no test holds: Beneath a Steel Sky's clips where both Whisper teachers agree (train_real_en.labeled,
# source sky; the v2 mix has Queen's characters only, the test split is Queen's held-out six). 200 clips,
# chosen with seed 0. Every grid point resumes; the grid and the best point go to recipes/real_en/reports/.
#   MODEL=runs/bundled_v2/model_int8.pte recipes/real_en/tune_lm.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ES=${EDGE_SSL:-.venv/bin/edge-ssl}
PY=${PYTHON:-.venv/bin/python}
REAL=${REAL:-data/real}
MODEL=${MODEL:-edge_ssl/assets/edge_en/model_int8.pte}
LM=${LM:-runs/bundled_v2/lm.arpa}
OUT=${OUT:-runs/bundled_v2/lm_tune}
DEV="$REAL/dev_sky.jsonl"
mkdir -p "$OUT"
[ -f "$DEV" ] || "$PY" - "$REAL/train_real_en.labeled.jsonl" "$DEV" <<'PYEOF'
import json, random, sys
rows = [l for l in open(sys.argv[1]) if json.loads(l)["source"] == "sky"]
random.Random(0).shuffle(rows)
open(sys.argv[2], "w").writelines(rows[:200])
PYEOF
export OMP_NUM_THREADS=1
[ -f "$OUT/greedy/summary.json" ] || $ES evaluate "$MODEL" "$DEV" --out "$OUT/greedy" >/dev/null
for w in 0.5 1.0 1.5 2.0 3.0; do for s in 0.0 1.0 2.0; do
    [ -f "$OUT/w${w}_s${s}/summary.json" ] || $ES evaluate "$MODEL" "$DEV" --lm "$LM" --lm-weight "$w" --word-score "$s" \
        --out "$OUT/w${w}_s${s}" >/dev/null
done; done
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
grid = []
for d in sorted(out.glob("w*_s*")):
    w, s = d.name[1:].split("_s")
    m = json.loads((d / "summary.json").read_text())
    grid.append({"lm_weight": float(w), "word_score": float(s), "wer": m["wer"], "cer": m["cer"]})
greedy = json.loads((out / "greedy" / "summary.json").read_text())
best = min(grid, key=lambda g: (g["wer"], g["cer"]))
report = {"dev": "data/real/dev_sky.jsonl", "clips": greedy["num_utterances"], "greedy_wer": greedy["wer"],
          "greedy_cer": greedy["cer"], "best": best, "grid": grid}
Path("recipes/real_en/reports/lm_tune.json").write_text(json.dumps(report, indent=2) + "\n")
print(f"greedy WER {greedy['wer']:.1%}; best: lm_weight {best['lm_weight']} word_score {best['word_score']} "
      f"WER {best['wer']:.1%} CER {best['cer']:.1%}")
PYEOF
