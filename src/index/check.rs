//! Validation of caller input shared by every index kind.
use crate::error::{IndexError, IndexResult};

/// Checks `data` holds whole rows of `dim` finite values; returns the row count.
pub fn vectors(data: &[f32], dim: usize) -> IndexResult<usize> {
    if dim == 0 || !data.len().is_multiple_of(dim) {
        return Err(if data.len() < dim || dim == 0 {
            IndexError::Dimension {
                expected: dim,
                got: data.len(),
            }
        } else {
            IndexError::Ragged {
                len: data.len(),
                dim,
            }
        });
    }
    if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
        return Err(IndexError::NonFinite {
            row: pos / dim,
            col: pos % dim,
        });
    }
    Ok(data.len() / dim)
}

/// Checks there is one id per vector.
pub fn ids(ids: &[u64], n: usize) -> IndexResult<()> {
    if ids.len() != n {
        return Err(IndexError::IdCount {
            count: ids.len(),
            vectors: n,
        });
    }
    Ok(())
}

/// Checks a search for `k` results in an index of `ntotal` vectors.
pub fn k(k: usize, ntotal: usize) -> IndexResult<()> {
    if ntotal == 0 {
        return Err(IndexError::Empty);
    }
    if k == 0 {
        return Err(IndexError::Param("k must be at least 1".into()));
    }
    if k > ntotal {
        return Err(IndexError::KTooLarge { k, ntotal });
    }
    Ok(())
}
