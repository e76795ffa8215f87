#!/usr/bin/env python3
"""Photos per second, decode to embeddings, facefind vs OpenCV's own YuNet + SFace pipeline,
on the same photos and the same number of threads. Prints a table.

    cargo build --release
    .venv/bin/python benches/faces_vs_opencv.py [--lfw 500] [--threads 2]

Photos: a seeded sample of LFW (250×250) and all of deepface (large), read from
../shared/data/faces. Both pipelines scale a photo to at most 640 on its long side, detect
(score 0.8, NMS 0.3), align every face and embed it; facefind through its CLI
(`facefind faces --json`, model loading measured apart and left out), OpenCV in-process
(cv2.FaceDetectorYN + cv2.FaceRecognizerSF on the same model files; cv2.setNumThreads).
facefind runs without and with its tiled second pass, which only large photos get; a third
set, "mosaic", packs the deepface photos 6×6 into 2560×1920 group shots (made in a temporary
directory, never kept), where faces are small and the tiled pass earns its keep.
Each figure is the best of --repeat runs (the build machine is shared).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "faces"
MODELS = ROOT / "models"


def photo_sets(lfw_count):
    lines = (DATA / "lfw" / "labels.csv").read_text().splitlines()[1:]
    lfw = sorted(DATA / "lfw" / line.split(",")[0] for line in lines)
    lfw = random.Random(7).sample(lfw, min(lfw_count, len(lfw)))
    deep = sorted(DATA / "deepface" / line.split(",")[0] for line in (DATA / "deepface" / "labels.csv").read_text().splitlines()[1:])
    return {"LFW": [str(p) for p in lfw], "deepface": [str(p) for p in deep]}


def mosaics(photos, directory, side=6, size=(2560, 1920)):
    """Group shots: `side`×`side` photos each fitted into one cell of a `size` canvas."""
    cell_w, cell_h = size[0] // side, size[1] // side
    out = []
    for start in range(0, len(photos), side * side):
        canvas = np.zeros((size[1], size[0], 3), np.uint8)
        for k, path in enumerate(photos[start:start + side * side]):
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            s = min(cell_w / img.shape[1], cell_h / img.shape[0])
            img = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
            y, x = (k // side) * cell_h, (k % side) * cell_w
            canvas[y:y + img.shape[0], x:x + img.shape[1]] = img
        path = str(Path(directory) / f"mosaic{start // (side * side)}.jpg")
        cv2.imwrite(path, canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])
        out.append(path)
    return out


def facefind(binary, photos, threads, tiled):
    """(seconds without model loading, faces found) for the CLI over `photos`."""
    with tempfile.TemporaryDirectory() as data_dir:
        settings = {"faces": {"intra_threads": threads, "tiled_pass": tiled}}
        Path(data_dir, "settings.json").write_text(json.dumps(settings))
        env = dict(os.environ, FACEFIND_DATA_DIR=data_dir)
        env.setdefault("ORT_DYLIB_PATH", str(ROOT / ".ort" / "libonnxruntime.so.1.31.1"))

        def run(paths):
            start = time.perf_counter()
            out = subprocess.run([binary, "faces", "--json", *paths], env=env, check=True, capture_output=True, text=True).stdout
            return time.perf_counter() - start, [json.loads(line) for line in out.splitlines()]

        # Start-up (library and model loading) on one small photo, best of three.
        startup = min(run([str(ROOT / "tests" / "fixtures" / "faces" / "upright.jpg")])[0] for _ in range(3))
        seconds, reports = run(photos)
        return seconds - startup, sum(len(r["faces"]) for r in reports)


def best(repeat, measure):
    """The fastest of `repeat` runs of `measure() -> (seconds, faces)`."""
    return min((measure() for _ in range(repeat)), key=lambda r: r[0])


def opencv(photos, threads):
    cv2.setNumThreads(threads)
    detector = cv2.FaceDetectorYN.create(str(MODELS / "face_detection_yunet_2023mar.onnx"), "", (640, 640), 0.8, 0.3, 5000)
    recognizer = cv2.FaceRecognizerSF.create(str(MODELS / "face_recognition_sface_2021dec.onnx"), "")
    found = 0
    start = time.perf_counter()
    for path in photos:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        scale = min(1.0, 640.0 / max(w, h))
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        small = img if (rw, rh) == (w, h) else cv2.resize(img, (rw, rh), interpolation=cv2.INTER_LINEAR)
        detector.setInputSize((rw, rh))
        _, faces = detector.detect(small)
        for row in [] if faces is None else faces:
            row = row.copy()
            row[0:14:2] *= w / rw
            row[1:14:2] *= h / rh
            feature = recognizer.feature(recognizer.alignCrop(img, row))
            feature /= np.linalg.norm(feature)
            found += 1
    return time.perf_counter() - start, found


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--lfw", type=int, default=500, help="LFW photos in the sample")
    args.add_argument("--threads", type=int, default=2)
    args.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is kept")
    args.add_argument("--binary", default=str(ROOT / "target" / "release" / "facefind"))
    opts = args.parse_args()
    if not DATA.is_dir():
        sys.exit(f"skipped: {DATA} is absent")
    rows = []
    scratch = tempfile.TemporaryDirectory()
    sets = photo_sets(opts.lfw)
    sets["mosaic"] = mosaics(sets["deepface"], scratch.name)
    for name, photos in sets.items():
        cv_s, cv_faces = best(opts.repeat, lambda: opencv(photos, opts.threads))
        ff_s, ff_faces = best(opts.repeat, lambda: facefind(opts.binary, photos, opts.threads, tiled=False))
        tiled_s, tiled_faces = best(opts.repeat, lambda: facefind(opts.binary, photos, opts.threads, tiled=True))
        rows.append((name, len(photos), cv_s, cv_faces, ff_s, ff_faces, tiled_s, tiled_faces))
    load = os.getloadavg()[0]
    print(f"\n{opts.threads} threads, load average {load:.1f} on {os.cpu_count()} cores\n")
    print("| photos | n | OpenCV photos/s | OpenCV faces | facefind photos/s | speed-up | facefind faces | facefind + tiles photos/s | faces with tiles |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, n, cv_s, cv_f, ff_s, ff_f, t_s, t_f in rows:
        print(f"| {name} | {n} | {n / cv_s:.1f} | {cv_f} | {n / ff_s:.1f} | {cv_s / ff_s:.2f}× | {ff_f} | {n / t_s:.1f} | {t_f} |")


if __name__ == "__main__":
    main()
