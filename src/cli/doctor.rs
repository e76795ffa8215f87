//! `facefind doctor`: is everything facefind needs in place? ONNX Runtime,
//! the models, the compute backend, the data dir, the catalog and the index.
use std::path::Path;

use crate::config::Config;
use crate::index::JobControl;
use crate::library::Library;
use crate::library::vectors::Catchup;

type Check = (String, Result<String, String>);

pub fn doctor(data_dir: &Path) -> anyhow::Result<()> {
    let config = Config::load(data_dir)?;
    let mut checks: Vec<Check> = crate::faces::models::doctor(&config.faces);
    // Opened here, not through the lazy process-wide one: doctor's job is to look.
    let selection = crate::compute::select::open(crate::compute::select::requested());
    checks.push(("compute backend".into(), Ok(selection.note)));
    checks.push(("GPU".into(), Ok(crate::compute::gpu::describe())));
    checks.extend(library_checks(data_dir));
    let mut failed = 0;
    for (what, state) in &checks {
        match state {
            Ok(detail) => println!("ok    {what}: {detail}"),
            Err(problem) => {
                failed += 1;
                println!("FAIL  {what}: {problem}");
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} check(s) failed");
    Ok(())
}

fn library_checks(data_dir: &Path) -> Vec<Check> {
    let mut checks = vec![("data dir".to_string(), Ok(data_dir.display().to_string()))];
    if !data_dir.join("catalog.sqlite").exists() {
        checks.push((
            "library".into(),
            Ok("none yet (`facefind index DIR` starts one)".into()),
        ));
        return checks;
    }
    match Library::open_reader(data_dir, &JobControl::default()) {
        Ok((library, catchup)) => {
            let catalog = library.catalog.counts().map(|c| {
                format!(
                    "{} (schema {}): {} photos, {} faces, {} skipped",
                    library.catalog.path().display(),
                    library.catalog.schema_version().unwrap_or(0),
                    c.photos,
                    c.faces,
                    c.errors
                )
            });
            checks.push(("catalog".into(), catalog.map_err(|e| e.to_string())));
            let index = library.vectors.index();
            let state = match catchup {
                Catchup::UpToDate => Ok(format!(
                    "{} with {} vectors, up to date",
                    index.spec(),
                    index.ntotal()
                )),
                Catchup::Appended(n) => Ok(format!(
                    "{n} faces newer than the saved index; the next `index` saves them"
                )),
                Catchup::Rebuilt(why) => Err(format!(
                    "{why}; rebuilt from the catalog in memory: run `facefind index` (no folders needed) to save it"
                )),
            };
            checks.push(("vector index".into(), state));
            if let Some(disk) = index.lists().as_on_disk() {
                let bytes = index.bytes_on_disk();
                let files = disk.verify().map(|()| {
                    format!(
                        "{bytes} bytes on disk ({:.0} per vector), every list's checksum matches",
                        bytes as f64 / index.ntotal().max(1) as f64
                    )
                });
                checks.push((
                    "index files".into(),
                    files.map_err(|e| {
                        format!(
                            "{e}; delete {} and run `facefind index` (no folders needed) to rebuild it from the catalog",
                            data_dir.join("index").join("CURRENT").display()
                        )
                    }),
                ));
            }
        }
        Err(err) => checks.push(("library".into(), Err(err.to_string()))),
    }
    checks
}
