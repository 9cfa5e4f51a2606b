#!/usr/bin/env bash
# Labels from the teachers' decodes (recipes/real_en/decode.sh), in seconds: no teacher runs here.
#   heldout_real_test.strict.jsonl  test references: both Whisper teachers identical after normalisation,
#                                   spot-checked against the game's own dialogue text
#   heldout_real_test.script.jsonl  test references from the game's dialogue text, kept where both teachers
#                                   agree with it (CER <= 0.2): independent of Whisper's own spelling
#   train_real_en.labeled.jsonl     training labels: the teachers agree (CER <= 0.1); clips not decoded yet
#                                   are left out (the report counts them)
#   train_real_en.script_checked.jsonl  the bundled model's real labels: the game's script where Whisper
#                                   tiny.en agrees with it (CER <= 0.2, the test references' rule)
# Reports are copied to recipes/real_en/reports/ (committed beside the decodes).
set -euo pipefail
cd "$(dirname "$0")/../.."
EDGE=${EDGE:-.venv/bin/edge-ssl}
DATA=${DATA:-data/real}
HYPS=recipes/real_en/hyps
PL=("$EDGE" pseudo-label --select-only --hyps "$HYPS" -o "$DATA" -t whisper-base -t whisper-tiny.en --beam 5)
"${PL[@]}" "$DATA/heldout_real_test.jsonl" --strict --check-key game_text --name heldout_real_test.strict
"${PL[@]}" "$DATA/heldout_real_test.jsonl" --text-key game_text --max-cer 0.2 --name heldout_real_test.script
"${PL[@]}" "$DATA/train_real_en.jsonl" --max-cer 0.1 --check-key game_text --name train_real_en.labeled
"$EDGE" pseudo-label --select-only --hyps "$HYPS" -o "$DATA" -t whisper-tiny.en --beam 5 "$DATA/train_real_en.jsonl" \
  --text-key game_text --max-cer 0.2 --name train_real_en.script_checked
mkdir -p recipes/real_en/reports
cp "$DATA"/heldout_real_test.strict.report.json "$DATA"/heldout_real_test.script.report.json \
   "$DATA"/train_real_en.labeled.report.json "$DATA"/train_real_en.script_checked.report.json "$DATA"/corpus.json recipes/real_en/reports/
