//! The library commands of the CLI (`index`, `status`, `search`): each opens
//! the data dir, does its work through the library, and prints a readable
//! table or, with `--json`, one JSON document.
pub mod doctor;
pub mod faces;
pub mod library;
pub mod people;
pub mod search;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// `--data-dir`, else `FACEFIND_DATA_DIR`, else the platform's data dir.
pub fn resolve_data_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(dir) => Ok(dir.to_owned()),
        None => crate::config::data_dir().context("finding the data dir"),
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
