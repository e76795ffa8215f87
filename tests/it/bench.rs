//! `facefind bench`: generator, data-set format, ground truth, `bench ann`.
use std::path::Path;

use facefind::bench::BenchError;
use facefind::bench::ann::{self, AnnArgs};
use facefind::bench::data::{self, Dataset, Meta};
use facefind::bench::stats::FaceStats;
use facefind::bench::synth::{self, GenArgs};

pub(crate) fn make_set(dir: &Path, n: usize, nq: usize, dim: usize, seed: u64) -> Meta {
    synth::generate(&GenArgs {
        n,
        nq,
        dim,
        out: dir.to_owned(),
        seed,
        skip_gt: false,
    })
    .unwrap()
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

const FILES: [&str; 6] = [
    data::META,
    data::BASE,
    data::QUERIES,
    data::GT,
    data::BASE_IDS,
    data::QUERY_IDS,
];

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    make_set(a.path(), 3000, 50, 64, 9);
    make_set(b.path(), 3000, 50, 64, 9);
    make_set(c.path(), 3000, 50, 64, 10);
    for f in FILES {
        assert_eq!(
            read(a.path(), f),
            read(b.path(), f),
            "{f} differs under the same seed"
        );
    }
    assert_ne!(read(a.path(), data::BASE), read(c.path(), data::BASE));
}

#[test]
fn files_round_trip_and_rows_are_unit_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_set(dir.path(), 1500, 40, 48, 3);
    assert_eq!(
        meta,
        Meta {
            n: 1500,
            nq: 40,
            dim: 48,
            k_gt: 100,
            metric: "ip".into()
        }
    );
    let set = Dataset::open(dir.path()).unwrap();
    assert_eq!(set.meta, meta);
    let base = set.base.as_slice();
    // Byte layout: little-endian f32, row-major, no header.
    let raw = read(dir.path(), data::BASE);
    assert_eq!(raw.len(), 1500 * 48 * 4);
    assert_eq!(
        f32::from_le_bytes(raw[4 * 49..4 * 50].try_into().unwrap()),
        base[49]
    );
    for row in base
        .chunks_exact(48)
        .chain(set.queries.as_slice().chunks_exact(48))
    {
        let norm: f32 = row.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4, "norm² {norm}");
    }
    let ids = set.identities().unwrap().expect("identity files");
    assert_eq!((ids.base.len(), ids.queries.len()), (1500, 40));
    // Queries are new photos of identities that the base holds.
    assert!(ids.queries.iter().all(|q| ids.base.contains(q)));
    assert_eq!(set.ground_truth().unwrap().len(), 40 * 100);
}

