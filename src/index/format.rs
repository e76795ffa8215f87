//! The index file format.
//!
//! ```text
//! file   := MAGIC (8) VERSION (u32) object… CRC32 (u32, of everything before) END (4)
//! object := FOURCC (4) fields…          // one code per object type, as FAISS does
//! ```
//! All numbers are little-endian. Arrays are a `u64` count then the items.
//! Writes are crash-safe: a `*.tmp` file beside the target, fsync, rename,
//! fsync of the directory. Reading checks magic, version, end marker and
//! checksum before parsing, and every count against the bytes left.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use half::f16;

use crate::error::{IndexError, IndexResult};
use crate::index::Metric;

pub const MAGIC: [u8; 8] = *b"FFINDEX\0";
pub const END: [u8; 4] = *b"FFND";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
const HEADER: usize = 12;
const FOOTER: usize = 8;

/// A byte sink that keeps a running checksum and length.
pub struct Writer<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    len: u64,
    error: Option<std::io::Error>,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        let mut w = Self {
            out,
            crc: crc32fast::Hasher::new(),
            len: 0,
            error: None,
        };
        w.bytes(&MAGIC);
        w.u32(VERSION);
        w
    }

    /// Writes raw bytes (errors are kept and reported by `finish`).
    pub fn bytes(&mut self, b: &[u8]) {
        if self.error.is_none() {
            self.crc.update(b);
            self.len += b.len() as u64;
            if let Err(e) = self.out.write_all(b) {
                self.error = Some(e);
            }
        }
    }

    pub fn fourcc(&mut self, code: &[u8; 4]) {
        self.bytes(code);
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }
    pub fn metric(&mut self, m: Metric) {
        self.u8(match m {
            Metric::InnerProduct => 0,
            Metric::L2 => 1,
        });
    }
    pub fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.bytes(s.as_bytes());
    }
    /// A counted array, converted to little-endian bytes in chunks.
    fn array<T: Copy, const N: usize>(&mut self, v: &[T], to_le: impl Fn(T) -> [u8; N]) {
        self.usize(v.len());
        let mut buf = Vec::with_capacity(N * 4096);
        for chunk in v.chunks(4096) {
            buf.clear();
            chunk.iter().for_each(|&x| buf.extend_from_slice(&to_le(x)));
            self.bytes(&buf);
        }
    }
    pub fn u8s(&mut self, v: &[u8]) {
        self.usize(v.len());
        self.bytes(v);
    }
    pub fn f32s(&mut self, v: &[f32]) {
        self.array(v, f32::to_le_bytes);
    }
    pub fn u64s(&mut self, v: &[u64]) {
        self.array(v, u64::to_le_bytes);
    }
    pub fn f16s(&mut self, v: &[f16]) {
        self.array(v, |x: f16| x.to_bits().to_le_bytes());
    }

    /// Appends the checksum and end marker; returns the sink and the total length.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        let crc = self.crc.clone().finalize();
        self.bytes(&crc.to_le_bytes());
        self.bytes(&END);
        match self.error {
            Some(e) => Err(e),
            None => Ok((self.out, self.len)),
        }
    }
}

/// Counts the bytes `write` produces without storing them.
pub fn encoded_len(write: impl FnOnce(&mut Writer<std::io::Sink>)) -> u64 {
    let mut w = Writer::new(std::io::sink());
    write(&mut w);
    w.finish().map(|(_, n)| n).unwrap_or(0)
}

/// Writes a file crash-safely: `path.tmp`, fsync, rename, fsync of the directory.
pub fn save_atomic(
    path: &Path,
    write: impl FnOnce(&mut Writer<BufWriter<File>>),
) -> IndexResult<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| IndexError::io(p, e)
    };
    let file = File::create(&tmp).map_err(io(&tmp))?;
    let mut w = Writer::new(BufWriter::with_capacity(1 << 20, file));
    write(&mut w);
    let (buf, _) = w.finish().map_err(io(&tmp))?;
    let file = buf
        .into_inner()
        .map_err(|e| IndexError::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// A bounds-checked cursor over a whole index file already verified by `open`.
pub struct Reader<'a> {
    path: &'a Path,
    data: &'a [u8],
    pos: usize,
}

