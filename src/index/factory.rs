//! FAISS-style index specs, parsed in one place.
//!
//! Grammar (case-sensitive, comma-separated, FAISS names):
//! `Flat` | `IVF{nlist},Flat` | `IVF{nlist},PQ{m}` | `IVF{nlist},PQ{m}x4fs`,
//! the IVF forms optionally followed by `,RFlat` (exact f32 re-ranking) or
//! `,Refine(SQfp16)` (half-precision re-ranking); or `auto`.
use super::flat::FlatIndex;
use super::ivf::IvfIndex;
use super::{Metric, VectorIndex};
use crate::error::{IndexError, IndexResult};

/// How the vectors inside an inverted list are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListCodec {
    /// Full f32 vectors (`IVF{n},Flat`).
    Flat,
    /// `m` sub-quantisers of 8 bits (`PQ{m}`).
    Pq8 { m: usize },
    /// `m` sub-quantisers of 4 bits in the fast-scan layout (`PQ{m}x4fs`).
    Pq4fs { m: usize },
}

/// The optional exact re-ranking stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refine {
    None,
    /// `RFlat`: f32 copies of the vectors.
    F32,
    /// `Refine(SQfp16)`: f16 copies.
    F16,
}

/// A parsed spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spec {
    Flat,
    Ivf {
        nlist: usize,
        codec: ListCodec,
        refine: Refine,
    },
}

/// Below this many vectors `auto` picks `Flat`. Exact search costs N·D
/// multiply-adds per query: at 50,000 × 128 that is about 6.4 M, which the
/// blocked kernel does at well over 2,000 queries/s on 2 cores, and there is
/// no training, no recall loss and no index overhead. FAISS measured here
/// (2 threads, 1M×128 face-like data) gives Flat ≈158 QPS against ≈1,050 for
/// IVF4096,PQ64x4fs,RFlat at recall@10 0.95, and at 100k ≈1,580 vs ≈7,550:
/// the gap shrinks with N and below ~50k IVF's recall loss and training
/// time are no longer worth it.
pub const AUTO_FLAT_BELOW: usize = 50_000;

impl Spec {
    /// Parses `spec` for vectors of `dim`; `auto` uses `n_hint` (see [`Spec::auto`]).
    pub fn parse(spec: &str, dim: usize, n_hint: usize) -> IndexResult<Spec> {
        let err = |reason: String| IndexError::Spec {
            spec: spec.to_string(),
            reason,
        };
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let parsed = match parts.as_slice() {
            ["auto"] => Spec::auto(dim, n_hint),
            ["Flat"] => Spec::Flat,
            [ivf, codec, rest @ ..] if ivf.starts_with("IVF") => {
                let nlist = number(&ivf[3..]).ok_or_else(|| {
                    err(format!("{ivf:?}: expected IVF followed by a list count"))
                })?;
                let codec = parse_codec(codec).ok_or_else(|| {
                    err(format!("{codec:?}: expected Flat, PQ{{m}} or PQ{{m}}x4fs"))
                })?;
                let refine = match rest {
                    [] => Refine::None,
                    ["RFlat"] => Refine::F32,
                    ["Refine(SQfp16)"] => Refine::F16,
                    _ => {
                        return Err(err(format!(
                            "{:?}: expected RFlat or Refine(SQfp16)",
                            rest.join(",")
                        )));
                    }
                };
                if codec == ListCodec::Flat && refine != Refine::None {
                    return Err(err("re-ranking exact IVF-Flat lists gains nothing".into()));
                }
                Spec::Ivf {
                    nlist,
                    codec,
                    refine,
                }
            }
            _ => return Err(err(
                "expected Flat, IVF{n},Flat, IVF{n},PQ{m}[x4fs][,RFlat|,Refine(SQfp16)] or auto"
                    .into(),
            )),
        };
        parsed.validate(dim).map_err(err)?;
        Ok(parsed)
    }

    /// The `auto` rule: `Flat` below [`AUTO_FLAT_BELOW`] vectors; above,
    /// `IVF{nlist},PQ{m}x4fs,RFlat` with nlist the power of two at or above
    /// 4·√N (so within 4·√N … 8·√N, inside FAISS's 4·√N … 16·√N advice; at
    /// 1M that is 4096, FAISS's best here), and exact re-ranking, which buys
    /// recall for the price of the raw vectors the catalog keeps anyway.
    /// `m` is the largest even divisor of the dimension up to dim/2 (codes of
    /// two values each), capped at 256, the most a fast-scan sum holds in
    /// 16 bits. Measured on face-like 1M sets (2 threads, `benches/RESULTS.md`
    /// §4): at 128-d PQ64x4fs (32 B) reaches recall@10 0.96 at nprobe 512
    /// (k_factor 32); at 512-d four values per code are too coarse for
    /// re-ranking to recover: PQ64x4fs stalls at 0.83, PQ128x4fs at 0.93 even
    /// at nprobe 1024 and k_factor 64, while PQ256x4fs (128 B, still 6 % of
    /// the 2 KB re-ranking copy) gives 0.968 at nprobe 512, k_factor 64.
    pub fn auto(dim: usize, n_hint: usize) -> Spec {
        if n_hint < AUTO_FLAT_BELOW {
            return Spec::Flat;
        }
        Spec::auto_ivf(dim, n_hint)
    }

