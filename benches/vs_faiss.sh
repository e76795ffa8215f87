#!/usr/bin/env bash
# facefind vs FAISS vs hnswlib on one `facefind bench gen` data set, 2 threads.
#
#   benches/vs_faiss.sh DIR SPEC [SPEC ...]
#   e.g. benches/vs_faiss.sh /work/bench-data/100k-128 Flat IVF1024,PQ64x4fs,RFlat
#
# Installs faiss-cpu==1.15.1 and hnswlib==0.8.0 into a throw-away venv
# ($VENV, default /tmp/facefind-vs-faiss), builds facefind in release mode,
# runs each SPEC through `facefind bench ann --json` and FAISS (same nprobe
# sweep, same k_factor), hnswlib once (M=32, an ef sweep), appends every
# report as one JSON line to $RESULTS (default DIR/results.jsonl) and prints
# the comparison table over all reports there (the latest per library, data
# set and spec). Knobs (environment):
#   NPROBE=1,2,4,...   K_FACTOR=32   THREADS=2   SINGLE=1000 (queries timed one by one)
#   EF=16,32,64,128,256   EF_CONSTRUCTION=100   HNSW_M=32
#   LIBS="facefind faiss hnsw" (which to run; e.g. LIBS=facefind re-measures only facefind)
#   OMP_WAIT_POLICY=PASSIVE (default here): on a shared, oversubscribed machine
#   OpenMP's spinning barriers cut FAISS's single-query QPS ~15x (measured at
#   load 8 on 2 cores: IVF1024,PQ64x4fs,RFlat 136 -> 2,056 QPS); passive
#   waiting is the fair setting there. Set OMP_WAIT_POLICY=ACTIVE on an idle machine.
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

[ $# -ge 2 ] || { sed -n '2,21p' "$0"; exit 2; }
DATA=$(cd "$1" && pwd); shift
NAME=$(basename "$DATA")
REPO=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-/tmp/facefind-vs-faiss}
RESULTS=${RESULTS:-$DATA/results.jsonl}
NPROBE=${NPROBE:-1,2,4,8,16,32,64,128,256}
K_FACTOR=${K_FACTOR:-32}
THREADS=${THREADS:-2}
SINGLE=${SINGLE:-1000}
EF=${EF:-16,32,64,128,256}
EF_CONSTRUCTION=${EF_CONSTRUCTION:-100}
HNSW_M=${HNSW_M:-32}
LIBS=${LIBS:-facefind faiss hnsw}

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet numpy faiss-cpu==1.15.1 hnswlib==0.8.0 \
        || echo "warning: pip install failed (hnswlib builds from source and needs g++); going on" >&2
fi
PY="$VENV/bin/python"
HELPER="$REPO/benches/vs_faiss.py"

# Adds which library, which data set and the machine's load to a report line.
tag() {
    "$PY" -c 'import json, sys
r = json.loads(sys.stdin.read())
r.update(library=sys.argv[1], data=sys.argv[2], load=float(sys.argv[3]), k_factor=int(sys.argv[4]))
print(json.dumps(r))' "$1" "$NAME" "$(cut -d' ' -f1 /proc/loadavg)" "$K_FACTOR" >> "$RESULTS"
}

has() { [[ " $LIBS " == *" $1 "* ]]; }

if has facefind; then
    (cd "$REPO" && cargo build --release --quiet)
fi
echo "# $NAME: $(uptime)" >&2
for spec in "$@"; do
    if has facefind; then
        echo "## facefind $spec (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        "$REPO/target/release/facefind" bench ann --data "$DATA" --index "$spec" --nprobe "$NPROBE" \
            --k-factor "$K_FACTOR" --threads "$THREADS" --single-queries "$SINGLE" --json | tag facefind
    fi
    if has faiss; then
        echo "## faiss $spec (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        "$PY" "$HELPER" faiss --data "$DATA" --index "$spec" --nprobe "$NPROBE" --k-factor "$K_FACTOR" \
            --threads "$THREADS" --single-queries "$SINGLE" | tag faiss
    fi
done
if has hnsw; then
    echo "## hnswlib M=$HNSW_M (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    if "$PY" -c 'import hnswlib' 2>/dev/null; then
        "$PY" "$HELPER" hnsw --data "$DATA" --m "$HNSW_M" --ef-construction "$EF_CONSTRUCTION" --ef "$EF" \
            --threads "$THREADS" --single-queries "$SINGLE" | tag hnswlib
    else
        echo "hnswlib is not installed in $VENV: skipped" >&2
    fi
fi
"$PY" "$HELPER" table "$RESULTS"
