//! Long-running work over a library: indexing photos into faces and vectors.
//! Each job reports progress and stops at the next batch when asked.
pub mod indexing;
