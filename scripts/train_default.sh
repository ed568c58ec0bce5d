#!/usr/bin/env bash
# Reproduce the model that ships as tfqa's default scorer (src/tfqa/assets/models/default.pt
# and the gradient-boosted trees averaged with it, default_trees.npz),
# end to end on a 2-core CPU:
#
#   benchmark -> extract -> train (standard architecture; the optimized one, short)
#   -> pick on val -> compare on test -> ship -> rank generators
#
# Every step is resumable: a finished step's output is reused when the script runs again.
# Usage:  scripts/train_default.sh [WORK_DIR]      (default /tmp/tfqa-default; outside the repo)
# Env:    BENCH, CACHE (benchmark and feature-cache folders, default WORK_DIR/bench, /cache),
#         CLIPS (third-party clips, default ../shared/data/clips), JOBS (parallel extract
#         processes, default 2), THREADS (torch threads for training, default 2),
#         EPOCHS (standard run, default 8), OPT_EPOCHS (optimized run, default 2),
#         WEIGHTING (default uncertainty) or WEIGHTINGS (a list to pick from on val),
#         SHIP=0 to leave the packaged checkpoint alone.
# docs/model-card.md says what was shortened relative to the thesis and why.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${1:-/tmp/tfqa-default}
CLIPS=${CLIPS:-$REPO/../shared/data/clips}
JOBS=${JOBS:-2}
THREADS=${THREADS:-2}
BENCH=${BENCH:-$WORK/bench}
CACHE=${CACHE:-$WORK/cache}
RUNS=$WORK/runs
TFQA="nice -n 5 .venv/bin/tfqa"
PY="nice -n 5 .venv/bin/python"
mkdir -p "$WORK" "$RUNS"
log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$WORK/train_default.log"; }
# fresh OUT IN...: OUT exists and is newer than every IN (a finished step is not run again)
fresh() {
  local out=$1
  shift
  [ -e "$out" ] || return 1
  for f in "$@"; do [ "$out" -nt "$f" ] || return 1; done
}

# 1. the labelled benchmark (issue 4: 41 real clips x 75 variants + 4 talking photos)
if [ ! -f "$BENCH/manifest.csv" ]; then
  log "make-benchmark"
  $TFQA make-benchmark "$CLIPS/real" --out "$BENCH" --variants-per-source 75 \
    --include-synth 4 --jobs "$JOBS" --cache-dir "$CACHE"
fi

# 1b. a benchmark written before sources' own A/V offsets were counted in the labels:
#     recompute its labels (nothing is re-rendered; the old manifest is kept beside it)
if ! head -1 "$BENCH/manifest.csv" | grep -q own_offset_ms; then
  log "relabel (own offsets)"
  $TFQA relabel "$BENCH" --cache-dir "$CACHE"
fi

# 2. features: JOBS extract processes on interleaved shards of the manifest (same store)
log "extract ($JOBS processes)"
$PY - "$BENCH/manifest.csv" "$WORK/shards" "$JOBS" <<'EOF'
import sys
from pathlib import Path
import pandas as pd
manifest, out, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
df = pd.read_csv(manifest)
df["video"] = [str((manifest.parent / v).resolve()) for v in df["video"]]
out.mkdir(parents=True, exist_ok=True)
for k in range(jobs):
    df.iloc[k::jobs].to_csv(out / f"shard{k}.csv", index=False)
EOF
pids=()
for ((k = 0; k < JOBS; k++)); do
  $TFQA extract "$WORK/shards/shard$k.csv" --cache-dir "$CACHE" --no-progress \
    > "$WORK/shards/extract$k.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || log "extract: some clips failed (see $WORK/shards/extract*.log)"; done

train() {  # name, config, epochs, overrides...
  local name=$1 config=$2 epochs=$3
  shift 3
  local sets=(--set "train.num_threads=$THREADS")
  for s in "$@"; do sets+=(--set "$s"); done
  log "train $name ($config, $epochs epochs, $*)"
  $TFQA train --manifest "$BENCH/manifest.csv" --config "$config" --out "$RUNS/$name" \
    --cache-dir "$CACHE" --epochs "$epochs" --resume "${sets[@]}" > "$RUNS/$name.out" 2>&1
}

