//! Inverted lists in a memory-mapped file that stay mutable and survive
//! `kill -9` at any instant.
//!
//! An index directory holds three kinds of file:
//!
//! ```text
//! MANIFEST          format file (see `format`): generation, the names of the
//!                   live quantizer and data files, parameters, the list
//!                   directory (offset, capacity, length, CRC32 per list) and
//!                   the tombstones. Replaced by tmp + fsync + rename.
//! quantizer-G.ffi   the index object with empty lists (centroids, codebooks,
//!                   seed), written once per generation.
//! lists-G.dat       HEADER (64 bytes: magic, version, layout, vector bytes,
//!                   nlist, seed, CRC32) then one extent per list:
//!                   codes (capacity slots) | ids (capacity u64) | vectors
//! ```
//!
//! Every write lands in space the committed manifest does not reference:
//! slots past a list's length inside its extent, or a new extent at the end
//! of the file when a list outgrows its capacity (exact for a list filled in
//! one go, then powers of two, as FAISS's `OnDiskInvertedLists` grows). `commit` flushes the map, then replaces the
//! manifest; a crash before that leaves the old manifest naming old, intact
//! bytes. Removal marks tombstones (searches skip them); a list is compacted
//! into a fresh extent when a quarter of it is dead, and the whole file is
//! rewritten into the next generation when dead space outweighs live data.
//! 4-bit codes share bytes between slots, but `pq4::set_codes` rewrites a
//! slot's nibble only, so live slots keep their values byte for byte.
//!
//! What `open` checks: the manifest's checksum and fields, the data header
//! (magic, version, checksum, parameters equal to the manifest's), every
//! extent inside the file, aligned and apart, every tombstone in range. List
//! bytes are checked against their CRC32 lazily, since a full pass reads the
//! whole file: a writer checks a list the first time it changes it (append,
//! tombstone, compaction; a rewrite checks all), so the CRC it writes at
//! commit never covers bytes damaged on disk, and the change fails with an
//! error naming the file and the list. Readers do not check (searches go
//! through the map); `verify` (`facefind doctor`) checks every list.
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapMut};

use super::format::{self, Reader, Writer};
use super::invlists::{self, CodeLayout, InvertedLists, MAX_LIST_LEN};
use crate::compute::pq4;
use crate::error::{IndexError, IndexResult};

pub const MANIFEST: &str = "MANIFEST";
const MANIFEST_CODE: &[u8; 4] = b"DLst";
const DATA_MAGIC: [u8; 8] = *b"FFLISTS\0";
/// Version of the data file layout this build writes and reads.
pub const LISTS_VERSION: u32 = 1;
const HEADER_LEN: u64 = 64;
/// Capacities are multiples of one block of 4-bit codes.
const MIN_CAPACITY: usize = pq4::BLOCK;
/// File growth step, so small appends do not remap every time.
const GROW_STEP: u64 = 1 << 20;
/// A full rewrite happens only past this much dead space.
const REWRITE_MIN_GARBAGE: u64 = 1 << 20;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Extent {
    offset: u64,
    capacity: u32,
    len: u32,
    crc: u32,
}

enum Map {
    Read(Mmap),
    Write(MmapMut),
}

impl Map {
    fn bytes(&self) -> &[u8] {
        match self {
            Map::Read(m) => m,
            Map::Write(m) => m,
        }
    }
}

/// Inverted lists whose bytes live in a mapped file (see the module docs).
pub struct OnDiskLists {
    dir: PathBuf,
    data_path: PathBuf,
    file: File,
    map: Map,
    layout: CodeLayout,
    vector_bytes: usize,
    seed: u64,
    generation: u64,
    quantizer: String,
    extents: Vec<Extent>,
    /// Tombstoned positions per list (only lists that have any).
    dead: HashMap<usize, HashSet<u32>>,
    /// First byte past the last extent.
    end: u64,
    /// Lists changed since the last commit (their CRC is stale).
    dirty: HashSet<usize>,
    /// Lists whose bytes were checked against their CRC32 (or written by us)
    /// since the file was opened: a writer checks a list before it changes
    /// it, so its new CRC never blesses bytes damaged on disk.
    checked: Vec<bool>,
}

fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

fn layout_code(layout: CodeLayout) -> (u8, usize) {
    match layout {
        CodeLayout::Flat { code_size } => (0, code_size),
        CodeLayout::Packed4 { m } => (1, m),
    }
}

fn layout_from(tag: u8, param: usize) -> Option<CodeLayout> {
    match (tag, param) {
        (0, code_size) if code_size > 0 => Some(CodeLayout::Flat { code_size }),
        (1, m) if m > 0 && m.is_multiple_of(2) => Some(CodeLayout::Packed4 { m }),
        _ => None,
    }
}

/// The data-file name of generation `g`.
pub fn data_name(g: u64) -> String {
    format!("lists-{g}.dat")
}

impl OnDiskLists {
    /// Starts generation `generation` in `dir`: a fresh, empty data file. Nothing
    /// is visible until the first `commit` writes the manifest naming it.
    pub fn create(
        dir: &Path,
        generation: u64,
        quantizer: &str,
        nlist: usize,
        layout: CodeLayout,
        vector_bytes: usize,
        seed: u64,
    ) -> IndexResult<Self> {
        let data_path = dir.join(data_name(generation));
        let io = |e| IndexError::io(&data_path, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&data_path)
            .map_err(io)?;
        file.set_len(GROW_STEP).map_err(io)?;
        // SAFETY: the file was just created by us and is only resized by us;
        // other processes map it read-only and never truncate it.
        let mut map = unsafe { MmapMut::map_mut(&file) }.map_err(io)?;
        map[..HEADER_LEN as usize].copy_from_slice(&header(layout, vector_bytes, nlist, seed));
        Ok(Self {
            dir: dir.to_owned(),
            data_path,
            file,
            map: Map::Write(map),
            layout,
            vector_bytes,
            seed,
            generation,
            quantizer: quantizer.to_owned(),
            extents: vec![Extent::default(); nlist],
            dead: HashMap::new(),
            end: HEADER_LEN,
            dirty: (0..nlist).collect(),
            checked: vec![true; nlist],
        })
    }

