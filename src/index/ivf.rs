//! IVF: a coarse quantiser of `nlist` centroids splits the vectors into
//! inverted lists; a search visits the `nprobe` lists nearest the query.
//! Lists hold full vectors (`IVF,Flat`) or PQ codes of the residual to the
//! list centroid (8-bit, or 4-bit fast-scan); an optional re-ranking store
//! re-scores the best `k · k_factor` candidates exactly.
//!
//! Candidates are labelled by their place, `list << 32 | position`, so the
//! ids and re-ranking copies are found in the list beside the code: no
//! per-vector table outside the lists.
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::factory::{ListCodec, Refine, Spec};
use super::format::{self, Reader, Writer};
use super::invlists::{self, CodeLayout, InvertedLists, MemoryLists};
use super::kmeans::{self, KMeansParams};
use super::ondisk;
use super::pq::ProductQuantizer;
use super::refine;
use super::{JobControl, Metric, NO_ID, SearchParams, SearchResults, VectorIndex, check};
use crate::compute::rng::Rng;
use crate::compute::{Backend, TopKHeap, default_backend, pq4};
use crate::error::{IndexError, IndexResult};

/// Object code of an IVF index in the file format.
pub const FOURCC: &[u8; 4] = b"IvIx";
/// The seed of every random choice in training unless one is given.
pub const DEFAULT_SEED: u64 = 0x00fa_cef1_d0ce_5eed;
/// Vectors added per chunk (bounds the memory of residuals and codes).
const ADD_CHUNK: usize = 1 << 16;
/// Queries scanned list by list together (see `scan_batch`).
const BATCH_CHUNK: usize = 128;
/// k-means iterations of the coarse quantiser.
pub const COARSE_ITERATIONS: usize = 10;
/// Nearest lists each query of a batch scans before the sweep in list order.
const SEED_LISTS: usize = 4;
/// Queries whose coarse distances are computed together.
const COARSE_CHUNK: usize = 1024;

/// Per-query look-up tables (PQ codecs only).
#[derive(Clone)]
struct QueryTables {
    lut: Vec<f32>,
    quantized: Option<crate::compute::QuantizedLut>,
}

pub struct IvfIndex {
    dim: usize,
    metric: Metric,
    nlist: usize,
    codec: ListCodec,
    refine_kind: Refine,
    seed: u64,
    /// `nlist × dim`; empty until trained.
    centroids: Vec<f32>,
    pq: Option<ProductQuantizer>,
    lists: Box<dyn InvertedLists>,
    ntotal: usize,
    backend: Arc<dyn Backend>,
}

fn layout(codec: ListCodec, dim: usize) -> CodeLayout {
    match codec {
        ListCodec::Flat => CodeLayout::Flat { code_size: 4 * dim },
        ListCodec::Pq8 { m } => CodeLayout::Flat { code_size: m },
        ListCodec::Pq4fs { m } => CodeLayout::Packed4 { m },
    }
}

/// The label of position `pos` of list `list`.
fn place_label(list: usize, pos: usize) -> u64 {
    ((list as u64) << 32) | pos as u64
}

fn label_place(label: u64) -> refine::Place {
    ((label >> 32) as usize, (label & 0xffff_ffff) as usize)
}

impl IvfIndex {
    pub fn new(dim: usize, metric: Metric, nlist: usize, codec: ListCodec, refine: Refine) -> Self {
        Self {
            dim,
            metric,
            nlist,
            codec,
            refine_kind: refine,
            seed: DEFAULT_SEED,
            centroids: Vec::new(),
            pq: None,
            lists: Box::new(MemoryLists::new(
                nlist,
                layout(codec, dim),
                refine::vector_bytes(refine, dim),
            )),
            ntotal: 0,
            backend: default_backend(),
        }
    }