# 3. the standard architecture (configs/default.yaml). WEIGHTINGS="uncertainty fixed gradnorm"
#    first trains each strategy for 6 epochs and picks the best on val (thesis Table 3.1); the
#    shipped model skipped that search for time and used uncertainty weighting (model card).
best_w=${WEIGHTING:-uncertainty}
if [ -n "${WEIGHTINGS:-}" ]; then
  cks=()
  for w in $WEIGHTINGS; do
    train "w_$w" configs/default.yaml 6 "loss.weighting=$w"
    cks+=(--checkpoint "$w=$RUNS/w_$w/best.pt")
  done
  $TFQA compare "$BENCH/manifest.csv" --cache-dir "$CACHE" --split val --baselines "" \
    --no-zero-shot --resamples 50 --out "$RUNS/select_weighting" "${cks[@]}" \
    > "$RUNS/select_weighting.out"
  best_w=$($PY -c "import pandas as pd; t = pd.read_csv('$RUNS/select_weighting/mean_plcc.csv'); print(t.loc[t['value'].idxmax(), 'scorer'])")
  log "weighting picked on val: $best_w"
fi
train "w_$best_w" configs/default.yaml "${EPOCHS:-8}" "loss.weighting=$best_w"

# 4. the optimized config (512-d, 6 layers, 16 heads), shortened to fit this CPU
train optimized optimized "${OPT_EPOCHS:-2}" data.window=75 data.eval_windows=2 train.grad_accum=2 \
  train.warmup_steps=20 train.cycle_epochs=2 train.grad_checkpointing=false loss.weighting="$best_w"

# 5. pick the shipped model on val, then compare everything on test
CKPTS=("$RUNS/w_$best_w/best.pt" "$RUNS/optimized/best.pt" "$BENCH/manifest.csv")
fresh "$RUNS/select_model/mean_plcc.csv" "${CKPTS[@]}" ||
  $TFQA compare "$BENCH/manifest.csv" --cache-dir "$CACHE" --split val --baselines "" \
    --no-zero-shot --resamples 50 --out "$RUNS/select_model" \
    --checkpoint standard="$RUNS/w_$best_w/best.pt" --checkpoint optimized="$RUNS/optimized/best.pt" \
    > "$RUNS/select_model.out"
best=$($PY -c "import pandas as pd; t = pd.read_csv('$RUNS/select_model/mean_plcc.csv'); print(t.loc[t['value'].idxmax(), 'scorer'])")
best_ckpt=$([ "$best" = standard ] && echo "$RUNS/w_$best_w/best.pt" || echo "$RUNS/optimized/best.pt")
log "model picked on val: $best ($best_ckpt)"
if [ "$(stat -c %s "$best_ckpt")" -gt $((25 * 1024 * 1024)) ]; then  # the package ships <= 25 MB
  best=standard best_ckpt="$RUNS/w_$best_w/best.pt"
  log "over 25 MB: shipping the standard model instead ($best_ckpt)"
fi
log "compare on test"
fresh "$RUNS/compare_test/trees.npz" "${CKPTS[@]}" ||
  $TFQA compare "$BENCH/manifest.csv" --cache-dir "$CACHE" --split test --out "$RUNS/compare_test" \
    --checkpoint "$best"="$best_ckpt" \
    --checkpoint "$([ "$best" = standard ] && echo optimized || echo standard)"="$([ "$best" = standard ] && echo "$RUNS/optimized/best.pt" || echo "$RUNS/w_$best_w/best.pt")" \
    > "$RUNS/compare_test.out"

# 6. ship: the inference checkpoint, its trees (fitted by the test compare above) and a JSON
#    sidecar (hashes, metrics, provenance)
if [ "${SHIP:-1}" = 1 ]; then
  log "ship $best_ckpt"
  $PY scripts/ship_default.py "$best_ckpt" "$best" "$RUNS/compare_test" "$RUNS/select_model" \
    "$BENCH/manifest.csv"
fi

# 7. how the default and the zero-shot scorer rank the generator methods of the third-party clips
log "rank generators"
$PY - "$CLIPS" "$RUNS/generators" "$CACHE" <<'EOF'
import sys
from tfqa.evaluation.generators import rank_generators
res = rank_generators(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])
print(res.markdown)
EOF
log "done: $RUNS/compare_test/comparison.md, $RUNS/generators/methods.md"
