//! `facefind faces PHOTO...`: each photo's faces (box, landmarks, score, quality,
//! optionally the embedding), and the aligned crops on request.
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::faces::{FacePipeline, decode::decode_ahead, report::PhotoReport, write_crop};

pub fn faces(
    data_dir: &Path,
    photos: &[PathBuf],
    json: bool,
    embedding: bool,
    crops: Option<&Path>,
) -> anyhow::Result<()> {
    let mut pipeline = FacePipeline::new(&Config::load(data_dir)?)?;
    if let Some(dir) = crops {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let mut failed = 0;
    let decoded = decode_ahead(photos.to_vec(), pipeline.limits(), 2);
    for (n, (path, photo)) in decoded.enumerate() {
        let path = &path;
        let result = photo.and_then(|photo| pipeline.process(&photo));
        if let (Some(dir), Ok(found)) = (crops, &result) {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            for (i, face) in found.iter().enumerate() {
                write_crop(&dir.join(format!("{n:04}-{stem}-{i}.png")), face)?;
            }
        }
        failed += usize::from(result.is_err());
        let report = PhotoReport::new(path, &result, embedding);
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", report.text());
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} of {} photo(s) could not be read",
        photos.len()
    );
    Ok(())
}
