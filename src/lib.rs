//! facefind: a face index of a local photo library.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod bench;
pub mod cli;
pub mod compute;
pub mod config;
pub mod error;
pub mod faces;
pub mod index;
pub mod jobs;
pub mod library;
pub mod people;
pub mod ui;