    /// Opens the lists named by `dir/MANIFEST`, validating every size and
    /// offset against the data file. Read-only lists refuse changes.
    pub fn open(dir: &Path, writable: bool) -> IndexResult<Self> {
        let manifest_path = dir.join(MANIFEST);
        let bytes = format::read_file(&manifest_path)?;
        let mut r = Reader::new(&manifest_path, &bytes);
        r.expect(MANIFEST_CODE)?;
        let generation = r.u64()?;
        let quantizer = r.str()?;
        let data = r.str()?;
        if data != data_name(generation) || quantizer.contains('/') || quantizer.is_empty() {
            return Err(r.corrupt(format!(
                "file names {quantizer:?} and {data:?} do not fit generation {generation}"
            )));
        }
        let (tag, param) = (r.u8()?, r.usize()?);
        let layout = layout_from(tag, param)
            .ok_or_else(|| r.corrupt(format!("unknown code layout {tag}/{param}")))?;
        let (vector_bytes, nlist, seed, end) = (r.usize()?, r.usize()?, r.u64()?, r.u64()?);
        if nlist == 0 || nlist > u32::MAX as usize {
            return Err(r.corrupt(format!("{nlist} lists")));
        }
        let mut extents = Vec::with_capacity(nlist);
        for _ in 0..nlist {
            let (offset, capacity, len, crc) = (r.u64()?, r.u32()?, r.u32()?, r.u32()?);
            extents.push(Extent {
                offset,
                capacity,
                len,
                crc,
            });
        }
        let labels = r.u64s(None)?;
        r.done()?;
        let data_path = dir.join(&data);
        let io = |e| IndexError::io(&data_path, e);
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&data_path)
            .map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        if file_len < end || end < HEADER_LEN {
            return Err(IndexError::corrupt(
                &data_path,
                format!("truncated: {file_len} bytes, the manifest names {end}"),
            ));
        }
        // SAFETY: our writers never truncate a data file nor change bytes the
        // manifest we read references (see the module docs); every offset
        // taken from the map is validated below before use.
        let map = unsafe {
            if writable {
                MmapMut::map_mut(&file).map(Map::Write)
            } else {
                Mmap::map(&file).map(Map::Read)
            }
        }
        .map_err(io)?;
        let want = header(layout, vector_bytes, nlist, seed);
        check_header(&data_path, &map.bytes()[..HEADER_LEN as usize], &want)?;
        let mut lists = Self {
            dir: dir.to_owned(),
            data_path,
            file,
            map,
            layout,
            vector_bytes,
            seed,
            generation,
            quantizer,
            extents,
            dead: HashMap::new(),
            end,
            dirty: HashSet::new(),
            checked: vec![false; nlist],
        };
        lists.check_extents(&manifest_path)?;
        for label in labels {
            let (list, pos) = ((label >> 32) as usize, (label & 0xffff_ffff) as u32);
            let fits = list < nlist && pos < lists.extents[list].len;
            if !fits || !lists.dead.entry(list).or_default().insert(pos) {
                return Err(IndexError::corrupt(
                    &manifest_path,
                    format!("tombstone {list}:{pos} is out of range or repeated"),
                ));
            }
        }
        if writable {
            lists.remove_leftovers()?;
        }
        Ok(lists)
    }

    /// Every extent inside the data file, aligned, non-overlapping, length within capacity.
    fn check_extents(&self, manifest: &Path) -> IndexResult<()> {
        let mut spans = Vec::new();
        for (list, e) in self.extents.iter().enumerate() {
            let bad = |why: String| IndexError::corrupt(manifest, format!("list {list}: {why}"));
            if e.len > e.capacity {
                return Err(bad(format!(
                    "length {} over capacity {}",
                    e.len, e.capacity
                )));
            }
            if e.capacity == 0 {
                continue;
            }
            let size = self.extent_bytes(e.capacity as usize) as u64;
            if e.offset < HEADER_LEN || !e.offset.is_multiple_of(8) {
                return Err(bad(format!("offset {} is misplaced", e.offset)));
            }
            if e.offset
                .checked_add(size)
                .is_none_or(|stop| stop > self.end)
            {
                return Err(bad(format!(
                    "extent {}+{size} runs past the data end {}",
                    e.offset, self.end
                )));
            }
            spans.push((e.offset, e.offset + size, list));
        }
        spans.sort_unstable();
        if let Some(w) = spans.windows(2).find(|w| w[1].0 < w[0].1) {
            return Err(IndexError::corrupt(
                manifest,
                format!("lists {} and {} overlap", w[0].2, w[1].2),
            ));
        }
        Ok(())
    }

    /// Deletes data and quantizer files of generations a crash left unnamed.
    fn remove_leftovers(&self) -> IndexResult<()> {
        let io = |e| IndexError::io(&self.dir, e);
        let live = [data_name(self.generation), self.quantizer.clone()];
        for entry in std::fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = name.starts_with("lists-")
                || name.starts_with("quantizer-")
                || name.ends_with(".tmp");
            if ours && !live.contains(&name) {
                std::fs::remove_file(entry.path()).map_err(|e| IndexError::io(entry.path(), e))?;
            }
        }
        Ok(())
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
    /// File name (in the index directory) of the quantizer these lists belong to.
    pub fn quantizer(&self) -> &str {
        &self.quantizer
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Bytes of the data file in use (past them: space for growth).
    pub fn data_len(&self) -> u64 {
        self.end
    }

    /// Bytes the data file uses (up to the last extent) plus the manifest.
    pub fn bytes_on_disk(&self) -> u64 {
        let manifest = std::fs::metadata(self.dir.join(MANIFEST)).map_or(0, |m| m.len());
        self.end + manifest
    }

    fn codes_bytes(&self, capacity: usize) -> usize {
        round8(self.layout.stored_len(capacity))
    }
    fn extent_bytes(&self, capacity: usize) -> usize {
        self.codes_bytes(capacity) + capacity * 8 + round8(capacity * self.vector_bytes)
    }
    /// Byte ranges of codes, ids and vectors of a `capacity`-extent at `offset`.
    fn regions(&self, offset: u64, capacity: usize) -> [std::ops::Range<usize>; 3] {
        let o = offset as usize;
        let ids = o + self.codes_bytes(capacity);
        let vectors = ids + capacity * 8;
        [
            o..ids,
            ids..vectors,
            vectors..vectors + capacity * self.vector_bytes,
        ]
    }

    fn writable(&mut self) -> IndexResult<&mut MmapMut> {
        match &mut self.map {
            Map::Write(m) => Ok(m),
            Map::Read(_) => Err(IndexError::Param(format!(
                "{} is open read-only",
                self.data_path.display()
            ))),
        }
    }

    /// Reserves a zeroed extent of `capacity` slots past the end, growing the file.
    fn allocate(&mut self, capacity: usize) -> IndexResult<u64> {
        let size = self.extent_bytes(capacity) as u64;
        let offset = self.end;
        let need = offset + size;
        let have = self.map.bytes().len() as u64;
        if need > have {
            let grown = need.max(have + have / 4).div_ceil(GROW_STEP) * GROW_STEP;
            let io = |e| IndexError::io(&self.data_path, e);
            self.file.set_len(grown).map_err(io)?;
            // SAFETY: as in `create`; the old map is dropped by the assignment.
            self.map = Map::Write(unsafe { MmapMut::map_mut(&self.file) }.map_err(io)?);
        }
        self.writable()?[offset as usize..need as usize].fill(0);
        self.end = need;
        Ok(offset)
    }

    /// Moves list `list` into a fresh extent of `capacity` slots, keeping its bytes.
    fn grow(&mut self, list: usize, capacity: usize) -> IndexResult<()> {
        let old = self.extents[list];
        let offset = self.allocate(capacity)?;
        let (from, to) = (
            self.regions(old.offset, old.capacity as usize),
            self.regions(offset, capacity),
        );
        let lens = [
            self.layout.stored_len(old.len as usize),
            old.len as usize * 8,
            old.len as usize * self.vector_bytes,
        ];
        if old.capacity > 0 {
            let map = self.writable()?;
            for ((f, t), n) in from.iter().zip(&to).zip(lens) {
                map.copy_within(f.start..f.start + n, t.start);
            }
        }
        self.extents[list] = Extent {
            offset,
            capacity: capacity as u32,
            ..old
        };
        Ok(())
    }

    /// Rewrites list `list` without its tombstones into a fresh extent.
    fn compact_list(&mut self, list: usize) -> IndexResult<()> {
        self.check_before_change(list)?;
        let live = invlists::live_entries(self, list);
        self.dead.remove(&list);
        self.extents[list] = Extent::default();
        self.dirty.insert(list);
        if !live.ids.is_empty() {
            self.append(list, &live.codes, &live.ids, &live.vectors)?;
        }
        Ok(())
    }

    /// Bytes of extents no list uses any more.
    fn garbage(&self) -> u64 {
        let used: u64 = self
            .extents
            .iter()
            .map(|e| self.extent_bytes(e.capacity as usize) as u64)
            .sum();
        self.end - HEADER_LEN - used
    }

    /// Copies the live lists into generation + 1 and switches to it.
    fn rewrite(&mut self) -> IndexResult<()> {
        (0..self.nlist()).try_for_each(|list| self.check_before_change(list))?;
        let mut next = Self::create(
            &self.dir,
            self.generation + 1,
            &self.quantizer,
            self.nlist(),
            self.layout,
            self.vector_bytes,
            self.seed,
        )?;
        invlists::copy_lists(self, &mut next)?;
        next.write_manifest()?;
        let old = std::mem::replace(self, next);
        std::fs::remove_file(&old.data_path).map_err(|e| IndexError::io(&old.data_path, e))
    }

    /// CRC32 of list `list`'s live bytes; unused slots of a last 4-bit block
    /// are masked (an uncommitted append may have written them before a crash).
    fn list_crc(&self, list: usize) -> u32 {
        let e = self.extents[list];
        let mut h = crc32fast::Hasher::new();
        let codes = self.codes(list);
        match self.layout {
            CodeLayout::Packed4 { m } if !(e.len as usize).is_multiple_of(pq4::BLOCK) => {
                let bb = pq4::block_bytes(m);
                let (full, last) = codes.split_at(codes.len() - bb);
                h.update(full);
                let mut block = last.to_vec();
                let zeros = vec![0u8; m];
                for slot in e.len as usize % pq4::BLOCK..pq4::BLOCK {
                    pq4::set_codes(&mut block, slot, &zeros);
                }
                h.update(&block);
            }
            _ => h.update(codes),
        }
        h.update(bytes_of_ids(self.ids(list)));
        h.update(self.vectors(list));
        h.finalize()
    }

    /// Checks list `list` against its CRC32.
    fn verify_list(&self, list: usize) -> IndexResult<()> {
        let (stored, actual) = (self.extents[list].crc, self.list_crc(list));
        if stored != actual {
            return Err(IndexError::corrupt(
                &self.data_path,
                format!(
                    "list {list}: checksum mismatch (stored {stored:08x}, computed {actual:08x})"
                ),
            ));
        }
        Ok(())
    }

    /// Checks every list against its CRC32 (reads the whole file).
    pub fn verify(&self) -> IndexResult<()> {
        (0..self.nlist()).try_for_each(|list| self.verify_list(list))
    }

    /// Checks list `list` once per open, on its first change.
    fn check_before_change(&mut self, list: usize) -> IndexResult<()> {
        if !self.checked[list] {
            self.verify_list(list)?;
            self.checked[list] = true;
        }
        Ok(())
    }

    /// Drops the data file from the page cache, so the next reads come from
    /// disk: our own mapping of the pages goes first (the kernel keeps mapped pages).
    pub fn drop_page_cache(&self) -> IndexResult<()> {
        let io = |e| IndexError::io(&self.data_path, e);
        // SAFETY: MADV_DONTNEED on a shared file mapping only drops our page
        // table entries; the next access faults the file's bytes back in.
        unsafe {
            match &self.map {
                Map::Read(m) => m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed),
                Map::Write(m) => m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed),
            }
        }
        .map_err(io)?;
        // SAFETY: a plain syscall on a file descriptor we own.
        let rc =
            unsafe { libc::posix_fadvise(self.file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if rc != 0 {
            return Err(io(std::io::Error::from_raw_os_error(rc)));
        }
        Ok(())
    }

    fn write_manifest(&mut self) -> IndexResult<()> {
        let dirty: Vec<usize> = self.dirty.drain().collect();
        for list in dirty {
            self.extents[list].crc = self.list_crc(list);
        }
        self.writable()?
            .flush()
            .map_err(|e| IndexError::io(&self.data_path, e))?;
        let mut dead: Vec<u64> = self
            .dead
            .iter()
            .flat_map(|(&l, ps)| ps.iter().map(move |&p| ((l as u64) << 32) | p as u64))
            .collect();
        dead.sort_unstable();
        let (tag, param) = layout_code(self.layout);
        format::save_atomic(&self.dir.join(MANIFEST), |w: &mut Writer<_>| {
            w.fourcc(MANIFEST_CODE);
            w.u64(self.generation);
            w.str(&self.quantizer);
            w.str(&data_name(self.generation));
            w.u8(tag);
            w.usize(param);
            w.usize(self.vector_bytes);
            w.usize(self.extents.len());
            w.u64(self.seed);
            w.u64(self.end);
            for e in &self.extents {
                w.u64(e.offset);
                w.u32(e.capacity);
                w.u32(e.len);
                w.u32(e.crc);
            }
            w.u64s(&dead);
        })
    }
}