    /// The IVF half of [`Spec::auto`], for any `n_hint` (the library's
    /// index policy may switch at another size than `AUTO_FLAT_BELOW`).
    pub fn auto_ivf(dim: usize, n_hint: usize) -> Spec {
        let nlist = ((4.0 * (n_hint as f64).sqrt()).ceil() as usize).next_power_of_two();
        let m = (1..=(dim / 2).min(256))
            .rev()
            .find(|m| m % 2 == 0 && dim.is_multiple_of(*m))
            .unwrap_or(2);
        Spec::Ivf {
            nlist,
            codec: ListCodec::Pq4fs { m },
            refine: Refine::F32,
        }
    }

    fn validate(&self, dim: usize) -> Result<(), String> {
        if dim == 0 {
            return Err("dimension 0".into());
        }
        if let Spec::Ivf { nlist, codec, .. } = *self {
            if nlist == 0 {
                return Err("nlist must be at least 1".into());
            }
            match codec {
                ListCodec::Flat => {}
                ListCodec::Pq8 { m } | ListCodec::Pq4fs { m }
                    if m == 0 || !dim.is_multiple_of(m) =>
                {
                    return Err(format!("PQ{m} does not divide the dimension {dim}"));
                }
                ListCodec::Pq4fs { m } if m % 2 != 0 || m > 256 => {
                    return Err(format!("fast-scan needs an even m of at most 256, got {m}"));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The canonical spec string.
    pub fn to_spec_string(&self) -> String {
        match *self {
            Spec::Flat => "Flat".into(),
            Spec::Ivf {
                nlist,
                codec,
                refine,
            } => {
                let codec = match codec {
                    ListCodec::Flat => "Flat".to_string(),
                    ListCodec::Pq8 { m } => format!("PQ{m}"),
                    ListCodec::Pq4fs { m } => format!("PQ{m}x4fs"),
                };
                let refine = match refine {
                    Refine::None => "",
                    Refine::F32 => ",RFlat",
                    Refine::F16 => ",Refine(SQfp16)",
                };
                format!("IVF{nlist},{codec}{refine}")
            }
        }
    }
}

fn number(s: &str) -> Option<usize> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_codec(s: &str) -> Option<ListCodec> {
    if s == "Flat" {
        return Some(ListCodec::Flat);
    }
    let rest = s.strip_prefix("PQ")?;
    match rest.strip_suffix("x4fs") {
        Some(m) => number(m).map(|m| ListCodec::Pq4fs { m }),
        None => number(rest).map(|m| ListCodec::Pq8 { m }),
    }
}

/// Builds an empty index from a spec string (see the module docs).
pub fn index_factory(
    spec: &str,
    dim: usize,
    metric: Metric,
    n_hint: usize,
) -> IndexResult<Box<dyn VectorIndex>> {
    Ok(match Spec::parse(spec, dim, n_hint)? {
        Spec::Flat => Box::new(FlatIndex::new(dim, metric)),
        Spec::Ivf {
            nlist,
            codec,
            refine,
        } => Box::new(IvfIndex::new(dim, metric, nlist, codec, refine)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_form() {
        for s in [
            "Flat",
            "IVF16,Flat",
            "IVF64,PQ8",
            "IVF64,PQ16x4fs",
            "IVF64,PQ16,RFlat",
            "IVF8,PQ4x4fs,Refine(SQfp16)",
        ] {
            assert_eq!(Spec::parse(s, 32, 0).unwrap().to_spec_string(), s);
        }
    }

    #[test]
    fn refuses_bad_specs_with_a_reason() {
        for s in [
            "",
            "HNSW32",
            "IVF,Flat",
            "IVF0,Flat",
            "IVF16,PQ5",
            "IVF16,PQ3x4fs",
            "IVF16,Flat,RFlat",
            "IVF16,PQ8,Refine(SQ8)",
            "Flat,RFlat",
        ] {
            assert!(
                matches!(Spec::parse(s, 32, 0), Err(IndexError::Spec { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn auto_follows_the_documented_rule() {
        assert_eq!(Spec::auto(128, 10_000), Spec::Flat);
        let Spec::Ivf {
            nlist,
            codec,
            refine,
        } = Spec::auto(128, 1_000_000)
        else {
            panic!("IVF expected")
        };
        assert_eq!(
            (nlist, codec, refine),
            (4096, ListCodec::Pq4fs { m: 64 }, Refine::F32)
        );
        let Spec::Ivf { codec, .. } = Spec::auto(512, 1_000_000) else {
            panic!("IVF expected")
        };
        assert_eq!(codec, ListCodec::Pq4fs { m: 256 });
        let Spec::Ivf { codec, .. } = Spec::auto(1024, 1_000_000) else {
            panic!("IVF expected")
        };
        assert_eq!(codec, ListCodec::Pq4fs { m: 256 });
        assert!(matches!(
            Spec::auto(64, 1_000_000),
            Spec::Ivf {
                codec: ListCodec::Pq4fs { m: 32 },
                ..
            }
        ));
        for n in [50_000usize, 300_000, 5_000_000, 100_000_000] {
            let Spec::Ivf { nlist, .. } = Spec::auto(512, n) else {
                panic!("IVF expected")
            };
            let root = (n as f64).sqrt();
            assert!(
                nlist as f64 >= 4.0 * root && nlist as f64 <= 16.0 * root,
                "{n}: {nlist}"
            );
        }
    }
}
