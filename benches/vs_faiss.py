#!/usr/bin/env python3
"""FAISS and hnswlib on a `facefind bench gen` data set, measured exactly as
`facefind bench ann` measures facefind, and the comparison table.

    vs_faiss.py faiss --data DIR --index SPEC --nprobe 1,2,4 [--k-factor N] [--threads 2]
    vs_faiss.py hnsw  --data DIR [--m 32] [--ef-construction 100] --ef 16,32,64 [--threads 2]
    vs_faiss.py table RESULTS.jsonl [--sweeps] [--recall 0.95]

`faiss` and `hnsw` print one JSON object in `facefind bench ann --json`'s
shape; `table` reads such objects (one a line, each with "library" and
"data" added by vs_faiss.sh) and prints one table with the ratios.

Definitions shared with facefind (src/bench/ann.rs):
- recall_at_10: share of the true top-10 found in the returned top-10;
- person_recall: of a query's same-identity rows among its true top-k_gt,
  the share a top-k_gt search returns (mean over queries that have any);
- qps_batch: all queries in one call, k = 10; qps_single: the first
  --single-queries queries one call each, k = 10;
- the index is saved and loaded back before searching; peak_rss_bytes is the
  peak while searching (reset via /proc/self/clear_refs after the build, base
  vectors dropped), build_peak_rss_bytes the peak before.
"""

import argparse
import gc
import json
import os
import sys
import tempfile
import time

import numpy as np

K = 10


