//! Index storage: the same suite on in-memory and on-disk lists, search
//! equal to in-memory, incremental add and remove, merge, compaction, the
//! kill test (SIGKILL at random points), and typed errors on damaged files.
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use facefind::bench::churn;
use facefind::compute::Metric;
use facefind::compute::rng::Rng;
use facefind::error::IndexError;
use facefind::index::invlists::{CodeLayout, InvertedLists, MemoryLists, live_entries};
use facefind::index::ivf::IvfIndex;
use facefind::index::ondisk::{self, OnDiskLists};
use facefind::index::{
    JobControl, SearchParams, VectorIndex, live_ids, load_index, open_index_dir,
};
use facefind::library::catalog::{Catalog, FaceRow, PhotoInfo};
use facefind::library::scan::scan;
use facefind::library::vectors::{Catchup, Policy, VectorStore};

use super::index::{build, clustered};

const DIM: usize = 32;
/// The dimension of face embeddings.
const DIM_F: usize = facefind::faces::DIM;

/// One stored entry: `(id, code, vector)`.
type Entry = (u64, Vec<u8>, Vec<u8>);

/// Entries of every list, sorted by id.
fn contents(lists: &dyn InvertedLists) -> Vec<Vec<Entry>> {
    let (cs, vb) = (lists.layout().code_size(), lists.vector_bytes());
    (0..lists.nlist())
        .map(|l| {
            let e = live_entries(lists, l);
            let mut rows: Vec<_> = (0..e.ids.len())
                .map(|i| {
                    (
                        e.ids[i],
                        e.codes[i * cs..(i + 1) * cs].to_vec(),
                        e.vectors[i * vb..(i + 1) * vb].to_vec(),
                    )
                })
                .collect();
            rows.sort();
            rows
        })
        .collect()
}

/// One scenario on any lists: appends in pieces, removes, appends again.
fn exercise(lists: &mut dyn InvertedLists, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let (cs, vb) = (lists.layout().code_size(), lists.vector_bytes());
    let mut next = 0u64;
    let mut live = Vec::new();
    for round in 0..6 {
        for list in 0..lists.nlist() {
            let n = rng.below(70);
            let ids: Vec<u64> = (next..next + n as u64).collect();
            next += n as u64;
            let codes: Vec<u8> = (0..n * cs).map(|_| rng.below(16) as u8).collect();
            let vectors: Vec<u8> = (0..n * vb).map(|_| rng.below(256) as u8).collect();
            lists.append(list, &codes, &ids, &vectors).unwrap();
            live.extend(ids);
        }
        if round % 2 == 1 {
            rng.shuffle(&mut live);
            let gone: HashSet<u64> = live.drain(..live.len() / 3).collect();
            assert_eq!(lists.remove(&gone).unwrap(), gone.len());
            assert_eq!(
                lists.remove(&gone).unwrap(),
                0,
                "removing twice removes nothing"
            );
        }
        lists.commit().unwrap();
    }
    live.sort_unstable();
    live
}

#[test]
fn memory_and_disk_lists_pass_the_same_suite() {
    for layout in [
        CodeLayout::Flat { code_size: 12 },
        CodeLayout::Packed4 { m: 6 },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut memory = MemoryLists::new(5, layout, 16);
        let mut disk = OnDiskLists::create(dir.path(), 1, "q", 5, layout, 16, 7).unwrap();
        let want = exercise(&mut memory, 3);
        assert_eq!(exercise(&mut disk, 3), want);
        for lists in [&memory as &dyn InvertedLists, &disk] {
            let mut ids = facefind::index::invlists::live_ids(lists);
            ids.sort_unstable();
            assert_eq!(ids, want, "{layout:?}");
        }
        assert_eq!(contents(&memory), contents(&disk), "{layout:?}");
        drop(disk);
        let reopened = OnDiskLists::open(dir.path(), false).unwrap();
        reopened.verify().unwrap();
        assert_eq!(
            contents(&memory),
            contents(&reopened),
            "{layout:?} reopened"
        );
    }
}

fn params(nprobe: usize) -> SearchParams {
    SearchParams {
        nprobe,
        k_factor: 8,
    }
}