/// Starts a new index directory `dir`: the quantizer file (the index object
/// with empty lists, written by `write_quantizer`), then `from`'s live entries
/// in generation 1 of the lists, committed.
pub fn create_dir(
    dir: &Path,
    seed: u64,
    from: &dyn InvertedLists,
    write_quantizer: impl FnOnce(&mut Writer<std::io::BufWriter<File>>),
) -> IndexResult<OnDiskLists> {
    std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
    let name = "quantizer-1.ffi";
    format::save_atomic(&dir.join(name), write_quantizer)?;
    let mut lists = OnDiskLists::create(
        dir,
        1,
        name,
        from.nlist(),
        from.layout(),
        from.vector_bytes(),
        seed,
    )?;
    invlists::copy_lists(from, &mut lists)?;
    lists.commit()?;
    Ok(lists)
}

/// Opens the lists of index directory `dir`, and reads (and checks) its quantizer file.
pub fn open_dir(dir: &Path, writable: bool) -> IndexResult<(OnDiskLists, PathBuf, Vec<u8>)> {
    let lists = OnDiskLists::open(dir, writable)?;
    let path = dir.join(lists.quantizer());
    let bytes = format::read_file(&path)?;
    Ok((lists, path, bytes))
}

/// The power-of-two capacity that holds `n` entries.
fn capacity_for(n: usize) -> usize {
    n.next_power_of_two().max(MIN_CAPACITY)
}

