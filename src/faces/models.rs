//! Finding and checking the ONNX Runtime library and the two models, and opening sessions.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use sha2::{Digest, Sha256};

use super::FaceError;
use crate::config::FaceSettings;

/// The ONNX Runtime this build is made for (ort's `api-31`); newer minors also load.
pub const ORT_VERSION: &str = "1.31.1";
const ORT_FILE: &str = "libonnxruntime.so.1.31.1";
const ORT_HINT: &str = "run scripts/setup (it unpacks libonnxruntime.so.1.31.1 from the PyPI wheel onnxruntime==1.31.1 into .ort/), \
or put that file next to the facefind executable, or set ORT_DYLIB_PATH to it";

pub const DETECTOR_FILE: &str = "face_detection_yunet_2023mar.onnx";
pub const RECOGNIZER_FILE: &str = "face_recognition_sface_2021dec.onnx";
/// The committed checksums; a model that differs is refused.
const SHA256SUMS: &str = include_str!("../../models/SHA256SUMS");

/// The library files to try, in order. A path given explicitly (the `ort_library` setting,
/// else `ORT_DYLIB_PATH`) is the only one tried, so a wrong one is reported, not bypassed.
/// Otherwise: next to the executable, the data dir, the source tree's `.ort/`, then the
/// system's loader paths.
pub fn ort_candidates(settings: &FaceSettings) -> Vec<PathBuf> {
    let explicit = settings.ort_library.clone().or_else(|| {
        std::env::var_os("ORT_DYLIB_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = explicit {
        return vec![path];
    }
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    if let Ok(dir) = crate::config::data_dir() {
        dirs.push(dir);
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".ort"));
    let mut found = Vec::new();
    for dir in dirs {
        for name in [ORT_FILE, "libonnxruntime.so"] {
            let path = dir.join(name);
            if path.is_file() {
                found.push(path);
            }
        }
    }
    // Bare names: dlopen searches LD_LIBRARY_PATH, ld.so.cache and the system dirs.
    found.extend([ORT_FILE, "libonnxruntime.so"].map(PathBuf::from));
    found
}

/// The process-wide ONNX Runtime environment, loaded on first use.
/// A failure is remembered: the library cannot be swapped in a running process.
pub fn environment(
    settings: &FaceSettings,
) -> Result<&'static ort::environment::Environment, FaceError> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| load_environment(settings))
        .as_ref()
        .map_err(|reason| FaceError::Runtime(reason.clone()))
}

fn load_environment(settings: &FaceSettings) -> Result<ort::environment::Environment, String> {
    let mut refused = Vec::new();
    for path in ort_candidates(settings) {
        match ort::init_from(&path) {
            Ok(builder) => {
                return builder.with_name("facefind").build().map_err(|err| {
                    format!(
                        "ONNX Runtime at {} does not start: {err}; {ORT_HINT}",
                        path.display()
                    )
                });
            }
            // A missing bare name is the normal case; remember the rest (wrong version, broken file).
            Err(ort::LoadDynamicError::Dlopen { .. }) if path.is_relative() => {}
            Err(err) => refused.push(err.to_string()),
        }
    }
    let why = if refused.is_empty() {
        "not found".to_string()
    } else {
        refused.join("; ")
    };
    Err(format!(
        "ONNX Runtime {ORT_VERSION} is needed: {why}; {ORT_HINT}"
    ))
}

/// The directory holding the models: configured, next to the executable, the data dir, or the source tree.
pub fn models_dir(settings: &FaceSettings) -> Result<PathBuf, FaceError> {
    if let Some(dir) = &settings.models_dir {
        return Ok(dir.clone());
    }
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("models")))
    {
        dirs.push(dir);
    }
    if let Ok(dir) = crate::config::data_dir() {
        dirs.push(dir.join("models"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    dirs.iter()
        .find(|dir| dir.join(DETECTOR_FILE).is_file() && dir.join(RECOGNIZER_FILE).is_file())
        .cloned()
        .ok_or_else(|| FaceError::Model {
            path: dirs.last().cloned().unwrap_or_default().join(DETECTOR_FILE),
            reason: format!(
                "the face models are missing (looked in {}); run scripts/setup to build them",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
}

/// The committed SHA-256 of a model file.
pub fn expected_sha256(file: &str) -> Option<&'static str> {
    SHA256SUMS.lines().find_map(|line| {
        let (sum, name) = line.split_once("  ")?;
        (name.trim() == file).then_some(sum)
    })
}

/// Reads a model and checks it against `models/SHA256SUMS`.
pub fn read_checked(path: &Path) -> Result<Vec<u8>, FaceError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let expected = expected_sha256(name).ok_or_else(|| FaceError::Model {
        path: path.to_path_buf(),
        reason: "not a model listed in models/SHA256SUMS".into(),
    })?;
    let bytes = std::fs::read(path).map_err(|source| FaceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let got: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != expected {
        return Err(FaceError::Model {
            path: path.to_path_buf(),
            reason: format!(
                "SHA-256 is {got}, models/SHA256SUMS says {expected}; run scripts/setup to rebuild it"
            ),
        });
    }
    Ok(bytes)
}

/// Opens a checked model as an ORT session with the configured intra-op threads.
pub fn open_session(path: &Path, settings: &FaceSettings) -> Result<Session, FaceError> {
    let env = environment(settings)?;
    let bytes = read_checked(path)?;
    let fail = |err: String| FaceError::Model {
        path: path.to_path_buf(),
        reason: err,
    };
    let mut builder = Session::builder(env)
        .and_then(|b| {
            b.with_optimization_level(GraphOptimizationLevel::All)
                .map_err(Into::into)
        })
        .map_err(|e| fail(e.to_string()))?;
    builder = builder
        .with_intra_op_spinning(settings.intra_spinning)
        .map_err(|e| fail(e.to_string()))?;
    if settings.intra_threads > 0 {
        builder = builder
            .with_intra_threads(settings.intra_threads)
            .map_err(|e| fail(e.to_string()))?;
    }
    builder
        .commit_from_memory(&bytes)
        .map_err(|e| fail(e.to_string()))
}

/// One line per thing the pipeline needs, for `facefind doctor`: (what, Ok(detail) | Err(problem)).
pub fn doctor(settings: &FaceSettings) -> Vec<(String, Result<String, String>)> {
    let mut lines = Vec::new();
    let runtime = environment(settings)
        .map(|_| format!("loaded (needs {ORT_VERSION})"))
        .map_err(|e| e.to_string());
    lines.push(("ONNX Runtime".to_string(), runtime));
    match models_dir(settings) {
        Ok(dir) => {
            for file in [DETECTOR_FILE, RECOGNIZER_FILE] {
                let path = dir.join(file);
                let state = read_checked(&path).map(|_| format!("{} (SHA-256 ok)", path.display()));
                lines.push((format!("model {file}"), state.map_err(|e| e.to_string())));
            }
        }
        Err(err) => lines.push(("models".to_string(), Err(err.to_string()))),
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_list_both_models() {
        for file in [DETECTOR_FILE, RECOGNIZER_FILE] {
            let sum = expected_sha256(file).unwrap();
            assert_eq!(sum.len(), 64);
        }
        assert!(expected_sha256("other.onnx").is_none());
    }

    #[test]
    fn a_changed_model_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DETECTOR_FILE);
        std::fs::write(&path, b"not the model").unwrap();
        let err = read_checked(&path).unwrap_err().to_string();
        assert!(
            err.contains("SHA-256") && err.contains(DETECTOR_FILE),
            "{err}"
        );
    }
}