#[test]
fn search_on_disk_equals_search_in_memory() {
    let base = clustered(3000, DIM, 40, 0.5, 1);
    let queries = clustered(50, DIM, 40, 0.5, 2);
    for spec in [
        "Flat",
        "IVF16,Flat",
        "IVF16,PQ8,Refine(SQfp16)",
        "IVF16,PQ8x4fs,RFlat",
    ] {
        let memory = build(spec, &base, DIM, Metric::InnerProduct);
        let want = memory.search(&queries, 10, &params(4)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = build(spec, &base, DIM, Metric::InnerProduct);
        let disk = copy.into_dir(&dir.path().join("ix")).unwrap();
        assert_eq!(
            disk.search(&queries, 10, &params(4)).unwrap(),
            want,
            "{spec}"
        );
        // one query at a time takes the other search path
        assert_eq!(
            disk.search(&queries[..DIM], 10, &params(4)).unwrap(),
            memory.search(&queries[..DIM], 10, &params(4)).unwrap(),
            "{spec} single"
        );
        drop(disk);
        for writable in [false, true] {
            let reopened = open_index_dir(&dir.path().join("ix"), writable).unwrap();
            assert_eq!(reopened.spec(), spec);
            assert_eq!(reopened.search(&queries, 10, &params(4)).unwrap(), want);
        }
    }
}

/// The same adds and removes on an in-memory and an on-disk index give the
/// same contents and the same results; removed ids never come back.
#[test]
fn incremental_adds_and_removes_match_memory_and_never_return_removed() {
    let base = clustered(4000, DIM, 40, 0.5, 3);
    let queries = clustered(40, DIM, 40, 0.5, 4);
    for spec in ["Flat", "IVF16,PQ8x4fs,RFlat"] {
        let mut memory = build(spec, &base[..1000 * DIM], DIM, Metric::InnerProduct);
        let dir = tempfile::tempdir().unwrap();
        let mut disk = build(spec, &base[..1000 * DIM], DIM, Metric::InnerProduct)
            .into_dir(dir.path())
            .unwrap();
        let mut rng = Rng::new(5);
        let mut live: Vec<u64> = (0..1000).collect();
        let mut removed = HashSet::new();
        for chunk in 1..8 {
            let rows = 600 + chunk * 400..1000 + chunk * 400;
            let ids: Vec<u64> = rows.clone().map(|r| r as u64).collect();
            let data = &base[rows.start * DIM..rows.end * DIM];
            memory.add(data, &ids).unwrap();
            disk.add(data, &ids).unwrap();
            live.extend(&ids);
            rng.shuffle(&mut live);
            let gone = live.split_off(live.len() - 150);
            assert_eq!(memory.remove(&gone).unwrap(), 150);
            assert_eq!(disk.remove(&gone).unwrap(), 150);
            removed.extend(gone);
            assert_eq!(disk.ntotal(), live.len());
            assert_eq!(contents(memory.lists()), contents(disk.lists()), "{spec}");
            let (m, d) = (
                memory.search(&queries, 20, &params(16)).unwrap(),
                disk.search(&queries, 20, &params(16)).unwrap(),
            );
            assert_eq!(m.ids, d.ids, "{spec} after chunk {chunk}");
            assert!(d.ids.iter().all(|id| !removed.contains(id)));
        }
        drop(disk);
        let reopened = open_index_dir(dir.path(), true).unwrap();
        reopened.lists().as_on_disk().unwrap().verify().unwrap();
        assert_eq!(contents(memory.lists()), contents(reopened.lists()));
        let mut ids = live_ids(reopened.as_ref());
        ids.sort_unstable();
        live.sort_unstable();
        assert_eq!(ids, live);
    }
}

#[test]
fn compaction_rewrites_into_a_new_generation_and_keeps_everything() {
    let base = clustered(3000, DIM, 40, 0.5, 6);
    let dir = tempfile::tempdir().unwrap();
    let mut index = build("IVF8,PQ8x4fs,RFlat", &base, DIM, Metric::InnerProduct);
    let want_before = index.ntotal();
    index = index.into_dir(dir.path()).unwrap();
    let generation = |i: &dyn VectorIndex| i.lists().as_on_disk().unwrap().generation();
    assert_eq!(generation(index.as_ref()), 1);
    let odd: Vec<u64> = (0..3000).filter(|i| i % 2 == 1).collect();
    assert_eq!(index.remove(&odd).unwrap(), odd.len());
    assert_eq!(index.ntotal(), want_before - odd.len());
    let mut ivf = IvfIndex::open_dir(dir.path(), true).unwrap();
    let before = contents(ivf.lists());
    ivf.compact().unwrap();
    assert_eq!(ivf.lists().as_on_disk().unwrap().generation(), 2);
    assert_eq!(contents(ivf.lists()), before);
    assert!((0..ivf.lists().nlist()).all(|l| ivf.lists().dead(l) == 0));
    assert!(!dir.path().join(ondisk::data_name(1)).exists());
    drop(ivf);
    let again = open_index_dir(dir.path(), false).unwrap();
    assert_eq!(contents(again.lists()), before);
}

#[test]
fn parts_built_apart_merge_into_one_mutable_on_disk_index() {
    let base = clustered(3000, DIM, 40, 0.5, 7);
    let queries = clustered(30, DIM, 40, 0.5, 8);
    let whole = build("IVF16,PQ8x4fs,RFlat", &base, DIM, Metric::InnerProduct);
    let mut trained = IvfIndex::new(
        DIM,
        Metric::InnerProduct,
        16,
        facefind::index::factory::ListCodec::Pq4fs { m: 8 },
        facefind::index::factory::Refine::F32,
    );
    trained.train(&base, &JobControl::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let parts: Vec<IvfIndex> = (0..3)
        .map(|p| {
            let mut part = trained.empty_like();
            let rows = p * 1000..(p + 1) * 1000;
            let ids: Vec<u64> = rows.clone().map(|r| r as u64).collect();
            part.add(&base[rows.start * DIM..rows.end * DIM], &ids)
                .unwrap();
            part
        })
        .collect();
    Box::new(trained).into_dir(dir.path()).unwrap();
    let mut merged = IvfIndex::open_dir(dir.path(), true).unwrap();
    for part in &parts {
        merged.merge_from(part).unwrap();
    }
    assert_eq!(contents(merged.lists()), contents(whole.lists()));
    assert_eq!(
        merged.search(&queries, 10, &params(8)).unwrap(),
        whole.search(&queries, 10, &params(8)).unwrap()
    );
    // still mutable
    assert_eq!(merged.remove(&[0, 1, 2]).unwrap(), 3);
    let other = build("IVF16,PQ8x4fs,RFlat", &base[..500 * DIM], DIM, Metric::L2);
    let load = |i: &dyn VectorIndex| {
        let f = tempfile::NamedTempFile::new().unwrap();
        i.save(f.path()).unwrap();
        f
    };
    let file = load(other.as_ref());
    let _ = load_index(file.path()).unwrap();
    let stranger = IvfIndex::new(
        DIM,
        Metric::InnerProduct,
        16,
        facefind::index::factory::ListCodec::Pq4fs { m: 8 },
        facefind::index::factory::Refine::F32,
    );
    assert!(matches!(
        merged.merge_from(&stranger),
        Err(IndexError::Param(_))
    ));
}

/// Kills `facefind bench churn` (SIGKILL) at random points; after each kill
/// the reopened index holds every acknowledged vector (but those the
/// interrupted operation was removing), none acknowledged as removed, no
/// other vector than the interrupted operation's new ones, its lists pass
/// their checksums, and it equals a fresh build on the same vectors.
#[test]
fn killed_at_random_points_the_index_keeps_every_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let ix = dir.path().join("ix");
    let mut rng = Rng::new(11);
    let (mut present, mut removed) = (HashSet::<u64>::new(), HashSet::<u64>::new());
    let mut acked_ops = 0;
    for round in 0..40 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_facefind"))
            .args(["bench", "churn", "--ops", "1000000", "--seed"])
            .arg(round.to_string())
            .arg("--dir")
            .arg(&ix)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            out.read_to_end(&mut bytes).map(|_| bytes)
        });
        std::thread::sleep(Duration::from_millis(40 + rng.below(600) as u64));
        child.kill().unwrap();
        child.wait().unwrap();
        let text = String::from_utf8(reader.join().unwrap().unwrap()).unwrap();
        // a line the kill cut short (no newline) was not acknowledged
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        // the operation begun last and not acknowledged `ok` may or may not be done
        let (mut may_add, mut may_remove) = (HashSet::new(), HashSet::new());
        let lines: Vec<&str> = complete.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if *line == "ok" {
                continue;
            }
            let done = lines.get(i + 1) == Some(&"ok");
            let mut words = line.split(' ');
            let op = words.next().unwrap();
            let ids: Vec<u64> = words.map(|w| w.parse().unwrap()).collect();
            match (op, done) {
                ("add" | "merge", true) => present.extend(&ids),
                ("add" | "merge", false) => may_add.extend(ids),
                ("remove", true) => {
                    ids.iter().for_each(|id| assert!(present.remove(id)));
                    removed.extend(&ids);
                }
                ("remove", false) => may_remove.extend(ids),
                ("compact", _) => {}
                (other, _) => panic!("unexpected line {other:?}"),
            }
            acked_ops += usize::from(done);
        }
        if !ix.join(ondisk::MANIFEST).exists() {
            assert!(complete.is_empty(), "acknowledged before the index existed");
            continue;
        }
        let index = IvfIndex::open_dir(&ix, true).unwrap();
        let disk = index.lists().as_on_disk().unwrap();
        disk.verify().unwrap();
        let ids: HashSet<u64> = live_ids(&index).into_iter().collect();
        let lost: Vec<&u64> = present
            .difference(&ids)
            .filter(|id| !may_remove.contains(*id))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged vectors lost: {lost:?}"
        );
        assert!(
            ids.is_disjoint(&removed),
            "round {round}: removed vectors returned"
        );
        let extra: Vec<&u64> = ids.difference(&present).collect();
        assert!(
            extra.iter().all(|id| may_add.contains(*id)),
            "round {round}: vectors nobody added: {extra:?}"
        );
        present = ids;
        let mut fresh = load_index(&ix.join(disk.quantizer())).unwrap();
        let mut sorted: Vec<u64> = present.iter().copied().collect();
        sorted.sort_unstable();
        if !sorted.is_empty() {
            fresh.add(&churn::vectors_of(&sorted), &sorted).unwrap();
            assert_eq!(
                contents(index.lists()),
                contents(fresh.lists()),
                "round {round}"
            );
            let queries = churn::vectors_of(&[1 << 50, (1 << 50) + 1, (1 << 50) + 2]);
            let k = 10.min(sorted.len());
            let all = SearchParams {
                nprobe: 8,
                k_factor: sorted.len(),
            };
            assert_eq!(
                index.search(&queries, k, &all).unwrap(),
                fresh.search(&queries, k, &all).unwrap()
            );
        }
    }
    assert!(acked_ops > 200, "only {acked_ops} operations acknowledged");
}