fn bytes_of_ids(ids: &[u64]) -> &[u8] {
    // SAFETY: u64s viewed as bytes (the map is little-endian, as the format).
    unsafe { std::slice::from_raw_parts(ids.as_ptr() as *const u8, ids.len() * 8) }
}

fn header(layout: CodeLayout, vector_bytes: usize, nlist: usize, seed: u64) -> [u8; 64] {
    let (tag, param) = layout_code(layout);
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(&DATA_MAGIC);
    h[8..12].copy_from_slice(&LISTS_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(tag as u32).to_le_bytes());
    h[16..24].copy_from_slice(&(param as u64).to_le_bytes());
    h[24..32].copy_from_slice(&(vector_bytes as u64).to_le_bytes());
    h[32..40].copy_from_slice(&(nlist as u64).to_le_bytes());
    h[40..48].copy_from_slice(&seed.to_le_bytes());
    let crc = crc32fast::hash(&h[..48]);
    h[48..52].copy_from_slice(&crc.to_le_bytes());
    h
}

fn check_header(path: &Path, got: &[u8], want: &[u8; 64]) -> IndexResult<()> {
    if got[..8] != DATA_MAGIC {
        return Err(IndexError::corrupt(
            path,
            "not a facefind list file (bad magic)",
        ));
    }
    let version = u32::from_le_bytes(got[8..12].try_into().expect("4 bytes"));
    if version != LISTS_VERSION {
        return Err(IndexError::Version {
            path: path.into(),
            found: version,
            supported: LISTS_VERSION.to_string(),
        });
    }
    if crc32fast::hash(&got[..48]).to_le_bytes() != got[48..52] {
        return Err(IndexError::corrupt(path, "header checksum mismatch"));
    }
    if got != want {
        return Err(IndexError::corrupt(
            path,
            "header parameters disagree with the manifest",
        ));
    }
    Ok(())
}

