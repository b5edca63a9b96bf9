#!/usr/bin/env bash
# Many processes: mpirun -np N clnet-train (Open MPI on the loopback, N
# ranks sharing this machine's one device). On models without batchnorm or
# dropout (tiny_tanh.cfg) 2 and 3 ranks end with the parameters of one
# process within 1e-5 relative, and 2 ranks (in 1 KiB gradient buckets)
# with those of 2 in-process replicas (--device 0:2, one bucket); with batchnorm, --sync-bn matches one process; a
# run resumes on another number of ranks. Faults: a rank killed mid-epoch
# stops the run (mpirun names it) within the limit, a stopped (hung) rank
# is named after --peer-timeout, the checkpoint stays whole and a 1-process
# resume finishes the run. Which images each rank reads is the loader's
# shard (tests/data/test_loader.c, shards_split_each_batch).
# Usage: mpi.sh BUILD_DIR SOURCE_DIR MPI_BUILT(true|false)
. "$(dirname "$0")/common.sh"
if [[ ${3:-false} != true ]]; then
    echo "SKIP: clnet-train was built without Open MPI (install libopenmpi-dev and"
    echo "openmpi-bin, e.g. with tools/bootstrap, and reconfigure)"
    exit 77
fi
command -v mpirun >/dev/null || { echo "SKIP: mpirun not found (openmpi-bin)"; exit 77; }
py=/usr/bin/python3
compare() { "$py" "$src/tests/e2e/compare_params.py" "$@"; }
# Under the sanitizers (tools/run-sanitizers) the ranks keep checking memory
# errors but not leaks: Open MPI leaves its state to exit and unloads the
# components that allocated it, so LeakSanitizer reports allocations it can
# name no module of (no suppression can match them).
mpi=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" mpirun --oversubscribe)
[[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)

import_fashion 40 "$work/data"
cfg=$src/tests/e2e/tiny_tanh.cfg
run() { # NP OUT_DIR [flags...]; NP 0: no mpirun
    local np=$1 out=$2
    shift 2
    local cmd=("$train" -q --epochs 2 --seed 3 --out "$out" "$@" "$cfg" "$work/data")
    [[ $np -gt 0 ]] && cmd=("${mpi[@]}" -np "$np" "${cmd[@]}")
    "${cmd[@]}" > "$out.log" 2>&1 || { cat "$out.log"; fail "$np ranks: clnet-train $*"; }
}

run 0 "$work/one"
run 2 "$work/mpi2" --bucket-kib 1 --bench
grep -q "buckets each" "$work/mpi2.log" || { cat "$work/mpi2.log"; fail "no gradient sum figures"; }
grep -q "rank 0 of 2 processes" "$work/mpi2.log" || { cat "$work/mpi2.log"; fail "no ranks line"; }
[[ $(grep -c "^epoch 2/2" "$work/mpi2.log") -eq 1 ]] || { cat "$work/mpi2.log"; fail "ranks other than 0 printed"; }
compare "$work/mpi2/last.safetensors" "$work/one/last.safetensors" 1e-5 || fail "2 ranks vs 1 process"
# Rank 0 validates on the whole validation set.
run 2 "$work/val2" --val-split 0.2 --epochs 1
grep -q "val loss" "$work/val2.log" || { cat "$work/val2.log"; fail "no validation under mpirun"; }
run 0 "$work/dev2" --device 0:2
compare "$work/mpi2/last.safetensors" "$work/dev2/last.safetensors" 1e-5 ||
    fail "2 ranks vs 2 in-process replicas"
run 0 "$work/one30" --batch 30
run 3 "$work/mpi3" --batch 30 --check-every 2
compare "$work/mpi3/last.safetensors" "$work/one30/last.safetensors" 1e-5 || fail "3 ranks vs 1 process"

# Resume on another number of ranks: 1 epoch on 2 ranks, the second on 3.
run 2 "$work/re" --batch 30 --epochs 1
"${mpi[@]}" -np 3 "$train" -q --resume "$work/re/last.safetensors" --epochs 2 \
    > "$work/re3.log" 2>&1 || { cat "$work/re3.log"; fail "resume on 3 ranks"; }
compare "$work/re/last.safetensors" "$work/one30/last.safetensors" 1e-5 ||
    fail "2 ranks then 3 vs 1 process"

# Batchnorm: --sync-bn over 2 ranks normalises as one process does.
cfg=$src/tests/e2e/tiny_bn.cfg
run 0 "$work/one_bn"
run 2 "$work/mpi_bn" --sync-bn
compare "$work/mpi_bn/last.safetensors" "$work/one_bn/last.safetensors" 1e-5 ||
    fail "2 ranks with --sync-bn vs 1 process"
cfg=$src/tests/e2e/tiny_tanh.cfg

# Faults. A long run (checkpoints every 4 updates); once the first is on
# disk, rank 1 is killed (SIGKILL) or stopped (SIGSTOP: a hang).
rank_pid() { # RUN_DIR RANK: the pid of that rank of the run writing RUN_DIR
    local p
    for p in $(pgrep -f -- "--out $1 "); do
        tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" &&
            { echo "$p"; return; }
    done
}
fault() { # NAME SIGNAL: the run's exit status in $work/NAME.rc, seconds in $work/NAME.s
    local out=$work/$1
    "${mpi[@]}" -np 2 "$train" -q --epochs 500 --seed 3 --save-every 4 --log-every 2 \
        --peer-timeout 5 --out "$out" "$cfg" "$work/data" > "$out.log" 2>&1 &
    local job=$! pid="" t0
    for _ in $(seq 600); do [[ -f $out/last.safetensors ]] && break; sleep 0.1; done
    [[ -f $out/last.safetensors ]] || { cat "$out.log"; fail "$1: no checkpoint"; }
    for _ in $(seq 50); do pid=$(rank_pid "$out" 1); [[ -n $pid ]] && break; sleep 0.1; done
    [[ -n $pid ]] || { cat "$out.log"; fail "$1: rank 1 not found"; }
    t0=$(date +%s)
    kill "-$2" "$pid"
    local rc=0
    for _ in $(seq 600); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$job" 2>/dev/null; then
        kill -9 "$job" "$pid" 2>/dev/null || true
        cat "$out.log"; fail "$1: the run was still going 60 s after rank 1's SIG$2"
    fi
    wait "$job" || rc=$?
    kill -9 "$pid" 2>/dev/null || true
    echo "$rc" > "$out.rc"
    echo $(( $(date +%s) - t0 )) > "$out.s"
}
fault killed KILL
[[ $(cat "$work/killed.rc") -ne 0 ]] || fail "a killed rank: exit status 0"
grep -q "rank 1" "$work/killed.log" || { cat "$work/killed.log"; fail "killed rank not named"; }
fault hung STOP
[[ $(cat "$work/hung.rc") -ne 0 ]] || fail "a hung rank: exit status 0"
grep -Eq "rank 1 (did not reach|reached .* does not respond)" "$work/hung.log" || { cat "$work/hung.log"; fail "hung rank not named"; }
# The checkpoint left behind is whole: one process resumes and finishes.
for name in killed hung; do
    done_epochs=$(grep -c "^epoch [0-9]*/500  train loss" "$work/$name.log" || true)
    "$train" -q --resume "$work/$name/last.safetensors" --epochs $((done_epochs + 2)) \
        --out "$work/$name-re" \
        > "$work/$name-re.log" 2>&1 || { cat "$work/$name-re.log"; fail "resume after $name"; }
    [[ -f $work/$name-re/last.safetensors ]] || fail "resume after $name: no checkpoint"
done
echo "mpi: 2 and 3 ranks match one process, 2 ranks match 2 replicas, --sync-bn matches;" \
     "resumed on 3 ranks; killed rank stopped the run in $(cat "$work/killed.s") s," \
     "hung rank in $(cat "$work/hung.s") s; both resumed"