const FIXTURE: &str = "tests/fixtures/index/v1";
/// Ids in the fixture: 0..64 but the multiples of 9, removed after adding.
fn fixture_ids() -> Vec<u64> {
    (0..64).filter(|i| i % 9 != 0).collect()
}

/// Writes the committed fixture of the current on-disk format (run by hand,
/// with `--ignored`, when the format changes: then keep the old one too).
#[test]
#[ignore]
fn write_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let _ = std::fs::remove_dir_all(&dir);
    let all: Vec<u64> = (0..64).collect();
    let mut index = churn::open_or_create(&dir).unwrap();
    index.add(&churn::vectors_of(&all), &all).unwrap();
    let gone: Vec<u64> = (0..64).filter(|i| i % 9 == 0).collect();
    index.remove(&gone).unwrap();
    let end = index.lists().as_on_disk().unwrap().data_len();
    drop(index);
    let data = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(ondisk::data_name(1)))
        .unwrap();
    data.set_len(end).unwrap();
}

#[test]
fn the_committed_fixture_opens_and_answers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let index = open_index_dir(&dir, false).unwrap();
    index.lists().as_on_disk().unwrap().verify().unwrap();
    assert_eq!(index.spec(), churn::SPEC);
    let mut ids = live_ids(index.as_ref());
    ids.sort_unstable();
    assert_eq!(ids, fixture_ids());
    let hits = index
        .search(&churn::vectors_of(&[7, 9]), 3, &params(8))
        .unwrap();
    assert_eq!(hits.row_ids(0)[0], 7);
    assert!(!hits.row_ids(1).contains(&9), "a removed id came back");
}