#[test]
fn ground_truth_equals_a_naive_reference() {
    let dir = tempfile::tempdir().unwrap();
    let meta = make_set(dir.path(), 2000, 25, 32, 5);
    let set = Dataset::open(dir.path()).unwrap();
    let gt = set.ground_truth().unwrap();
    let (base, queries) = (set.base.as_slice(), set.queries.as_slice());
    for (q, query) in queries.chunks_exact(32).enumerate() {
        let mut scored: Vec<(f64, usize)> = base
            .chunks_exact(32)
            .enumerate()
            .map(|(r, row)| {
                (
                    row.iter()
                        .zip(query)
                        .map(|(a, b)| f64::from(*a) * f64::from(*b))
                        .sum(),
                    r,
                )
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (j, &(score, row)) in scored.iter().take(meta.k_gt).enumerate() {
            let got = gt[q * meta.k_gt + j] as usize;
            // Equal up to ties in f32.
            let got_score: f64 = base[got * 32..(got + 1) * 32]
                .iter()
                .zip(query)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            assert!(
                got == row || (got_score - score).abs() < 1e-6,
                "query {q} rank {j}: {got} vs {row}"
            );
        }
    }
}

#[test]
fn generated_cosines_match_the_measured_faces() {
    let stats = FaceStats::sface().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for dim in [128, 512] {
        synth::generate(&GenArgs {
            n: 20_000,
            nq: 1,
            dim,
            out: dir.path().to_owned(),
            seed: 1,
            skip_gt: true,
        })
        .unwrap();
        let base = data::F32File::open(&dir.path().join(data::BASE), 20_000, dim).unwrap();
        let ids = data::read_i32s(&dir.path().join(data::BASE_IDS), 20_000, 1).unwrap();
        let (same, diff) = synth::pair_cosines(base.as_slice(), &ids, dim, 50_000, 7);
        let same = synth::summarise(&same, &stats.same_identity_cosine);
        let diff = synth::summarise(&diff, &stats.different_identity_cosine);
        let (ms, md) = (
            &stats.same_identity_cosine,
            &stats.different_identity_cosine,
        );
        assert!(
            (same.mean - ms.mean).abs() < 0.04,
            "dim {dim}: same mean {} vs {}",
            same.mean,
            ms.mean
        );
        assert!(
            (diff.mean - md.mean).abs() < 0.02,
            "dim {dim}: diff mean {} vs {}",
            diff.mean,
            md.mean
        );
        assert!(
            same.mean - diff.mean > 0.5,
            "dim {dim}: identities must separate"
        );
        if dim == 128 {
            assert!(
                (same.std - ms.std).abs() < 0.02,
                "same std {} vs {}",
                same.std,
                ms.std
            );
            assert!(
                (diff.std - md.std).abs() < 0.02,
                "diff std {} vs {}",
                diff.std,
                md.std
            );
        }
    }
}

pub(crate) fn ann_args(dir: &Path, index: &str) -> AnnArgs {
    AnnArgs {
        data: dir.to_owned(),
        index: index.into(),
        nprobe: vec![1, 8],
        k_factor: 4,
        threads: None,
        single_queries: 10,
        json: true,
        on_disk: false,
        cold_queries: 3,
        churn_batch: 0,
        paired_rounds: 0,
        keep_index: None,
    }
}

#[test]
fn bench_ann_keeps_the_built_index_and_reuses_it() {
    let dir = tempfile::tempdir().unwrap();
    make_set(dir.path(), 2000, 20, 16, 4);
    let kept = dir.path().join("kept.ffx");
    let args = AnnArgs {
        keep_index: Some(kept.clone()),
        ..ann_args(dir.path(), "IVF8,PQ4x4fs,RFlat")
    };
    let first = ann::measure(&args).unwrap();
    assert!(kept.exists());
    let again = ann::measure(&args).unwrap();
    assert_eq!((again.train_s, again.add_s), (first.train_s, first.add_s));
    assert_eq!(again.index_bytes, first.index_bytes);
    for (a, b) in first.runs.iter().zip(&again.runs) {
        assert_eq!(a.recall_at_10, b.recall_at_10);
    }
    let other = AnnArgs {
        index: "IVF8,PQ8x4fs,RFlat".into(),
        ..args
    };
    let e = err_text(ann::measure(&other).err().unwrap());
    assert!(
        e.contains("--keep-index") && e.contains("IVF8,PQ4x4fs,RFlat"),
        "{e}"
    );
}

#[test]
fn bench_ann_flat_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    make_set(dir.path(), 3000, 30, 32, 2);
    let report = ann::measure(&ann_args(dir.path(), "Flat")).unwrap();
    assert_eq!((report.n, report.dim), (3000, 32));
    assert_eq!(report.runs.len(), 1, "Flat has no nprobe sweep");
    let run = &report.runs[0];
    assert_eq!(run.recall_at_10, 1.0);
    assert_eq!(run.person_recall, Some(1.0));
    assert!(run.qps_batch > 0.0 && run.qps_single > 0.0);
    assert!(report.index_bytes >= 3000 * 32 * 4);
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "index",
        "n",
        "dim",
        "train_s",
        "add_s",
        "index_bytes",
        "peak_rss_bytes",
        "runs",
    ] {
        assert!(
            json.get(key).is_some(),
            "{key} missing from the JSON report"
        );
    }
    for key in [
        "nprobe",
        "recall_at_10",
        "person_recall",
        "qps_batch",
        "qps_single",
    ] {
        assert!(json["runs"][0].get(key).is_some(), "runs[].{key} missing");
    }
}