impl InvertedLists for OnDiskLists {
    fn nlist(&self) -> usize {
        self.extents.len()
    }
    fn layout(&self) -> CodeLayout {
        self.layout
    }
    fn vector_bytes(&self) -> usize {
        self.vector_bytes
    }
    fn list_len(&self, list: usize) -> usize {
        self.extents[list].len as usize
    }
    fn codes(&self, list: usize) -> &[u8] {
        let e = self.extents[list];
        let [codes, _, _] = self.regions(e.offset, e.capacity as usize);
        &self.map.bytes()[codes.start..codes.start + self.layout.stored_len(e.len as usize)]
    }
    fn ids(&self, list: usize) -> &[u64] {
        let e = self.extents[list];
        if e.len == 0 {
            return &[];
        }
        let [_, ids, _] = self.regions(e.offset, e.capacity as usize);
        let bytes = &self.map.bytes()[ids.start..ids.start + e.len as usize * 8];
        // SAFETY: the range is inside the map (validated on open), 8-aligned
        // (page-aligned map, 8-aligned offsets and regions), and any bits are a valid u64.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const u64, e.len as usize) }
    }
    fn vectors(&self, list: usize) -> &[u8] {
        let e = self.extents[list];
        let [_, _, vectors] = self.regions(e.offset, e.capacity as usize);
        &self.map.bytes()[vectors.start..vectors.start + e.len as usize * self.vector_bytes]
    }
    fn append(
        &mut self,
        list: usize,
        codes: &[u8],
        ids: &[u64],
        vectors: &[u8],
    ) -> IndexResult<()> {
        assert_eq!(
            codes.len(),
            ids.len() * self.layout.code_size(),
            "one code per id"
        );
        assert_eq!(
            vectors.len(),
            ids.len() * self.vector_bytes,
            "one vector copy per id"
        );
        self.writable()?;
        self.check_before_change(list)?;
        let old = self.extents[list].len as usize;
        let new = old + ids.len();
        if new > MAX_LIST_LEN {
            return Err(IndexError::Param(format!(
                "list {list} would hold {new} vectors, over {MAX_LIST_LEN}"
            )));
        }
        let capacity = self.extents[list].capacity as usize;
        if new > capacity {
            // a list filled in one go (a build, a compaction) gets no slack;
            // one that grows gets power-of-two room, so growth stays amortised
            let room = if capacity == 0 {
                new.next_multiple_of(MIN_CAPACITY)
            } else {
                capacity_for(new)
            };
            self.grow(list, room)?;
        }
        let e = self.extents[list];
        let [c, i, v] = self.regions(e.offset, e.capacity as usize);
        let (layout, vb) = (self.layout, self.vector_bytes);
        let map = self.writable()?;
        invlists::put_codes(layout, &mut map[c], old, codes);
        for (slot, id) in map[i][old * 8..new * 8].chunks_exact_mut(8).zip(ids) {
            slot.copy_from_slice(&id.to_le_bytes());
        }
        map[v][old * vb..new * vb].copy_from_slice(vectors);
        self.extents[list].len = new as u32;
        self.dirty.insert(list);
        Ok(())
    }
    fn remove(&mut self, ids: &HashSet<u64>) -> IndexResult<usize> {
        self.writable()?;
        let mut removed = 0;
        for list in 0..self.nlist() {
            let hits: Vec<u32> = self
                .ids(list)
                .iter()
                .enumerate()
                .filter(|&(pos, id)| ids.contains(id) && !self.is_dead(list, pos))
                .map(|(pos, _)| pos as u32)
                .collect();
            if hits.is_empty() {
                continue;
            }
            // the hits were found through these ids: they must be the stored ones
            self.check_before_change(list)?;
            removed += hits.len();
            let dead = self.dead.entry(list).or_default();
            dead.extend(hits);
            // a quarter dead: rewriting the list costs less than scanning its corpses
            if dead.len() * 4 >= self.extents[list].len as usize {
                self.compact_list(list)?;
            }
        }
        Ok(removed)
    }
    fn dead(&self, list: usize) -> usize {
        self.dead.get(&list).map_or(0, HashSet::len)
    }
    fn is_dead(&self, list: usize, pos: usize) -> bool {
        self.dead
            .get(&list)
            .is_some_and(|d| d.contains(&(pos as u32)))
    }
    fn compact(&mut self) -> IndexResult<()> {
        self.write_manifest()?;
        self.rewrite()
    }
    fn as_on_disk(&self) -> Option<&OnDiskLists> {
        Some(self)
    }
    fn commit(&mut self) -> IndexResult<()> {
        let garbage = self.garbage();
        if garbage > REWRITE_MIN_GARBAGE && garbage > self.end - garbage {
            return self.rewrite();
        }
        self.write_manifest()
    }
}