/// A copy of the committed fixture in a temporary directory.
fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

/// A copy of the fixture where the test may damage it.
fn damaged(file: &str, damage: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, IndexError) {
    let tmp = fixture_copy();
    let path = tmp.path().join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    let err = match open_index_dir(tmp.path(), false) {
        Ok(index) => index.lists().as_on_disk().unwrap().verify().unwrap_err(),
        Err(e) => e,
    };
    assert!(
        err.to_string().contains(file),
        "{file}: the error does not name the file: {err}"
    );
    (tmp, err)
}

#[test]
fn damaged_files_give_typed_errors_naming_file_and_problem() {
    let data = ondisk::data_name(1);
    let version = |b: &mut Vec<u8>| b[8..12].copy_from_slice(&99u32.to_le_bytes());
    for file in [ondisk::MANIFEST, data.as_str(), "quantizer-1.ffi"] {
        let (_t, err) = damaged(file, version);
        assert!(
            matches!(err, IndexError::Version { found: 99, .. }),
            "{file}: {err}"
        );
        let (_t, err) = damaged(file, |b| b.truncate(b.len() / 2));
        assert!(matches!(err, IndexError::Corrupt { .. }), "{file}: {err}");
        assert!(err.to_string().contains("truncated"), "{file}: {err}");
    }
    for file in [ondisk::MANIFEST, "quantizer-1.ffi"] {
        let (_t, err) = damaged(file, |b| {
            let mid = b.len() / 2;
            b[mid] ^= 0x10
        });
        assert!(
            err.to_string().contains("checksum mismatch"),
            "{file}: {err}"
        );
    }
    // a flipped byte in a list is found by its CRC32
    // (the fixture never compacted, so the first extent is live)
    let (_t, err) = damaged(&data, |b| b[64] ^= 0x01);
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(err.to_string().contains("list "), "{err}");
    // a flipped byte in the data header
    let (_t, err) = damaged(&data, |b| b[20] ^= 0x01);
    assert!(matches!(err, IndexError::Corrupt { .. }), "{err}");
}

