//! Settings (serde, every field defaulted) and where facefind keeps its data.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use crate::compute::select::{BackendChoice, ChoiceError};
use crate::index::factory::Spec;

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
    #[error("{place}: {field}: {reason}")]
    Invalid {
        /// The settings file, or "settings" for values not saved yet.
        place: String,
        field: &'static str,
        reason: String,
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
    pub compute: ComputeSettings,
    pub index: IndexSettings,
}

/// Where the numeric kernels run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ComputeSettings {
    /// auto, gpu or cpu; the `--backend` flag and `FACEFIND_BACKEND` override it.
    /// Read when facefind starts.
    #[serde(deserialize_with = "backend_choice")]
    pub backend: BackendChoice,
}

fn backend_choice<'de, D: Deserializer<'de>>(d: D) -> Result<BackendChoice, D::Error> {
    let value = String::deserialize(d)?;
    value.parse().map_err(|_| {
        serde::de::Error::custom(ChoiceError {
            source_name: "compute.backend",
            value,
        })
    })
}

/// The face-vector index: its kind and how it is searched.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IndexSettings {
    /// A FAISS-style spec (`Flat`, `IVF1024,PQ64x4fs,RFlat`, …) or `auto`, which
    /// picks by the library's size. A changed spec re-trains the index in the background.
    pub spec: String,
    /// IVF lists visited per query; unset: a quarter of the lists.
    pub nprobe: Option<usize>,
    /// Candidates re-ranked exactly per result; unset: 32.
    pub k_factor: Option<usize>,
}

impl Default for IndexSettings {
    fn default() -> Self {
        Self {
            spec: "auto".into(),
            nprobe: None,
            k_factor: None,
        }
    }
}

impl IndexSettings {
    /// The spec the settings fix; None for `auto`.
    pub fn fixed_spec(&self) -> Result<Option<Spec>, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            place: "settings".into(),
            field: "index.spec",
            reason,
        };
        if self.spec.trim() == "auto" {
            return Ok(None);
        }
        Spec::parse(self.spec.trim(), crate::faces::DIM, 0)
            .map(Some)
            .map_err(|e| invalid(e.to_string()))
    }
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
        let config: Self = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(source) => return Err(ConfigError::Io { path, source }),
        };
        config.validate().map_err(|err| match err {
            ConfigError::Invalid { field, reason, .. } => ConfigError::Invalid {
                place: path.display().to_string(),
                field,
                reason,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Checks the values serde cannot: the index spec parses, the search knobs are positive.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.index.fixed_spec()?;
        for (field, value) in [
            ("index.nprobe", self.index.nprobe),
            ("index.k_factor", self.index.k_factor),
        ] {
            if value == Some(0) {
                return Err(ConfigError::Invalid {
                    place: "settings".into(),
                    field,
                    reason: "must be 1 or more (or unset: automatic)".into(),
                });
            }
        }
        Ok(())
    }
}

/// The backend to ask for at start-up: the `--backend` flag, else (when
/// `FACEFIND_BACKEND` is not set, which `compute::select` reads itself) the
/// library's settings. None: let `compute::select` decide.
pub fn backend_request(
    flag: Option<BackendChoice>,
    data_dir: Option<&Path>,
) -> Option<BackendChoice> {
    if flag.is_some() || std::env::var_os(crate::compute::select::ENV).is_some() {
        return flag;
    }
    // Unreadable settings are reported where the library opens; here they mean `auto`.
    data_dir
        .and_then(|dir| Config::load(dir).ok())
        .map(|config| config.compute.backend)
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

    #[test]
    fn index_and_backend_settings_are_checked_with_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let write = |json: &str| std::fs::write(Config::path_in(dir.path()), json).unwrap();
        write(
            r#"{"index": {"spec": "IVF64,PQ16x4fs,RFlat", "nprobe": 8}, "compute": {"backend": "cpu"}}"#,
        );
        let config = Config::load(dir.path()).unwrap();
        assert_eq!(config.compute.backend, BackendChoice::Cpu);
        assert!(config.index.fixed_spec().unwrap().is_some());
        assert_eq!(
            (config.index.nprobe, config.index.k_factor),
            (Some(8), None)
        );
        assert_eq!(
            backend_request(None, Some(dir.path()))
                .filter(|_| std::env::var_os(crate::compute::select::ENV).is_none()),
            std::env::var_os(crate::compute::select::ENV)
                .is_none()
                .then_some(BackendChoice::Cpu)
        );
        assert_eq!(
            backend_request(Some(BackendChoice::Gpu), Some(dir.path())),
            Some(BackendChoice::Gpu)
        );
        for (json, wanted) in [
            (r#"{"index": {"spec": "IVF,PQ"}}"#, "index.spec"),
            (r#"{"index": {"k_factor": 0}}"#, "index.k_factor"),
            (r#"{"compute": {"backend": "tpu"}}"#, "compute.backend"),
        ] {
            write(json);
            let err = Config::load(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains("settings.json") && err.contains(wanted),
                "{err}"
            );
        }
        assert_eq!(Config::default().index.fixed_spec().unwrap(), None, "auto");
    }
}