#[test]
fn bench_ann_ivf_sweeps_nprobe() {
    let dir = tempfile::tempdir().unwrap();
    make_set(dir.path(), 4000, 30, 32, 4);
    let report = ann::measure(&ann_args(dir.path(), "IVF16,Flat")).unwrap();
    let recalls: Vec<f64> = report.runs.iter().map(|r| r.recall_at_10).collect();
    assert_eq!(
        report.runs.iter().map(|r| r.nprobe).collect::<Vec<_>>(),
        [1, 8]
    );
    assert!(recalls[1] >= recalls[0] && recalls[1] > 0.8, "{recalls:?}");
}

fn err_text(e: BenchError) -> String {
    e.to_string()
}

#[test]
fn bad_data_sets_are_refused_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    make_set(dir.path(), 500, 10, 16, 1);
    let args = ann_args(dir.path(), "Flat");

    // A truncated (ragged) base file.
    let base = dir.path().join(data::BASE);
    let bytes = std::fs::read(&base).unwrap();
    std::fs::write(&base, &bytes[..bytes.len() - 6]).unwrap();
    let e = err_text(ann::measure(&args).err().unwrap());
    assert!(
        e.contains("base.f32") && e.contains(&(500 * 16 * 4).to_string()),
        "{e}"
    );
    std::fs::write(&base, &bytes).unwrap();

    // A missing query file.
    let queries = dir.path().join(data::QUERIES);
    let qbytes = std::fs::read(&queries).unwrap();
    std::fs::remove_file(&queries).unwrap();
    let e = err_text(ann::measure(&args).err().unwrap());
    assert!(
        e.contains("queries.f32")
            && e.contains("missing")
            && e.contains(&(10 * 16 * 4).to_string()),
        "{e}"
    );
    std::fs::write(&queries, &qbytes).unwrap();

    // Ground truth pointing outside the base.
    let gt = dir.path().join(data::GT);
    let gbytes = std::fs::read(&gt).unwrap();
    let mut bad = gbytes.clone();
    bad[..4].copy_from_slice(&500i32.to_le_bytes());
    std::fs::write(&gt, &bad).unwrap();
    let e = err_text(ann::measure(&args).err().unwrap());
    assert!(e.contains("gt.i32") && e.contains("500"), "{e}");
    std::fs::write(&gt, &gbytes).unwrap();

    // One identity file without the other.
    let qids = dir.path().join(data::QUERY_IDS);
    let ibytes = std::fs::read(&qids).unwrap();
    std::fs::remove_file(&qids).unwrap();
    let e = err_text(ann::measure(&args).err().unwrap());
    assert!(e.contains("query_ids.i32"), "{e}");
    std::fs::write(&qids, &ibytes).unwrap();

    // A bad metric, then unreadable JSON.
    let meta = dir.path().join(data::META);
    std::fs::write(
        &meta,
        r#"{"n":500,"nq":10,"dim":16,"k_gt":100,"metric":"cos"}"#,
    )
    .unwrap();
    assert!(err_text(ann::measure(&args).err().unwrap()).contains("metric"));
    std::fs::write(&meta, "{").unwrap();
    assert!(err_text(ann::measure(&args).err().unwrap()).contains("meta.json"));

    // A bad sweep and a bad spec.
    make_set(dir.path(), 500, 10, 16, 1);
    let e = err_text(
        ann::measure(&AnnArgs {
            nprobe: vec![0],
            ..ann_args(dir.path(), "IVF4,Flat")
        })
        .err()
        .unwrap(),
    );
    assert!(e.contains("--nprobe"), "{e}");
    assert!(ann::measure(&ann_args(dir.path(), "IVFx,Flat")).is_err());
}

#[test]
fn gen_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let args = |n, nq, dim| GenArgs {
        n,
        nq,
        dim,
        out: dir.path().to_owned(),
        seed: 1,
        skip_gt: false,
    };
    assert!(matches!(
        synth::generate(&args(0, 5, 16)),
        Err(BenchError::Param(_))
    ));
    assert!(matches!(
        synth::generate(&args(5, 0, 16)),
        Err(BenchError::Param(_))
    ));
    assert!(matches!(
        synth::generate(&args(5, 5, 1)),
        Err(BenchError::Param(_))
    ));
}