/// The fixture copied, one byte of its first (live) extent flipped, opened for writing.
fn writer_over_a_flipped_list() -> (tempfile::TempDir, Box<dyn VectorIndex>) {
    let tmp = fixture_copy();
    let path = tmp.path().join(ondisk::data_name(1));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[64] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    // the directory and header are intact, so opening succeeds
    let index = open_index_dir(tmp.path(), true).unwrap();
    (tmp, index)
}

fn assert_names_the_damaged_list(err: IndexError) {
    assert!(matches!(err, IndexError::Corrupt { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&ondisk::data_name(1)), "{text}");
    assert!(
        text.contains("list ") && text.contains("checksum mismatch"),
        "{text}"
    );
}

#[test]
fn a_writer_checks_a_list_before_changing_it_and_names_the_damage() {
    // adding into every list reaches the damaged one
    let (_t, mut index) = writer_over_a_flipped_list();
    let all: Vec<u64> = (0..64).collect();
    let fresh: Vec<u64> = all.iter().map(|i| i + 1000).collect();
    let err = index
        .add(&churn::vectors_of(&all), &fresh)
        .expect_err("an add into a damaged list must fail");
    assert_names_the_damaged_list(err);
    // so does removing its ids (tombstones are placed by the stored ids)
    let (_t, mut index) = writer_over_a_flipped_list();
    let err = index
        .remove(&fixture_ids())
        .expect_err("a removal from a damaged list must fail");
    assert_names_the_damaged_list(err);
    // and an intact copy takes the same changes
    let tmp = fixture_copy();
    let mut index = open_index_dir(tmp.path(), true).unwrap();
    index.add(&churn::vectors_of(&all), &fresh).unwrap();
    assert_eq!(index.remove(&fixture_ids()).unwrap(), fixture_ids().len());
}

#[test]
fn bench_disk_builds_in_chunks_what_one_build_in_memory_holds_and_searches_it_apart() {
    use facefind::bench::disk;
    use facefind::index::factory::index_factory;
    let dir = tempfile::tempdir().unwrap();
    super::bench::make_set(dir.path(), 3000, 20, 32, 9);
    let spec = "IVF16,PQ8x4fs";
    let build = |name: &str, train_rows: usize| {
        disk::measure_build(&disk::BuildArgs {
            data: dir.path().to_owned(),
            index: spec.into(),
            dir: dir.path().join(name),
            train_rows,
            chunk: 700,
            threads: None,
            json: true,
        })
    };
    // trained on every row, added 700 at a time: equal to one build in memory
    let report = build("all", 0).unwrap();
    assert_eq!((report.n, report.train_rows), (3000, 3000));
    assert!(
        report.bytes <= report.bytes_grown,
        "compaction grew the index"
    );
    let set = facefind::bench::data::Dataset::open(dir.path()).unwrap();
    let (base, queries) = (set.base.as_slice(), set.queries.as_slice());
    let mut memory = index_factory(spec, 32, Metric::InnerProduct, 3000).unwrap();
    memory.train(base, &JobControl::default()).unwrap();
    memory.add(base, &(0..3000).collect::<Vec<u64>>()).unwrap();
    let chunked = open_index_dir(&dir.path().join("all"), false).unwrap();
    for nprobe in [1, 4, 16] {
        let p = params(nprobe);
        assert_eq!(
            chunked.search(queries, 10, &p).unwrap(),
            memory.search(queries, 10, &p).unwrap(),
            "nprobe {nprobe}"
        );
    }
    // a seeded sample trains it too, and a separate open measures it
    let sampled = build("sampled", 1000).unwrap();
    assert_eq!(sampled.train_rows, 1000);
    let search = |nprobe: Vec<usize>| {
        disk::measure_search(&disk::SearchArgs {
            data: dir.path().to_owned(),
            dir: dir.path().join("sampled"),
            nprobe,
            k_factor: 1,
            single_queries: 5,
            cold_queries: 2,
            threads: None,
            json: true,
        })
    };
    let report = search(vec![1, 16]).unwrap();
    assert_eq!((report.ntotal, report.runs.len()), (3000, 2));
    // every list probed: 4-bit codes of 4 dimensions without re-ranking
    // limit recall (0.44 with this seed; chance would be 0.003)
    let all = &report.runs[1];
    assert!(all.recall_at_10 > 0.35, "recall@10 {}", all.recall_at_10);
    assert!(all.recall_at_10 >= report.runs[0].recall_at_10);
    assert!(all.person_recall.is_some() && all.cold_single_ms > 0.0);
    // a directory that exists is refused rather than overwritten
    let again = build("all", 0).unwrap_err();
    assert!(again.to_string().contains("exists already"), "{again}");
    assert!(search(vec![17]).is_err(), "nprobe over nlist");
}

#[test]
fn bench_ann_on_disk_measures_cold_queries_and_churn_with_the_same_recall() {
    let dir = tempfile::tempdir().unwrap();
    super::bench::make_set(dir.path(), 3000, 20, 32, 9);
    let args = super::bench::ann_args(dir.path(), "IVF16,PQ8x4fs,RFlat");
    let memory = facefind::bench::ann::measure(&args).unwrap();
    let disk = facefind::bench::ann::measure(&facefind::bench::ann::AnnArgs {
        on_disk: true,
        churn_batch: 7,
        paired_rounds: 1,
        ..args
    })
    .unwrap();
    assert!(disk.on_disk);
    for (m, d) in memory.runs.iter().zip(&disk.runs) {
        assert_eq!(m.recall_at_10, d.recall_at_10);
        assert!(m.cold_single_ms.is_none());
        assert!(d.cold_single_ms.is_some_and(|ms| ms > 0.0));
    }
    assert_eq!(disk.paired.len(), memory.runs.len());
    assert!(
        disk.paired
            .iter()
            .all(|p| p.disk_qps_batch > 0.0 && p.memory_qps_single > 0.0)
    );
    let churn = disk.churn.unwrap();
    assert_eq!(churn.vectors, 20);
    assert!(churn.add_per_s > 0.0 && churn.remove_per_s > 0.0);
}

/// A library of photos `names` in a temporary folder, scanned: (dir, catalog, photo ids).
fn photo_library(names: &[&str]) -> (tempfile::TempDir, Catalog, Vec<i64>) {
    let dir = tempfile::tempdir().unwrap();
    for name in names {
        std::fs::write(dir.path().join(name), name.as_bytes()).unwrap();
    }
    let mut catalog = Catalog::open(&dir.path().join("catalog.sqlite")).unwrap();
    catalog.add_folder(dir.path()).unwrap();
    let report = scan(&mut catalog, &JobControl::default()).unwrap();
    (dir, catalog, report.new)
}

/// Records `n` faces with seeded unit embeddings on photo `photo`; returns (ids, vectors).
fn add_faces(catalog: &mut Catalog, photo: i64, n: usize, seed: u64) -> (Vec<u64>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let rows: Vec<FaceRow> = (0..n)
        .map(|_| {
            let v: Vec<f32> = (0..facefind::faces::DIM).map(|_| rng.normal()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            FaceRow {
                bbox: [0.0, 0.0, 10.0, 10.0],
                landmarks: [[1.0, 1.0]; 5],
                score: 0.9,
                quality: 0.9,
                embedding: v.iter().map(|x| x / norm).collect(),
            }
        })
        .collect();
    let info = PhotoInfo {
        width: 10,
        height: 10,
        taken_at: None,
    };
    let ids = catalog
        .write(|tx| tx.finish_photo(photo, &info, &rows))
        .unwrap();
    (
        ids.iter().map(|&i| i as u64).collect(),
        rows.iter().flat_map(|r| r.embedding.clone()).collect(),
    )
}

fn delete_photo(catalog: &mut Catalog, photo: i64) -> Vec<u64> {
    let ids = catalog.write(|tx| tx.delete_photo(photo)).unwrap();
    ids.iter().map(|&i| i as u64).collect()
}

/// The store starts exact, adds and removes by id (no rebuild), re-trains
/// into IVF-PQ in the background while the old index answers and takes
/// changes, switches, and on reopen reconciles with the catalog by id.
#[test]
fn the_library_index_lives_on_disk_grows_shrinks_and_retrains_in_the_background() {
    let (dir, mut catalog, photos) = photo_library(&["a.jpg", "b.jpg", "c.jpg"]);
    let index_dir = dir.path().join("index");
    let policy = Policy { flat_below: 1000 };
    let ctl = JobControl::default();
    let (a_ids, a_vecs) = add_faces(&mut catalog, photos[0], 200, 1);
    let (mut store, catchup) =
        VectorStore::open_with(&index_dir, &catalog, &ctl, true, policy).unwrap();
    assert_eq!(catchup, Catchup::Rebuilt("there was no saved index"));
    assert_eq!(store.index().spec(), "Flat");
    assert!(
        store.index().lists().as_on_disk().is_some(),
        "the index is on disk"
    );
    let first = |store: &VectorStore, v: &[f32]| store.search(v, 1).unwrap().ids[0];
    assert_eq!(first(&store, &a_vecs[..DIM_F]), a_ids[0]);

    // grows past the policy: re-training starts, the old index keeps answering
    let (b_ids, b_vecs) = add_faces(&mut catalog, photos[1], 1800, 2);
    store
        .add(&b_ids, &b_vecs, catalog.face_mark().unwrap())
        .unwrap();
    assert_eq!(store.index().ntotal(), 2000);
    assert_eq!(first(&store, &b_vecs[..DIM_F]), b_ids[0]);
    let gone = delete_photo(&mut catalog, photos[0]);
    assert_eq!(
        store.remove(&gone, catalog.face_mark().unwrap()).unwrap(),
        200
    );
    let (c_ids, c_vecs) = add_faces(&mut catalog, photos[2], 50, 3);
    store
        .add(&c_ids, &c_vecs, catalog.face_mark().unwrap())
        .unwrap();
    store.wait_for_rebuild().unwrap();
    assert!(!store.rebuilding());
    assert!(
        store.index().spec().starts_with("IVF"),
        "{}",
        store.index().spec()
    );
    // the changes made during the re-training reached the new index
    assert_eq!(store.index().ntotal(), 1850);
    assert_eq!(first(&store, &c_vecs[..DIM_F]), c_ids[0]);
    assert_eq!(first(&store, &b_vecs[..DIM_F]), b_ids[0]);
    assert!(
        !store
            .search(&a_vecs[..DIM_F], 10)
            .unwrap()
            .ids
            .contains(&a_ids[0])
    );
    let spec = store.index().spec();
    drop(store);

    // a deletion the index missed (e.g. a crash) is caught up by id on reopen
    let gone = delete_photo(&mut catalog, photos[2]);
    let (store, catchup) =
        VectorStore::open_with(&index_dir, &catalog, &ctl, true, policy).unwrap();
    assert_eq!(catchup, Catchup::Appended(0));
    assert_eq!(store.index().spec(), spec, "no rebuild for a removal");
    assert_eq!(store.index().ntotal(), 1800);
    assert!(
        !store
            .search(&c_vecs[..DIM_F], 10)
            .unwrap()
            .ids
            .contains(&gone[0])
    );
    drop(store);
    // a reader sees the same, read-only
    let (reader, catchup) =
        VectorStore::open_with(&index_dir, &catalog, &ctl, false, policy).unwrap();
    assert_eq!(catchup, Catchup::UpToDate);
    assert_eq!(first(&reader, &b_vecs[..DIM_F]), b_ids[0]);
}