/// Reads `path` and checks magic, version, end marker and checksum.
pub fn read_file(path: &Path) -> IndexResult<Vec<u8>> {
    let data = std::fs::read(path).map_err(|e| IndexError::io(path, e))?;
    if data.len() < HEADER || data[..8] != MAGIC {
        return Err(IndexError::corrupt(
            path,
            "not a facefind index (bad magic)",
        ));
    }
    let version = u32::from_le_bytes(data[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(IndexError::Version {
            path: path.into(),
            found: version,
            supported: VERSION.to_string(),
        });
    }
    if data.len() < HEADER + FOOTER || data[data.len() - 4..] != END {
        return Err(IndexError::corrupt(
            path,
            format!("truncated: {} bytes and no end marker", data.len()),
        ));
    }
    let body = data.len() - FOOTER;
    let stored = u32::from_le_bytes(data[body..body + 4].try_into().expect("4 bytes"));
    let actual = crc32fast::hash(&data[..body]);
    if stored != actual {
        return Err(IndexError::corrupt(
            path,
            format!("checksum mismatch (stored {stored:08x}, computed {actual:08x})"),
        ));
    }
    Ok(data)
}

impl<'a> Reader<'a> {
    /// A cursor over the objects of a file returned by `read_file`.
    pub fn new(path: &'a Path, data: &'a [u8]) -> Self {
        Self {
            path,
            data: &data[..data.len() - FOOTER],
            pos: HEADER,
        }
    }

    pub fn corrupt(&self, reason: impl std::fmt::Display) -> IndexError {
        IndexError::corrupt(self.path, format!("at byte {}: {reason}", self.pos))
    }

    fn take(&mut self, n: usize) -> IndexResult<&'a [u8]> {
        if self.data.len() - self.pos < n {
            return Err(self.corrupt(format!(
                "needs {n} more bytes, {} left",
                self.data.len() - self.pos
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn fourcc(&mut self) -> IndexResult<[u8; 4]> {
        Ok(self.take(4)?.try_into().expect("4 bytes"))
    }
    pub fn expect(&mut self, code: &[u8; 4]) -> IndexResult<()> {
        let got = self.fourcc()?;
        if &got != code {
            return Err(self.corrupt(format!(
                "expected object {:?}, found {:?}",
                String::from_utf8_lossy(code),
                String::from_utf8_lossy(&got)
            )));
        }
        Ok(())
    }
    pub fn u8(&mut self) -> IndexResult<u8> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> IndexResult<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub fn u64(&mut self) -> IndexResult<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    /// A count or size, refused when absurd.
    pub fn usize(&mut self) -> IndexResult<usize> {
        let v = self.u64()?;
        usize::try_from(v)
            .ok()
            .filter(|&v| v <= self.data.len() * 8 + (1 << 32))
            .ok_or_else(|| self.corrupt(format!("size {v} is impossible")))
    }
    pub fn metric(&mut self) -> IndexResult<Metric> {
        match self.u8()? {
            0 => Ok(Metric::InnerProduct),
            1 => Ok(Metric::L2),
            v => Err(self.corrupt(format!("unknown metric code {v}"))),
        }
    }
    pub fn str(&mut self) -> IndexResult<String> {
        let n = self.usize()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| self.corrupt("string is not UTF-8"))
    }
    /// A counted array of `N`-byte items; `expected` (if given) must match the count.
    fn array<T, const N: usize>(
        &mut self,
        expected: Option<usize>,
        from_le: impl Fn([u8; N]) -> T,
    ) -> IndexResult<Vec<T>> {
        let n = self.usize()?;
        if let Some(e) = expected.filter(|&e| e != n) {
            return Err(self.corrupt(format!("array of {n} items where {e} were expected")));
        }
        let bytes = n
            .checked_mul(N)
            .ok_or_else(|| self.corrupt("array size overflows"))?;
        Ok(self
            .take(bytes)?
            .chunks_exact(N)
            .map(|c| from_le(c.try_into().expect("N bytes")))
            .collect())
    }
    pub fn u8s(&mut self, expected: Option<usize>) -> IndexResult<Vec<u8>> {
        self.array(expected, |b: [u8; 1]| b[0])
    }
    pub fn f32s(&mut self, expected: Option<usize>) -> IndexResult<Vec<f32>> {
        self.array(expected, f32::from_le_bytes)
    }
    pub fn u64s(&mut self, expected: Option<usize>) -> IndexResult<Vec<u64>> {
        self.array(expected, u64::from_le_bytes)
    }
    pub fn f16s(&mut self, expected: Option<usize>) -> IndexResult<Vec<f16>> {
        self.array(expected, |b| f16::from_bits(u16::from_le_bytes(b)))
    }
    /// Fails unless every byte was consumed.
    pub fn done(&self) -> IndexResult<()> {
        if self.pos != self.data.len() {
            return Err(self.corrupt(format!(
                "{} unexpected bytes after the index",
                self.data.len() - self.pos
            )));
        }
        Ok(())
    }
}
