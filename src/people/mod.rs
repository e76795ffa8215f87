//! People: faces grouped into persons, lookalikes across persons, and
//! face-to-face paths. Everything here works on a k-nearest-neighbour graph
//! of the faces (positions `0..n`), so it scales with the index, not with n².
pub mod cluster;
pub mod graph;
pub mod identity;
pub mod lookalikes;
pub mod metrics;
pub mod paths;
