#!/usr/bin/env bash
# A checkpoint alone resumes a run exactly. A run with augmentation, dropout,
# a validation split, label smoothing and a cosine schedule is trained once
# without a break, then interrupted by SIGINT, and again by SIGKILL, each at
# a random step, and resumed with `clnet-train --resume RUN/last.safetensors`
# alone. Each time the resumed run's last.safetensors and best.safetensors
# equal the uninterrupted run's byte for byte (tensors, optimizer moments and
# metadata), and its metrics.csv equals the uninterrupted one but for the
# timing columns (seconds, images_per_s). All three runs use the same run
# directory path, because the checkpoint's run.command (the command that
# started the run) names it.
# Usage: resume.sh BUILD_DIR SOURCE_DIR [SIGINT_ROW SIGKILL_ROW]
set -euo pipefail
. "$(dirname "$0")/common.sh"

import_fashion 40 "$work/data"
cat > "$work/tiny.cfg" <<'EOF'
[net]
channels=1
height=28
width=28
classes=10
batch=16

[conv]
name=conv1
filters=8
kernel=3
pad=1
activation=relu

[maxpool]
name=pool1
kernel=2

[dropout]
name=drop1
p=0.25

[dense]
name=fc1
outputs=10
EOF

# 300 images (--limit 30 of the 40 per class), 60 held out: 15 steps of 16
# per epoch, 45 in all; a metrics.csv row every 5 steps (9 rows), and a
# checkpoint at the first row 6 steps or more after the last: after steps
# 10, 15, 25, 30, 40 and 45, so not at rows 1, 4 and 7 (steps 5, 20, 35). A
# SIGINT sent at one of those mostly stops the run a step or a few later,
# between two rows: the loss counters not read yet travel in the checkpoint
# (tests/model's checkpoint_resume_is_exact checks that part every time). A
# SIGKILL is sent from row 3 on, once the first checkpoint is written.
run=$work/run
flags=(-q --epochs 3 --seed 4 --lr 0.05 --schedule cosine --warmup 1
       --augment flip,crop --val-split 0.2 --label-smoothing 0.1 --limit 30
       --log-every 5 --save-every 6 --out "$run")
total=9

"$train" "${flags[@]}" "$work/tiny.cfg" "$work/data" > "$work/ref.log" 2>&1 ||
    { cat "$work/ref.log"; fail "the uninterrupted run failed"; }
mv "$run" "$work/ref"
[ "$(grep -c '^step,' "$work/ref/metrics.csv")" = "$total" ] ||
    fail "the uninterrupted run's metrics.csv lacks step rows"

ckpt_meta() { grep -a -o "\"$1\":\"[^\"]*\"" "$run/last.safetensors" | cut -d'"' -f4; }
ckpt_step() { ckpt_meta train.step; }
step_rows() {
    local n
    n=$(grep -c '^step,' "$run/metrics.csv" 2>/dev/null) || true
    echo "${n:-0}"
}

# Starts the run and sends SIGNAL as soon as metrics.csv has ROW step rows:
# tail -f follows the file (a new run truncates it in place) as it grows,
# and a step here takes a few milliseconds.
interrupt() {
    local signal=$1 row=$2
    mkdir -p "$run"
    : > "$run/metrics.csv"
    exec {follow}< <(exec timeout 120 tail -n +1 -f "$run/metrics.csv" 2>/dev/null)
    local tail_pid=$!
    "$train" "${flags[@]}" "$work/tiny.cfg" "$work/data" > "$work/$signal.log" 2>&1 &
    local pid=$!
    local n=0 line
    while [ "$n" -lt "$row" ] && IFS= read -r -u "$follow" line; do
        case $line in step,*) n=$((n + 1)) ;; esac
    done
    kill "-$signal" "$pid" 2>/dev/null || true
    set +e; wait "$pid"; rc=$?; set -e
    kill "$tail_pid" 2>/dev/null || true
    exec {follow}<&-
}

