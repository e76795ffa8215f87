//! Numeric kernels on plain slices. Knows nothing of index types.
pub mod cpu;

/// How two vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Metric {
    /// Inner product; on L2-normalised vectors, cosine similarity. Higher is closer.
    InnerProduct,
    /// Squared Euclidean distance. Lower is closer.
    L2,
}