def rss(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return None


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Data:
    def __init__(self, d):
        meta = json.load(open(os.path.join(d, "meta.json")))
        self.meta = meta
        n, nq, dim, kg = meta["n"], meta["nq"], meta["dim"], meta["k_gt"]

        def load(name, dtype, shape):
            path = os.path.join(d, name)
            a = np.fromfile(path, dtype=dtype)
            if a.size != int(np.prod(shape)):
                sys.exit(f"{path}: {a.size * 4} bytes, meta.json says {shape} = {np.prod(shape) * 4}")
            return a.reshape(shape)

        self.base = load("base.f32", "<f4", (n, dim))
        self.queries = load("queries.f32", "<f4", (nq, dim))
        self.gt = load("gt.i32", "<i4", (nq, kg))
        self.same = None
        if os.path.exists(os.path.join(d, "base_ids.i32")):
            base_ids = load("base_ids.i32", "<i4", (n,))
            query_ids = load("query_ids.i32", "<i4", (nq,))
            self.same = [set(row[base_ids[row] == q].tolist()) for row, q in zip(self.gt, query_ids)]

    def drop_base(self):
        self.base = None
        gc.collect()


def recall_at_10(ids, gt):
    return float(np.mean([len(set(i[:K]) & set(g[:K])) / K for i, g in zip(ids, gt)]))


def person_recall(ids, same):
    if same is None:
        return None
    shares = [len(s & set(i.tolist())) / len(s) for i, s in zip(ids, same) if s]
    return float(np.mean(shares)) if shares else None


def measure(search, data, single):
    """One sweep point: person recall (untimed, also the warm-up), batch QPS, single QPS."""
    q = data.queries
    _, ids_gt = search(q, data.meta["k_gt"])
    t = time.perf_counter()
    _, ids = search(q, K)
    qps_batch = len(q) / (time.perf_counter() - t)
    ns = min(single, len(q))
    t = time.perf_counter()
    for i in range(ns):
        search(q[i : i + 1], K)
    qps_single = ns / (time.perf_counter() - t)
    return {
        "recall_at_10": recall_at_10(ids, data.gt),
        "person_recall": person_recall(ids_gt, data.same),
        "qps_batch": qps_batch,
        "qps_single": qps_single,
    }


def run_faiss(args):
    import faiss

    faiss.omp_set_num_threads(args.threads)
    data = Data(args.data)
    n, dim = data.base.shape
    metric = faiss.METRIC_INNER_PRODUCT if data.meta["metric"] == "ip" else faiss.METRIC_L2
    index = faiss.index_factory(dim, args.index, metric)
    t = time.perf_counter()
    index.train(data.base)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    index.add(data.base)
    add_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        faiss.write_index(index, path)
        index_bytes = os.path.getsize(path)
        del index
        data.drop_base()
        build_peak = rss("VmHWM:")
        reset_peak()
        index = faiss.read_index(path)
    ps = faiss.ParameterSpace()
    is_ivf = "IVF" in args.index
    if "RFlat" in args.index or "Refine" in args.index:
        # An IndexRefine: k_factor is its own field. The downcast view does not
        # own the index, so `index` stays referenced beside it.
        refine = faiss.downcast_index(index)
        refine.k_factor = args.k_factor
    runs = []
    for nprobe in args.nprobe if is_ivf else [0]:
        if is_ivf:
            ps.set_index_parameter(index, "nprobe", nprobe)
        run = {"nprobe": nprobe, **measure(index.search, data, args.single_queries)}
        runs.append(run)
        print(f"faiss {args.index} {run}", file=sys.stderr)
    return {
        "index": args.index,
        "n": n,
        "dim": dim,
        "train_s": train_s,
        "add_s": add_s,
        "index_bytes": index_bytes,
        "peak_rss_bytes": rss("VmHWM:"),
        "build_peak_rss_bytes": build_peak,
        "k_factor": args.k_factor,
        "runs": runs,
    }


def run_hnsw(args):
    import hnswlib

    data = Data(args.data)
    n, dim = data.base.shape
    space = "ip" if data.meta["metric"] == "ip" else "l2"
    index = hnswlib.Index(space=space, dim=dim)
    index.init_index(max_elements=n, ef_construction=args.ef_construction, M=args.m, random_seed=100)
    index.set_num_threads(args.threads)
    t = time.perf_counter()
    index.add_items(data.base, np.arange(n))
    add_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.hnsw")
        index.save_index(path)
        index_bytes = os.path.getsize(path)
        del index
        data.drop_base()
        build_peak = rss("VmHWM:")
        reset_peak()
        index = hnswlib.Index(space=space, dim=dim)
        index.load_index(path, max_elements=n)
    index.set_num_threads(args.threads)
    runs = []
    for ef in args.ef:
        index.set_ef(ef)

        def search(q, k):
            labels, dist = index.knn_query(q, k=k)
            return dist, labels

        run = {"nprobe": ef, **measure(search, data, args.single_queries)}
        runs.append(run)
        print(f"hnswlib ef={ef} {run}", file=sys.stderr)
    return {
        "index": f"HNSW{args.m},efC{args.ef_construction}",
        "n": n,
        "dim": dim,
        "train_s": 0.0,
        "add_s": add_s,
        "index_bytes": index_bytes,
        "peak_rss_bytes": rss("VmHWM:"),
        "build_peak_rss_bytes": build_peak,
        "runs": runs,
    }


def best(report, key, floor):
    ok = [r for r in report["runs"] if r["recall_at_10"] >= floor]
    return max(ok, key=lambda r: r[key]) if ok else None


def fmt_qps(run, key):
    if run is None:
        return "-"
    return f"{run[key]:,.0f}" + (f" ({run['nprobe']})" if run["nprobe"] else "")


def latest_reports(path):
    """The reports of a results file, the latest per data set, library and spec."""
    latest = {}
    for line in open(path):
        if line.strip():
            r = json.loads(line)
            latest[(r["data"], r["library"], r["index"])] = r
    return list(latest.values())


def table(args):
    reports = latest_reports(args.results)
    floor = args.recall
    by_data = {}
    for r in reports:
        by_data.setdefault(r["data"], []).append(r)
    head = (
        f"| data | library | index | recall@10 | person_recall | QPS batch (param) | QPS single (param) "
        f"| batch ×FAISS best | single ×FAISS best | ×FAISS same spec (batch / single) "
        f"| train+add s | bytes/vec | peak RSS MiB | load |"
    )
    print(f"Best configuration reaching recall@10 >= {floor} (param: nprobe, or ef for hnswlib); "
          f"×FAISS best = QPS / FAISS's best QPS over all its specs at that recall; "
          f"×FAISS same spec = facefind / FAISS with the same spec string, each at its best setting.\n")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, reps in by_data.items():
        faiss_reps = [r for r in reps if r["library"] == "faiss"]
        fb = {k: max((best(r, k, floor) or {k: 0})[k] for r in faiss_reps) if faiss_reps else 0
              for k in ("qps_batch", "qps_single")}
        for r in reps:
            b, s = best(r, "qps_batch", floor), best(r, "qps_single", floor)
            shown = b or max(r["runs"], key=lambda x: x["recall_at_10"])
            ratio = lambda run, k: "-" if run is None or not fb[k] else f"{run[k] / fb[k]:.2f}"
            twin = next((f for f in faiss_reps if f["index"] == r["index"]), None)
            if r["library"] == "facefind" and twin:
                tb, ts = best(twin, "qps_batch", floor), best(twin, "qps_single", floor)
                same_spec = (
                    f"{b['qps_batch'] / tb['qps_batch']:.2f} / {s['qps_single'] / ts['qps_single']:.2f}"
                    if b and s and tb and ts
                    else "-"
                )
            else:
                same_spec = ""
            pr = shown["person_recall"]
            print(
                f"| {name} | {r['library']} | {r['index']} | {shown['recall_at_10']:.3f} "
                f"| {'-' if pr is None else f'{pr:.3f}'} | {fmt_qps(b, 'qps_batch')} | {fmt_qps(s, 'qps_single')} "
                f"| {ratio(b, 'qps_batch')} | {ratio(s, 'qps_single')} | {same_spec} | {r['train_s'] + r['add_s']:.1f} "
                f"| {r['index_bytes'] / r['n']:.0f} | {r['peak_rss_bytes'] / 2**20:.0f} | {r.get('load', '-')} |"
            )


def sweeps(args):
    """Every sweep point of the latest report per library and spec."""
    print("| data | library | index | nprobe / ef | recall@10 | person_recall | QPS batch | QPS single |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in latest_reports(args.results):
        for x in r["runs"]:
            pr = "-" if x["person_recall"] is None else f"{x['person_recall']:.3f}"
            print(
                f"| {r['data']} | {r['library']} | {r['index']} | {x['nprobe'] or '-'} | {x['recall_at_10']:.3f} "
                f"| {pr} | {x['qps_batch']:,.0f} | {x['qps_single']:,.0f} |"
            )


def ints(s):
    return [int(v) for v in s.split(",") if v]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("faiss")
    f.add_argument("--index", required=True)
    f.add_argument("--nprobe", type=ints, default=[1, 2, 4, 8, 16, 32, 64, 128])
    f.add_argument("--k-factor", type=int, default=4)
    h = sub.add_parser("hnsw")
    h.add_argument("--m", type=int, default=32)
    h.add_argument("--ef-construction", type=int, default=100)
    h.add_argument("--ef", type=ints, default=[16, 32, 64, 128, 256])
    for p in (f, h):
        p.add_argument("--data", required=True)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--single-queries", type=int, default=1000)
    t = sub.add_parser("table")
    t.add_argument("results")
    t.add_argument("--recall", type=float, default=0.95)
    t.add_argument("--sweeps", action="store_true", help="every sweep point instead")
    args = ap.parse_args()
    if args.cmd == "table":
        sweeps(args) if args.sweeps else table(args)
    else:
        print(json.dumps(run_faiss(args) if args.cmd == "faiss" else run_hnsw(args)))


if __name__ == "__main__":
    main()