    /// Uses `seed` for training instead of `DEFAULT_SEED`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    fn pq_m(&self) -> Option<(usize, u32)> {
        match self.codec {
            ListCodec::Flat => None,
            ListCodec::Pq8 { m } => Some((m, 8)),
            ListCodec::Pq4fs { m } => Some((m, 4)),
        }
    }

    /// Residuals of `x` to the centroids of `labels`.
    fn residuals(&self, x: &[f32], labels: &[u32]) -> Vec<f32> {
        let d = self.dim;
        x.chunks_exact(d)
            .zip(labels)
            .flat_map(|(row, &l)| {
                row.iter()
                    .zip(&self.centroids[l as usize * d..])
                    .map(|(a, c)| a - c)
            })
            .collect()
    }

    fn coarse_assign(&self, x: &[f32]) -> Vec<u32> {
        let n = x.len() / self.dim;
        let (mut labels, mut dists) = (vec![0u32; n], vec![0f32; n]);
        self.backend.assign(
            self.metric,
            x,
            &self.centroids,
            self.dim,
            &mut labels,
            &mut dists,
        );
        labels
    }

    fn add_chunk(&mut self, data: &[f32], ids: &[u64]) -> IndexResult<()> {
        let labels = self.coarse_assign(data);
        let codes: Vec<u8> = match &self.pq {
            None => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Some(pq) => pq.encode(&*self.backend, &self.residuals(data, &labels)),
        };
        let cs = self.lists.layout().code_size();
        let copies = refine::encode(self.refine_kind, data);
        let vb = self.lists.vector_bytes();
        // group by list (stable), then one append per list
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| labels[i]);
        for group in order.chunk_by(|&a, &b| labels[a] == labels[b]) {
            let list = labels[group[0]] as usize;
            let c: Vec<u8> = group
                .iter()
                .flat_map(|&i| codes[i * cs..(i + 1) * cs].iter().copied())
                .collect();
            let l: Vec<u64> = group.iter().map(|&i| ids[i]).collect();
            let v: Vec<u8> = group
                .iter()
                .flat_map(|&i| copies[i * vb..(i + 1) * vb].iter().copied())
                .collect();
            self.lists.append(list, &c, &l, &v)?;
        }
        self.ntotal += ids.len();
        Ok(())
    }

    /// The `nprobe` nearest lists of every query: `(distance, list)`, nearest first.
    fn probes(&self, queries: &[f32], nprobe: usize) -> Vec<Vec<(f32, u32)>> {
        let mut out = Vec::with_capacity(queries.len() / self.dim);
        for chunk in queries.chunks(COARSE_CHUNK * self.dim) {
            let mut d = vec![0f32; chunk.len() / self.dim * self.nlist];
            self.backend
                .distances(self.metric, chunk, &self.centroids, self.dim, &mut d);
            d.iter_mut().for_each(|v| *v = self.metric.to_dist(*v));
            out.extend(self.backend.select_topk(&d, self.nlist, nprobe));
        }
        out
    }

    /// The look-up tables of one query. For the inner product they do not
    /// depend on the list (<q, c + r> = <q, c> + <q, r>), so they are built
    /// once here; for L2 `scan_list` rebuilds them per list from q − c.
    fn query_tables(&self, q: &[f32]) -> QueryTables {
        let Some(pq) = &self.pq else {
            return QueryTables {
                lut: Vec::new(),
                quantized: None,
            };
        };
        let mut lut = vec![0f32; pq.m * pq.ksub];
        let mut quantized = None;
        if self.metric == Metric::InnerProduct {
            self.backend
                .pq_lut(self.metric, q, &pq.codebooks, pq.m, pq.ksub, &mut lut);
            if self.fast_scan() {
                quantized = Some(pq4::quantize_lut(&lut, pq.m));
            }
        }
        QueryTables { lut, quantized }
    }

    fn fast_scan(&self) -> bool {
        matches!(self.codec, ListCodec::Pq4fs { .. })
    }

    /// Scans list `list` (at coarse distance `coarse`) for query `q` into `heap`.
    fn scan_list(
        &self,
        q: &[f32],
        t: &mut QueryTables,
        coarse: f32,
        list: u32,
        heap: &mut TopKHeap,
    ) {
        let (b, l) = (&*self.backend, list as usize);
        let (codes, n, label0) = (
            self.lists.codes(l),
            self.lists.list_len(l),
            place_label(l, 0),
        );
        if n == 0 {
            return;
        }
        let Some(pq) = &self.pq else {
            return b.scan_flat(self.metric, q, invlists::as_f32s(codes), label0, heap);
        };
        let bias = match self.metric {
            Metric::InnerProduct => coarse,
            Metric::L2 => {
                let c = &self.centroids[l * self.dim..(l + 1) * self.dim];
                let r: Vec<f32> = q.iter().zip(c).map(|(a, c)| a - c).collect();
                b.pq_lut(self.metric, &r, &pq.codebooks, pq.m, pq.ksub, &mut t.lut);
                if self.fast_scan() {
                    t.quantized = Some(pq4::quantize_lut(&t.lut, pq.m));
                }
                0.0
            }
        };
        match &t.quantized {
            Some(qt) => b.scan_pq4fs(qt, pq.m, codes, n, label0, bias, heap),
            None => b.scan_pq8(&t.lut, pq.m, codes, n, label0, bias, heap),
        }
    }

    /// Candidates to keep for `kk` live ones: the removed entries of the
    /// probed lists may take places in the heap, and are dropped in `finish`.
    fn heap_size(&self, kk: usize, probes: &[(f32, u32)]) -> usize {
        kk + probes
            .iter()
            .map(|&(_, l)| self.lists.dead(l as usize))
            .sum::<usize>()
    }

    /// One query on every thread: each takes the next nearest list from a
    /// shared cursor into its own heap. Work moves to whichever thread runs,
    /// so a thread the scheduler holds back (the machine is shared) delays
    /// the query by one list, not by a fixed share of them.
    fn search_one(&self, q: &[f32], probes: &[(f32, u32)], k: usize, kk: usize) -> Vec<(f32, u64)> {
        let size = self.heap_size(kk, probes);
        let parts = rayon::current_num_threads().min(probes.len()).max(1);
        let tables = self.query_tables(q);
        let cursor = AtomicUsize::new(0);
        let heap = (0..parts)
            .into_par_iter()
            .map(|_| {
                let (mut heap, mut tables) = (TopKHeap::new(size), tables.clone());
                loop {
                    let i = cursor.fetch_add(1, Ordering::Relaxed);
                    let Some(&(coarse, list)) = probes.get(i) else {
                        return heap;
                    };
                    self.scan_list(q, &mut tables, coarse, list, &mut heap);
                }
            })
            .reduce(
                || TopKHeap::new(size),
                |mut a, b| {
                    a.merge(&b);
                    a
                },
            );
        self.finish(q, heap, k, kk)
    }

    /// A batch, list by list: the (query, list) pairs of a chunk of queries
    /// are sorted by list, so each list's codes are read once per chunk and
    /// stay in L1 while every query probing it is scanned.
    fn scan_batch(&self, queries: &[f32], probes: &[Vec<(f32, u32)>], kk: usize) -> Vec<TopKHeap> {
        let d = self.dim;
        let mut heaps: Vec<TopKHeap> = probes
            .iter()
            .map(|p| TopKHeap::new(self.heap_size(kk, p)))
            .collect();
        let mut tables: Vec<QueryTables> = queries
            .chunks_exact(d)
            .map(|q| self.query_tables(q))
            .collect();
        // the nearest few lists first, query by query, so that every heap
        // has a tight threshold before the sweep in list order
        for (i, p) in probes.iter().enumerate() {
            let q = &queries[i * d..(i + 1) * d];
            for &(coarse, list) in &p[..SEED_LISTS.min(p.len())] {
                self.scan_list(q, &mut tables[i], coarse, list, &mut heaps[i]);
            }
        }
        let mut pairs: Vec<(u32, u32, f32)> = probes
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.iter()
                    .skip(SEED_LISTS)
                    .map(move |&(coarse, list)| (list, i as u32, coarse))
            })
            .collect();
        pairs.sort_unstable_by_key(|&(list, i, _)| (list, i));
        for (p, &(list, i, coarse)) in pairs.iter().enumerate() {
            let i = i as usize;
            if pairs.get(p + 1).is_some_and(|n| n.0 != list) {
                self.backend
                    .prefetch(self.lists.codes(pairs[p + 1].0 as usize));
            }
            self.scan_list(
                &queries[i * d..(i + 1) * d],
                &mut tables[i],
                coarse,
                list,
                &mut heaps[i],
            );
        }
        heaps
    }

    /// Final `(distance, id)` results of one query, best first.
    fn finish(&self, q: &[f32], heap: TopKHeap, k: usize, kk: usize) -> Vec<(f32, u64)> {
        let id = |label: u64| {
            let (list, pos) = label_place(label);
            self.lists.ids(list)[pos]
        };
        let mut candidates = heap.into_sorted();
        candidates.retain(|&(_, l)| {
            let (list, pos) = label_place(l);
            !self.lists.is_dead(list, pos)
        });
        candidates.truncate(kk);
        if self.refine_kind == Refine::None {
            return candidates.into_iter().map(|(d, l)| (d, id(l))).collect();
        }
        let labels: Vec<u64> = candidates.iter().map(|&(_, l)| l).collect();
        let places: Vec<refine::Place> = labels.iter().map(|&l| label_place(l)).collect();
        let mut best = TopKHeap::new(k);
        let kind = self.refine_kind;
        refine::rerank(
            &*self.backend,
            kind,
            self.metric,
            q,
            &*self.lists,
            &places,
            &labels,
            &mut best,
        );
        best.into_sorted()
            .into_iter()
            .map(|(d, l)| (d, id(l)))
            .collect()
    }

    /// Writes the index with `lists` (its own, or empty ones for a quantizer file).
    fn write_with<W: std::io::Write>(&self, w: &mut Writer<W>, lists: &dyn InvertedLists) {
        w.fourcc(FOURCC);
        w.usize(self.dim);
        w.metric(self.metric);
        w.usize(self.nlist);
        w.u64(self.seed);
        let (tag, m) = match self.codec {
            ListCodec::Flat => (0, 0),
            ListCodec::Pq8 { m } => (1, m),
            ListCodec::Pq4fs { m } => (2, m),
        };
        w.u8(tag);
        w.usize(m);
        w.u8(match self.refine_kind {
            Refine::None => 0,
            Refine::F32 => 1,
            Refine::F16 => 2,
        });
        w.usize(invlists::live_count(lists));
        w.f32s(&self.centroids);
        if let Some(pq) = &self.pq {
            pq.write(w);
        }
        invlists::write_lists(w, lists);
    }

    fn empty_lists(&self) -> MemoryLists {
        MemoryLists::new(
            self.nlist,
            layout(self.codec, self.dim),
            refine::vector_bytes(self.refine_kind, self.dim),
        )
    }

    /// An empty index with the same trained quantisers, lists in memory: for
    /// parts built apart and merged later (see [`IvfIndex::merge_from`]).
    pub fn empty_like(&self) -> Self {
        Self {
            centroids: self.centroids.clone(),
            pq: self.pq.clone(),
            ntotal: 0,
            lists: Box::new(self.empty_lists()),
            backend: self.backend.clone(),
            ..*self
        }
    }

    /// Appends every live vector of `other`, which must share this index's
    /// trained quantisers bit for bit (as `empty_like` parts do); commits.
    pub fn merge_from(&mut self, other: &IvfIndex) -> IndexResult<()> {
        let same_pq = match (&self.pq, &other.pq) {
            (None, None) => true,
            (Some(a), Some(b)) => a.m == b.m && a.ksub == b.ksub && a.codebooks == b.codebooks,
            _ => false,
        };
        if self.spec() != other.spec()
            || self.metric != other.metric
            || self.dim != other.dim
            || self.centroids != other.centroids
            || !same_pq
        {
            return Err(IndexError::Param(format!(
                "cannot merge {} into {}: the parts were not trained together",
                other.spec(),
                self.spec()
            )));
        }
        invlists::copy_lists(&*other.lists, &mut *self.lists)?;
        self.ntotal += other.ntotal;
        self.lists.commit()
    }

    /// Opens an IVF index directory written by `into_dir`.
    pub fn open_dir(dir: &Path, writable: bool) -> IndexResult<Self> {
        let (lists, path, data) = ondisk::open_dir(dir, writable)?;
        let mut r = Reader::new(&path, &data);
        r.expect(FOURCC)?;
        let index = Self::read(&mut r)?.with_lists(Box::new(lists), &path)?;
        r.done()?;
        Ok(index)
    }

    /// Rewrites the lists without their removed entries (see `InvertedLists::compact`).
    pub fn compact(&mut self) -> IndexResult<()> {
        self.lists.compact()
    }

    /// Takes lists opened from an index directory in place of the (empty)
    /// ones read from its quantizer file, checking that they fit.
    pub fn with_lists(mut self, lists: Box<dyn InvertedLists>, path: &Path) -> IndexResult<Self> {
        let want = self.empty_lists();
        if self.ntotal != 0
            || !self.is_trained()
            || lists.nlist() != self.nlist
            || lists.layout() != want.layout()
            || lists.vector_bytes() != want.vector_bytes()
        {
            return Err(IndexError::corrupt(
                path,
                format!("the lists do not fit the quantizer of {}", self.spec()),
            ));
        }
        self.ntotal = invlists::live_count(&*lists);
        self.lists = lists;
        Ok(self)
    }

    /// Reads the object after its four-character code, validating every size.
    pub fn read(r: &mut Reader) -> IndexResult<Self> {
        let (dim, metric, nlist, seed) = (r.usize()?, r.metric()?, r.usize()?, r.u64()?);
        let (tag, m) = (r.u8()?, r.usize()?);
        let codec = match tag {
            0 => ListCodec::Flat,
            1 => ListCodec::Pq8 { m },
            2 => ListCodec::Pq4fs { m },
            t => return Err(r.corrupt(format!("unknown list codec {t}"))),
        };
        let refine = match r.u8()? {
            0 => Refine::None,
            1 => Refine::F32,
            2 => Refine::F16,
            t => return Err(r.corrupt(format!("unknown re-ranking kind {t}"))),
        };
        let spec = Spec::Ivf {
            nlist,
            codec,
            refine,
        };
        if let Err(e) = Spec::parse(&spec.to_spec_string(), dim, 0) {
            return Err(r.corrupt(format!("invalid parameters: {e}")));
        }
        let ntotal = r.usize()?;
        let centroids = r.f32s(None)?;
        let trained = !centroids.is_empty();
        if trained && centroids.len() != nlist * dim {
            return Err(r.corrupt(format!(
                "{} centroid values for {nlist} × {dim}",
                centroids.len()
            )));
        }
        if !trained && ntotal > 0 {
            return Err(r.corrupt("vectors in an untrained index"));
        }
        let mut index = Self::new(dim, metric, nlist, codec, refine).with_seed(seed);
        index.centroids = centroids;
        if trained && codec != ListCodec::Flat {
            let pq = ProductQuantizer::read(r, dim)?;
            let want = if matches!(codec, ListCodec::Pq4fs { .. }) {
                16
            } else {
                256
            };
            if pq.m != m || pq.ksub != want {
                return Err(r.corrupt(format!(
                    "product quantiser m {} ksub {} does not match the spec {}",
                    pq.m,
                    pq.ksub,
                    spec.to_spec_string()
                )));
            }
            index.pq = Some(pq);
        }
        let lists = MemoryLists::read(
            r,
            nlist,
            layout(codec, dim),
            refine::vector_bytes(refine, dim),
        )?;
        let stored: usize = (0..nlist).map(|l| lists.list_len(l)).sum();
        if stored != ntotal {
            return Err(r.corrupt(format!(
                "lists hold {stored} vectors, the header says {ntotal}"
            )));
        }
        index.lists = Box::new(lists);
        index.ntotal = ntotal;
        Ok(index)
    }
}