# The final files equal the reference's; metrics.csv but for timing.
compare() {
    local what=$1
    for f in last.safetensors best.safetensors; do
        cmp "$work/ref/$f" "$run/$f" ||
            fail "$what: $f differs from the uninterrupted run's"
    done
    cut -d, -f1-9 "$work/ref/metrics.csv" > "$work/ref.csv"
    cut -d, -f1-9 "$run/metrics.csv" > "$work/got.csv"
    diff "$work/ref.csv" "$work/got.csv" > "$work/csv.diff" ||
        { head -20 "$work/csv.diff"; fail "$what: metrics.csv differs from the uninterrupted"; }
    grep -q 'epochs done</dt><dd>3<' "$run/report.html" ||
        fail "$what: report.html does not cover the 3 epochs"
    grep -q '^seed = 4$' "$run/recipe.txt" || fail "$what: recipe.txt lost the seed"
}

resume() {
    local what=$1
    [ -s "$run/last.safetensors" ] || fail "$what: no last.safetensors to resume from"
    "$train" -q --resume "$run/last.safetensors" > "$work/$what-resume.log" 2>&1 ||
        { cat "$work/$what-resume.log"; fail "$what: the resume failed"; }
    grep -q "done in" "$work/$what-resume.log" || fail "$what: the resumed run did not finish"
}

# 1. SIGINT at a random step: the step in flight finishes, the checkpoint is
#    saved there, and the printed command resumes.
sigint_rows=(1 4 7)
row=${3:-${sigint_rows[RANDOM % ${#sigint_rows[@]}]}}
echo "SIGINT after step row $row"
interrupt INT "$row"
[ "$rc" = 130 ] || { cat "$work/INT.log"; fail "SIGINT: the run exited $rc, not 130 (row $row)"; }
grep -q "resume with:" "$work/INT.log" || fail "SIGINT: no resume command printed"
grep -A1 "resume with:" "$work/INT.log" | tail -n 1 |
    grep -q -- "--resume $run/last.safetensors\$" ||
    fail "SIGINT: the printed command is not '... --resume RUN/last.safetensors'"
rows=$(step_rows)
echo "SIGINT: stopped after $rows rows, at step $(ckpt_step), counters not read yet" \
    "$(ckpt_meta train.counters)"
[ "$rows" -ge "$row" ] && [ "$rows" -lt "$total" ] ||
    fail "SIGINT: $rows step rows in metrics.csv after the interrupt, not $row to $((total - 1))"
resume SIGINT
compare SIGINT
mv "$run" "$work/int"

# 2. SIGKILL at a random step after the first checkpoint: the run continues
#    from the last checkpoint, and metrics.csv rows past it are dropped.
row=${4:-$((3 + RANDOM % (total - 4)))}
echo "SIGKILL after step row $row"
interrupt KILL "$row"
[ "$rc" = 137 ] || { cat "$work/KILL.log"; fail "SIGKILL: the run exited $rc, not 137 (row $row)"; }
rows=$(step_rows)
echo "SIGKILL: killed after $rows rows; the last checkpoint is at step $(ckpt_step)"
[ "$rows" -ge "$row" ] && [ "$rows" -lt "$total" ] ||
    fail "SIGKILL: $rows step rows in metrics.csv after the kill, not $row to $((total - 1))"
cp -r "$run" "$work/killed"
resume SIGKILL
compare SIGKILL

# 3. A flag that contradicts the checkpoint is refused, naming both values;
#    the same value, the flags that change nothing in the result, and the
#    data moved elsewhere are accepted.
set +e
"$train" -q --resume "$work/killed/last.safetensors" --seed 5 > "$work/seed.log" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || { cat "$work/seed.log"; fail "--seed 5 on resume exited $rc, not 2"; }
grep -q -- "--seed 5 contradicts .*seed 4" "$work/seed.log" ||
    { cat "$work/seed.log"; fail "the refusal does not name --seed 5 and the checkpoint's seed 4"; }
mv "$work/data" "$work/moved"
"$train" -q --resume "$work/killed/last.safetensors" --seed 4 --augment crop,flip --threads 1 \
    --epochs 3 "$work/moved" > "$work/same.log" 2>&1 ||
    { cat "$work/same.log"; fail "a resume with the run's own flags and its data moved failed"; }
cut -d, -f1-9 "$work/killed/metrics.csv" | diff -q "$work/ref.csv" - > /dev/null ||
    fail "the resume with the data moved does not match the uninterrupted run"
echo "resume: SIGINT and SIGKILL runs resumed from the checkpoint alone match the uninterrupted run"
