//! The photo library: folders on disk, the catalog that remembers them, and
//! the scan that keeps the two in step.
pub mod catalog;
pub mod lock;
pub mod scan;