impl VectorIndex for IvfIndex {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric(&self) -> Metric {
        self.metric
    }
    fn ntotal(&self) -> usize {
        self.ntotal
    }
    fn is_trained(&self) -> bool {
        !self.centroids.is_empty()
    }
    fn spec(&self) -> String {
        Spec::Ivf {
            nlist: self.nlist,
            codec: self.codec,
            refine: self.refine_kind,
        }
        .to_spec_string()
    }

    fn train(&mut self, data: &[f32], ctl: &JobControl) -> IndexResult<()> {
        let n = check::vectors(data, self.dim)?;
        if self.ntotal > 0 {
            return Err(IndexError::Param(format!(
                "the index holds {} vectors coded with its quantisers; build a new one to re-train",
                self.ntotal
            )));
        }
        // 10 iterations for the coarse quantiser, as FAISS's Level1Quantizer:
        // IVF cells need not be precise, only balanced and local
        let params = KMeansParams {
            niter: COARSE_ITERATIONS,
            ..KMeansParams::new(self.nlist, self.metric, self.seed)
        };
        let centroids = kmeans::train(
            &*self.backend,
            data,
            self.dim,
            &params,
            ctl,
            "train coarse quantiser",
        )?;
        self.centroids = centroids;
        if let Some((m, nbits)) = self.pq_m() {
            // the product quantiser learns from residuals of a seeded sample
            let want = (kmeans::MAX_POINTS_PER_CENTROID << nbits).min(n);
            let mut rows = Rng::new(self.seed ^ 0x9e37).sample_indices(n, want);
            rows.sort_unstable();
            let sample: Vec<f32> = rows
                .iter()
                .flat_map(|&i| data[i * self.dim..(i + 1) * self.dim].iter().copied())
                .collect();
            let labels = self.coarse_assign(&sample);
            let res = self.residuals(&sample, &labels);
            match ProductQuantizer::train(&*self.backend, &res, self.dim, m, nbits, self.seed, ctl)
            {
                Ok(pq) => self.pq = Some(pq),
                Err(e) => {
                    self.centroids.clear();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, data: &[f32], ids: &[u64]) -> IndexResult<()> {
        let n = check::vectors(data, self.dim)?;
        check::ids(ids, n)?;
        if !self.is_trained() {
            return Err(IndexError::NotTrained);
        }
        for (d, i) in data.chunks(ADD_CHUNK * self.dim).zip(ids.chunks(ADD_CHUNK)) {
            self.add_chunk(d, i)?;
        }
        self.lists.commit()
    }

    fn search(
        &self,
        queries: &[f32],
        k: usize,
        params: &SearchParams,
    ) -> IndexResult<SearchResults> {
        let nq = check::vectors(queries, self.dim)?;
        check::k(k, self.ntotal)?;
        if params.nprobe == 0 || params.nprobe > self.nlist {
            return Err(IndexError::Nprobe {
                nprobe: params.nprobe,
                nlist: self.nlist,
            });
        }
        if params.k_factor == 0 {
            return Err(IndexError::Param("k_factor must be at least 1".into()));
        }
        let kk = if self.refine_kind != Refine::None {
            k * params.k_factor
        } else {
            k
        };
        let probes = self.probes(queries, params.nprobe);
        let threads = rayon::current_num_threads();
        let d = self.dim;
        let rows: Vec<Vec<(f32, u64)>> = if nq >= 2 * threads {
            let chunk = BATCH_CHUNK.min(nq.div_ceil(threads));
            queries
                .par_chunks(chunk * d)
                .zip(probes.par_chunks(chunk))
                .flat_map_iter(|(qs, ps)| {
                    let heaps = self.scan_batch(qs, ps, kk);
                    let finished: Vec<_> = qs
                        .chunks_exact(d)
                        .zip(heaps)
                        .map(|(q, h)| self.finish(q, h, k, kk))
                        .collect();
                    finished
                })
                .collect()
        } else {
            // too few queries to keep every thread busy: each is split over them
            (0..nq)
                .map(|i| self.search_one(&queries[i * d..(i + 1) * d], &probes[i], k, kk))
                .collect()
        };
        let missing = self.metric.to_score(f32::INFINITY);
        let mut out = SearchResults {
            k,
            scores: Vec::with_capacity(nq * k),
            ids: Vec::with_capacity(nq * k),
        };
        for row in rows {
            let n = row.len();
            for (d, id) in row {
                out.scores.push(self.metric.to_score(d));
                out.ids.push(id);
            }
            out.scores.extend(std::iter::repeat_n(missing, k - n));
            out.ids.extend(std::iter::repeat_n(NO_ID, k - n));
        }
        Ok(out)
    }

    fn remove(&mut self, ids: &[u64]) -> IndexResult<usize> {
        let set: HashSet<u64> = ids.iter().copied().collect();
        let removed = self.lists.remove(&set)?;
        self.ntotal -= removed;
        self.lists.commit()?;
        Ok(removed)
    }
    fn lists(&self) -> &dyn InvertedLists {
        &*self.lists
    }
    fn into_dir(mut self: Box<Self>, dir: &Path) -> IndexResult<Box<dyn VectorIndex>> {
        if !self.is_trained() {
            return Err(IndexError::NotTrained);
        }
        let empty = self.empty_lists();
        let lists =
            ondisk::create_dir(dir, self.seed, &*self.lists, |w| self.write_with(w, &empty))?;
        self.lists = Box::new(lists);
        Ok(self)
    }
    fn to_memory(&self) -> IndexResult<Box<dyn VectorIndex>> {
        let mut copy = self.empty_like();
        invlists::copy_lists(&*self.lists, &mut *copy.lists)?;
        copy.ntotal = self.ntotal;
        Ok(Box::new(copy))
    }
    fn save(&self, path: &Path) -> IndexResult<()> {
        format::save_atomic(path, |w| self.write_with(w, &*self.lists))
    }
    fn bytes_on_disk(&self) -> u64 {
        match self.lists.as_on_disk() {
            Some(disk) => {
                let empty = self.empty_lists();
                disk.bytes_on_disk() + format::encoded_len(|w| self.write_with(w, &empty))
            }
            None => format::encoded_len(|w| self.write_with(w, &*self.lists)),
        }
    }
}
