//! Work over a library: indexing photos into faces and vectors, and search
//! by photo. Each long job reports progress and stops at the next batch when asked.
pub mod indexing;
pub mod people;
pub mod search;
pub mod worker;
