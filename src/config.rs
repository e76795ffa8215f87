//! Settings (serde, every field defaulted) and where facefind keeps its data.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "FACEFIND_DATA_DIR";

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no home directory to put the facefind data in: set {DATA_DIR_ENV}")]
    NoDataDir,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid settings: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The data directory: `$FACEFIND_DATA_DIR`, else the platform's data dir
/// (`~/.local/share/facefind` on Linux).
pub fn data_dir() -> Result<PathBuf, ConfigError> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => directories::ProjectDirs::from("", "", "facefind")
            .map(|dirs| dirs.data_dir().to_path_buf())
            .ok_or(ConfigError::NoDataDir),
    }
}

/// All settings. Saved as `settings.json` in the data dir; missing fields take their defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub faces: FaceSettings,
}

/// Settings of the face pipeline (detection, alignment, embedding).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FaceSettings {
    /// Detections scoring below this (√(cls·obj), 0–1) are dropped.
    pub score_threshold: f32,
    /// Overlap (IoU) above which the weaker of two detections is suppressed.
    pub nms_threshold: f32,
    /// At most this many candidates enter NMS.
    pub top_k: usize,
    /// Second pass over tiles at twice the resolution, for small faces in large photos.
    pub tiled_pass: bool,
    /// ONNX Runtime intra-op threads per model; 0 lets ONNX Runtime choose (one per core).
    pub intra_threads: usize,
    /// Let ONNX Runtime's idle threads spin between runs: a little faster on an idle machine,
    /// much slower when other programs want the cores (a desktop), so off by default.
    pub intra_spinning: bool,
    /// Faces embedded per recognizer call.
    pub embed_batch: usize,
    /// Photos with more pixels than this are refused (decompression bombs).
    pub max_pixels: u64,
    /// Files larger than this are refused before they are read.
    pub max_file_bytes: u64,
    /// Where the ONNX models are; unset: next to the executable, then the data dir, then the source tree.
    pub models_dir: Option<PathBuf>,
    /// The ONNX Runtime library to load; unset: searched (see `faces::models`).
    pub ort_library: Option<PathBuf>,
}

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            score_threshold: 0.8,
            nms_threshold: 0.3,
            top_k: 5000,
            tiled_pass: true,
            intra_threads: 0,
            intra_spinning: false,
            embed_batch: 16,
            max_pixels: 100_000_000,
            max_file_bytes: 512 << 20,
            models_dir: None,
            ort_library: None,
        }
    }
}

impl Config {
    /// The settings file in a data dir.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("settings.json")
    }

    /// Reads the settings of `data_dir`; defaults when there is no settings file.
    pub fn load(data_dir: &Path) -> Result<Self, ConfigError> {
        let path = Self::path_in(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| ConfigError::Parse { path, source })
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults() {
        let config: Config =
            serde_json::from_str(r#"{"faces": {"score_threshold": 0.6}}"#).unwrap();
        assert_eq!(config.faces.score_threshold, 0.6);
        assert_eq!(
            config.faces.nms_threshold,
            FaceSettings::default().nms_threshold
        );
    }

    #[test]
    fn load_reads_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), Config::default());
        std::fs::write(
            Config::path_in(dir.path()),
            r#"{"faces": {"intra_threads": 2}}"#,
        )
        .unwrap();
        assert_eq!(Config::load(dir.path()).unwrap().faces.intra_threads, 2);
        std::fs::write(Config::path_in(dir.path()), "{nope").unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("settings.json"), "{err}");
    }
}
