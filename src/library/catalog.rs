//! The catalog: one SQLite database (WAL) holding library folders, photos,
//! faces, people and the face→person assignments with their source.
//!
//! The schema is versioned with `PRAGMA user_version`; each migration runs in
//! a transaction, so a crash mid-migration leaves the previous version.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{CatalogError, CatalogResult};

/// Schema migrations, applied in order; index `i` moves version `i` to `i + 1`.
/// v2 adds the people edit log (each row the JSON snapshot of what an edit
/// changed, so undo can put it back) and the facts of each clustering run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE folders (
    id       INTEGER PRIMARY KEY,
    path     TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL
);
CREATE TABLE photos (
    id         INTEGER PRIMARY KEY,
    folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    path       TEXT NOT NULL UNIQUE,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    hash       BLOB NOT NULL,
    width      INTEGER,
    height     INTEGER,
    taken_at   TEXT,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'error')),
    error      TEXT,
    indexed_at INTEGER
);
CREATE INDEX photos_hash ON photos(hash);
CREATE INDEX photos_status ON photos(status);
CREATE TABLE faces (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    photo_id  INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    landmarks BLOB NOT NULL,
    score     REAL NOT NULL,
    quality   REAL NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX faces_photo ON faces(photo_id);
CREATE TABLE people (
    id     INTEGER PRIMARY KEY,
    name   TEXT,
    hidden INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE assignments (
    face_id   INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    source    TEXT NOT NULL CHECK (source IN ('automatic', 'confirmed', 'rejected')),
    PRIMARY KEY (face_id, person_id)
);
CREATE INDEX assignments_person ON assignments(person_id);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    photos_done INTEGER NOT NULL DEFAULT 0,
    faces_found INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT
);
"#,
    r#"
CREATE TABLE people_edits (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    before TEXT NOT NULL
);
CREATE TABLE people_runs (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    face_count  INTEGER NOT NULL,
    max_face_id INTEGER NOT NULL,
    method      TEXT NOT NULL,
    assigned    INTEGER NOT NULL,
    people      INTEGER NOT NULL,
    elapsed_ms  INTEGER NOT NULL
);
"#,
];

/// Where a photo stands in the indexing pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoStatus {
    /// Known to the catalog, faces not yet found.
    Pending,
    /// Faces found and stored (possibly none).
    Indexed,
    /// Could not be read or decoded; `error` says why.
    Error,
}

impl PhotoStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Indexed => "indexed",
            Self::Error => "error",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "indexed" => Self::Indexed,
            "error" => Self::Error,
            _ => Self::Pending,
        }
    }
}

/// A photo as the catalog knows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PhotoRecord {
    pub id: i64,
    pub folder_id: i64,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: [u8; 16],
    pub status: PhotoStatus,
    pub error: Option<String>,
}

/// What the scanner learnt about a file on disk.
#[derive(Clone, Debug, PartialEq)]
pub struct FileFacts {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    pub hash: [u8; 16],
}

/// What decoding learnt about a photo.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhotoInfo {
    pub width: u32,
    pub height: u32,
    /// EXIF capture time as written in the file (`YYYY:MM:DD HH:MM:SS`), where present.
    pub taken_at: Option<String>,
}

/// A face as the catalog stores it, in original-photo pixel coordinates.
///
/// The catalog keeps each face's embedding: it is the source of truth the
/// vector index is derived from, and rebuilt from, after any damage.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceRow {
    /// `[x, y, w, h]`.
    pub bbox: [f32; 4],
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
    pub quality: f32,
    pub embedding: Vec<f32>,
}

/// A face with its photo, as search results show it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FaceHit {
    pub face_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
    pub path: PathBuf,
    /// `[x, y, w, h]` in photo pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

/// Which faces the catalog holds, in two numbers: their count and the
/// highest id. Ids only grow (AUTOINCREMENT), so a vector index built at
/// the same two numbers holds exactly the catalog's faces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FaceMark {
    pub count: u64,
    pub max_id: i64,
}

pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> CatalogResult<Self> {
        let conn = Connection::open(path).map_err(|e| CatalogError::sql(path, e))?;
        let mut catalog = Self {
            conn,
            path: path.to_owned(),
        };
        catalog.configure()?;
        catalog.migrate()?;
        Ok(catalog)
    }

    /// An in-memory catalog, for tests and throw-away runs.
    pub fn in_memory() -> CatalogResult<Self> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| CatalogError::sql(&path, e))?;
        let mut catalog = Self { conn, path };
        catalog.configure()?;
        catalog.migrate()?;
        Ok(catalog)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> CatalogError {
        CatalogError::sql(&self.path, e)
    }

    fn configure(&self) -> CatalogResult<()> {
        // WAL: readers never block the writer, and a commit is one fsync'd append.
        self.conn
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
            )
            .map_err(|e| self.err(e))
    }

    /// The schema version this build writes.
    pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

    pub fn schema_version(&self) -> CatalogResult<u32> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> CatalogResult<()> {
        let found = self.schema_version()?;
        if found > Self::SCHEMA_VERSION {
            return Err(CatalogError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: Self::SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self
                .conn
                .transaction()
                .map_err(|e| CatalogError::sql(&self.path, e))?;
            tx.execute_batch(sql)
                .map_err(|e| CatalogError::sql(&self.path, e))?;
            tx.pragma_update(None, "user_version", version as u32 + 1)
                .map_err(|e| CatalogError::sql(&self.path, e))?;
            tx.commit().map_err(|e| CatalogError::sql(&self.path, e))?;
        }
        Ok(())
    }

    /// Adds a library folder (idempotent) and returns its id.
    pub fn add_folder(&self, path: &Path) -> CatalogResult<i64> {
        let text = path_text(path)?;
        self.conn
            .execute(
                "INSERT INTO folders (path, added_at) VALUES (?1, ?2) ON CONFLICT(path) DO NOTHING",
                params![text, now_s()],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .query_row("SELECT id FROM folders WHERE path = ?1", [text], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    pub fn folders(&self) -> CatalogResult<Vec<(i64, PathBuf)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path FROM folders ORDER BY path")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, PathBuf::from(r.get::<_, String>(1)?)))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every photo of a folder, for the scanner to diff against the disk.
    pub fn photos_in_folder(&self, folder_id: i64) -> CatalogResult<Vec<PhotoRecord>> {
        self.query_photos("WHERE folder_id = ?1", [folder_id])
    }

    pub fn photos_with_status(&self, status: PhotoStatus) -> CatalogResult<Vec<PhotoRecord>> {
        self.query_photos("WHERE status = ?1", [status.as_str()])
    }

    pub fn photo(&self, id: i64) -> CatalogResult<Option<PhotoRecord>> {
        Ok(self.query_photos("WHERE id = ?1", [id])?.pop())
    }

    fn query_photos(
        &self,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> CatalogResult<Vec<PhotoRecord>> {
        let sql = format!(
            "SELECT id, folder_id, path, size, mtime_ns, hash, status, error FROM photos {filter} ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(args, |r| {
                let hash: Vec<u8> = r.get(5)?;
                Ok(PhotoRecord {
                    id: r.get(0)?,
                    folder_id: r.get(1)?,
                    path: PathBuf::from(r.get::<_, String>(2)?),
                    size: r.get(3)?,
                    mtime_ns: r.get(4)?,
                    hash: hash.try_into().unwrap_or([0; 16]),
                    status: PhotoStatus::parse(&r.get::<_, String>(6)?),
                    error: r.get(7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Runs `f` in one transaction: all of its writes land, or none.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&CatalogTx<'_>) -> CatalogResult<T>,
    ) -> CatalogResult<T> {
        let tx = self
            .conn
            .transaction()
            .map_err(|e| CatalogError::sql(&self.path, e))?;
        let out = f(&CatalogTx {
            tx: &tx,
            path: &self.path,
        })?;
        tx.commit().map_err(|e| CatalogError::sql(&self.path, e))?;
        Ok(out)
    }

    /// Ids of the faces of a photo.
    pub fn face_ids_of_photo(&self, photo_id: i64) -> CatalogResult<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM faces WHERE photo_id = ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([photo_id], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The count and highest id of the faces (see [`FaceMark`]).
    pub fn face_mark(&self) -> CatalogResult<FaceMark> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(max(id), 0) FROM faces",
                [],
                |r| {
                    Ok(FaceMark {
                        count: r.get(0)?,
                        max_id: r.get(1)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// How many faces have an id above `after`.
    pub fn face_count_after(&self, after: i64) -> CatalogResult<u64> {
        self.conn
            .query_row("SELECT count(*) FROM faces WHERE id > ?1", [after], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Calls `f(ids, vectors)` on the embeddings of the faces with id above
    /// `after`, in id order, `chunk` faces at a time (flat row-major vectors).
    pub fn for_each_embedding(
        &self,
        after: i64,
        chunk: usize,
        mut f: impl FnMut(&[u64], &[f32]) -> CatalogResult<()>,
    ) -> CatalogResult<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, embedding FROM faces WHERE id > ?1 ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([after]).map_err(|e| self.err(e))?;
        let (mut ids, mut vectors) = (Vec::with_capacity(chunk), Vec::new());
        loop {
            let row = rows.next().map_err(|e| CatalogError::sql(&self.path, e))?;
            if let Some(row) = row {
                let id: i64 = row.get(0).map_err(|e| CatalogError::sql(&self.path, e))?;
                let bytes: Vec<u8> = row.get(1).map_err(|e| CatalogError::sql(&self.path, e))?;
                ids.push(id as u64);
                vectors.extend(
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            if ids.len() == chunk || (row.is_none() && !ids.is_empty()) {
                f(&ids, &vectors)?;
                ids.clear();
                vectors.clear();
            }
            if row.is_none() {
                return Ok(());
            }
        }
    }

    /// The faces with these ids, with their photos, in the order asked (unknown ids are left out).
    pub fn face_hits(&self, ids: &[i64]) -> CatalogResult<Vec<FaceHit>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.id, p.path, f.x, f.y, f.w, f.h, \
                 (SELECT person_id FROM assignments a WHERE a.face_id = f.id AND a.source != 'rejected') \
                 FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id = ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut hits = Vec::with_capacity(ids.len());
        for &id in ids {
            let mut rows = stmt.query([id]).map_err(|e| self.err(e))?;
            if let Some(r) = rows.next().map_err(|e| CatalogError::sql(&self.path, e))? {
                let hit = (|| {
                    Ok::<_, rusqlite::Error>(FaceHit {
                        face_id: r.get(0)?,
                        path: PathBuf::from(r.get::<_, String>(1)?),
                        bbox: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                        person_id: r.get(6)?,
                    })
                })()
                .map_err(|e| CatalogError::sql(&self.path, e))?;
                hits.push(hit);
            }
        }
        Ok(hits)
    }

    /// Photos that could not be indexed, with the reason.
    pub fn skipped(&self) -> CatalogResult<Vec<(PathBuf, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, coalesce(error, '') FROM photos WHERE status = 'error' ORDER BY path",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((PathBuf::from(r.get::<_, String>(0)?), r.get(1)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Counts for `facefind status`.
    pub fn counts(&self) -> CatalogResult<Counts> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM folders), (SELECT count(*) FROM photos), \
                 (SELECT count(*) FROM photos WHERE status = 'indexed'), \
                 (SELECT count(*) FROM photos WHERE status = 'error'), \
                 (SELECT count(*) FROM faces), (SELECT count(*) FROM people)",
                [],
                |r| {
                    Ok(Counts {
                        folders: r.get(0)?,
                        photos: r.get(1)?,
                        indexed: r.get(2)?,
                        errors: r.get(3)?,
                        faces: r.get(4)?,
                        people: r.get(5)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub folders: u64,
    pub photos: u64,
    pub indexed: u64,
    pub errors: u64,
    pub faces: u64,
    pub people: u64,
}

/// Writes inside one transaction (see [`Catalog::write`]).
pub struct CatalogTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a Path,
}

impl CatalogTx<'_> {
    fn err(&self, e: rusqlite::Error) -> CatalogError {
        CatalogError::sql(self.path, e)
    }

    /// Records a new photo as pending and returns its id.
    pub fn insert_photo(&self, folder_id: i64, facts: &FileFacts) -> CatalogResult<i64> {
        self.tx
            .execute(
                "INSERT INTO photos (folder_id, path, size, mtime_ns, hash, status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                params![
                    folder_id,
                    path_text(&facts.path)?,
                    facts.size,
                    facts.mtime_ns,
                    &facts.hash[..]
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// A photo's file moved or was renamed: same content, so its faces and names stay.
    pub fn move_photo(
        &self,
        photo_id: i64,
        folder_id: i64,
        facts: &FileFacts,
    ) -> CatalogResult<()> {
        self.tx
            .execute(
                "UPDATE photos SET folder_id = ?2, path = ?3, size = ?4, mtime_ns = ?5 WHERE id = ?1",
                params![photo_id, folder_id, path_text(&facts.path)?, facts.size, facts.mtime_ns],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The file's bytes changed: its faces go, and it is indexed again.
    /// Returns the ids of the faces removed (they leave the vector index too).
    pub fn reset_photo(&self, photo_id: i64, facts: &FileFacts) -> CatalogResult<Vec<i64>> {
        let removed = self.delete_faces(photo_id)?;
        self.tx
            .execute(
                "UPDATE photos SET size = ?2, mtime_ns = ?3, hash = ?4, status = 'pending', \
                 error = NULL, width = NULL, height = NULL, indexed_at = NULL WHERE id = ?1",
                params![photo_id, facts.size, facts.mtime_ns, &facts.hash[..]],
            )
            .map_err(|e| self.err(e))?;
        Ok(removed)
    }

    /// Same bytes, new modification time (a `touch`): nothing to re-do.
    pub fn touch_photo(&self, photo_id: i64, mtime_ns: i64) -> CatalogResult<()> {
        self.tx
            .execute(
                "UPDATE photos SET mtime_ns = ?2 WHERE id = ?1",
                params![photo_id, mtime_ns],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The photo is gone from disk. Returns the ids of its faces.
    pub fn delete_photo(&self, photo_id: i64) -> CatalogResult<Vec<i64>> {
        let removed = self.delete_faces(photo_id)?;
        self.tx
            .execute("DELETE FROM photos WHERE id = ?1", [photo_id])
            .map_err(|e| self.err(e))?;
        Ok(removed)
    }

    fn delete_faces(&self, photo_id: i64) -> CatalogResult<Vec<i64>> {
        let mut stmt = self
            .tx
            .prepare("DELETE FROM faces WHERE photo_id = ?1 RETURNING id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([photo_id], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let mut ids: Vec<i64> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Records the faces found in a photo and marks it indexed. Returns the new
    /// face ids, in the order given: they are the ids of the faces' vectors.
    pub fn finish_photo(
        &self,
        photo_id: i64,
        info: &PhotoInfo,
        faces: &[FaceRow],
    ) -> CatalogResult<Vec<i64>> {
        self.tx
            .execute(
                "UPDATE photos SET status = 'indexed', error = NULL, width = ?2, height = ?3, \
                 taken_at = ?4, indexed_at = ?5 WHERE id = ?1",
                params![photo_id, info.width, info.height, info.taken_at, now_s()],
            )
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .tx
            .prepare_cached(
                "INSERT INTO faces (photo_id, x, y, w, h, landmarks, score, quality, embedding) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .map_err(|e| self.err(e))?;
        let mut ids = Vec::with_capacity(faces.len());
        for face in faces {
            let [x, y, w, h] = face.bbox;
            let landmarks = f32_bytes(face.landmarks.iter().flatten());
            let embedding = f32_bytes(face.embedding.iter());
            stmt.execute(params![
                photo_id,
                x,
                y,
                w,
                h,
                landmarks,
                face.score,
                face.quality,
                embedding
            ])
            .map_err(|e| self.err(e))?;
            ids.push(self.tx.last_insert_rowid());
        }
        Ok(ids)
    }

    /// Marks a photo as unreadable, with the reason.
    pub fn fail_photo(&self, photo_id: i64, reason: &str) -> CatalogResult<()> {
        self.tx
            .execute(
                "UPDATE photos SET status = 'error', error = ?2, indexed_at = ?3 WHERE id = ?1",
                params![photo_id, reason, now_s()],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

fn f32_bytes<'a>(values: impl Iterator<Item = &'a f32>) -> Vec<u8> {
    values.flat_map(|v| v.to_le_bytes()).collect()
}

/// Paths are stored as UTF-8 text; a path that is not valid UTF-8 is refused by name.
fn path_text(path: &Path) -> CatalogResult<&str> {
    path.to_str()
        .ok_or_else(|| CatalogError::NonUtf8Path(path.to_owned()))
}

/// Seconds since the Unix epoch, as the catalog stores times.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// One indexing run as `facefind status` reports it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunRecord {
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub photos_done: u64,
    pub faces_found: u64,
    /// `completed`, `cancelled` or `failed: …`; none while running, or when
    /// the process was killed before it could say.
    pub outcome: Option<String>,
}

/// The record of indexing runs: a run's counts are written in the same
/// transaction as each batch, so even a killed run's row tells what it did.
impl Catalog {
    pub fn start_run(&mut self) -> CatalogResult<i64> {
        self.conn
            .execute("INSERT INTO runs (started_at) VALUES (?1)", [now_s()])
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(&mut self, run: i64, outcome: &str) -> CatalogResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3 WHERE id = ?1",
                params![run, now_s(), outcome],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }

    pub fn last_run(&self) -> CatalogResult<Option<RunRecord>> {
        self.conn
            .query_row(
                "SELECT started_at, finished_at, photos_done, faces_found, outcome \
                 FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(RunRecord {
                        started_at: r.get(0)?,
                        finished_at: r.get(1)?,
                        photos_done: r.get(2)?,
                        faces_found: r.get(3)?,
                        outcome: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

impl CatalogTx<'_> {
    /// Adds one batch's counts to run `run`.
    pub fn count_run(&self, run: i64, photos: usize, faces: usize) -> CatalogResult<()> {
        self.tx
            .execute(
                "UPDATE runs SET photos_done = photos_done + ?2, faces_found = faces_found + ?3 \
                 WHERE id = ?1",
                params![run, photos as i64, faces as i64],
            )
            .map(drop)
            .map_err(|e| self.err(e))
    }
}

/// How a face came to (or was kept from) a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Put there by clustering; the next re-cluster may move it.
    Automatic,
    /// The user said this face is this person.
    Confirmed,
    /// The user said this face is not this person.
    Rejected,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Automatic => "automatic",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "confirmed" => Self::Confirmed,
            "rejected" => Self::Rejected,
            _ => Self::Automatic,
        }
    }
}

/// One row of `assignments`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AssignmentRow {
    pub face_id: i64,
    pub person_id: i64,
    pub source: Source,
}

/// One row of `people`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PersonRow {
    pub id: i64,
    pub name: Option<String>,
    pub hidden: bool,
}

/// What clustering needs to know of a face besides its embedding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaceFact {
    pub id: i64,
    /// The first 8 bytes of the photo's content hash: equal for copies of one photo.
    pub photo_key: u64,
    pub quality: f32,
}

/// A person with its counts, for the people list.
#[derive(Clone, Debug, PartialEq)]
pub struct PersonStats {
    pub person: PersonRow,
    pub faces: u64,
    pub photos: u64,
    /// The face to show for the person: confirmed first, then the best quality.
    pub cover_face_id: Option<i64>,
}

/// The facts of one clustering run.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PeopleRun {
    pub mark: FaceMark,
    pub method: String,
    pub assigned: u64,
    pub people: u64,
    pub elapsed_ms: u64,
}

/// One entry of the people edit log.
#[derive(Clone, Debug, PartialEq)]
pub struct EditEntry {
    pub id: i64,
    pub kind: String,
    /// The JSON snapshot of what the edit changed, as it was before.
    pub before: String,
}

fn photo_key(hash: &[u8]) -> u64 {
    let mut first = [0u8; 8];
    first
        .iter_mut()
        .zip(hash)
        .for_each(|(to, from)| *to = *from);
    u64::from_le_bytes(first)
}

fn assignment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssignmentRow> {
    Ok(AssignmentRow {
        face_id: r.get(0)?,
        person_id: r.get(1)?,
        source: Source::parse(&r.get::<_, String>(2)?),
    })
}

fn person_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        id: r.get(0)?,
        name: r.get(1)?,
        hidden: r.get(2)?,
    })
}

/// Reads of the people tables.
impl Catalog {
    fn rows<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> CatalogResult<Vec<T>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt.query_map(args, map).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every face's id, photo key and quality, in id order.
    pub fn face_facts(&self) -> CatalogResult<Vec<FaceFact>> {
        self.rows(
            "SELECT f.id, p.hash, f.quality FROM faces f JOIN photos p ON p.id = f.photo_id ORDER BY f.id",
            [],
            |r| {
                Ok(FaceFact {
                    id: r.get(0)?,
                    photo_key: photo_key(&r.get::<_, Vec<u8>>(1)?),
                    quality: r.get(2)?,
                })
            },
        )
    }

    /// The photo keys of these faces, in the order asked (unknown faces: none).
    pub fn photo_keys(&self, face_ids: &[i64]) -> CatalogResult<Vec<Option<u64>>> {
        face_ids
            .iter()
            .map(|&id| {
                let found = self.rows(
                    "SELECT p.hash FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id = ?1",
                    [id],
                    |r| r.get::<_, Vec<u8>>(0),
                )?;
                Ok(found.first().map(|h| photo_key(h)))
            })
            .collect()
    }

    /// Every assignment row, by face then person.
    pub fn assignment_rows(&self) -> CatalogResult<Vec<AssignmentRow>> {
        self.rows(
            "SELECT face_id, person_id, source FROM assignments ORDER BY face_id, person_id",
            [],
            assignment_row,
        )
    }

    /// The assignment rows of these faces.
    pub fn assignments_of_faces(&self, face_ids: &[i64]) -> CatalogResult<Vec<AssignmentRow>> {
        let mut out = Vec::new();
        for &id in face_ids {
            out.extend(self.rows(
                "SELECT face_id, person_id, source FROM assignments WHERE face_id = ?1 ORDER BY person_id",
                [id],
                assignment_row,
            )?);
        }
        Ok(out)
    }

    /// The assignment rows of a person (every source).
    pub fn assignments_of_person(&self, person_id: i64) -> CatalogResult<Vec<AssignmentRow>> {
        self.rows(
            "SELECT face_id, person_id, source FROM assignments WHERE person_id = ?1 ORDER BY face_id",
            [person_id],
            assignment_row,
        )
    }

    pub fn person(&self, id: i64) -> CatalogResult<Option<PersonRow>> {
        Ok(self
            .rows(
                "SELECT id, name, hidden FROM people WHERE id = ?1",
                [id],
                person_row,
            )?
            .pop())
    }

    /// The people with this name (names need not be unique).
    pub fn people_named(&self, name: &str) -> CatalogResult<Vec<PersonRow>> {
        self.rows(
            "SELECT id, name, hidden FROM people WHERE name = ?1 ORDER BY id",
            [name],
            person_row,
        )
    }

    /// Every person with its face and photo counts and a cover face, by id.
    pub fn person_stats(&self) -> CatalogResult<Vec<PersonStats>> {
        self.rows(
            "SELECT pe.id, pe.name, pe.hidden, \
             (SELECT count(*) FROM assignments a WHERE a.person_id = pe.id AND a.source != 'rejected'), \
             (SELECT count(DISTINCT f.photo_id) FROM assignments a JOIN faces f ON f.id = a.face_id \
              WHERE a.person_id = pe.id AND a.source != 'rejected'), \
             (SELECT a.face_id FROM assignments a JOIN faces f ON f.id = a.face_id \
              WHERE a.person_id = pe.id AND a.source != 'rejected' \
              ORDER BY a.source = 'confirmed' DESC, f.quality DESC, f.id LIMIT 1) \
             FROM people pe ORDER BY pe.id",
            [],
            |r| {
                Ok(PersonStats {
                    person: person_row(r)?,
                    faces: r.get(3)?,
                    photos: r.get(4)?,
                    cover_face_id: r.get(5)?,
                })
            },
        )
    }

    /// The embedding of a face, if the face exists.
    pub fn embedding(&self, face_id: i64) -> CatalogResult<Option<Vec<f32>>> {
        let bytes = self.rows(
            "SELECT embedding FROM faces WHERE id = ?1",
            [face_id],
            |r| r.get::<_, Vec<u8>>(0),
        )?;
        Ok(bytes.first().map(|bytes| {
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        }))
    }

    /// The faces of the photo at `path`, or of any photo with the same content hash.
    pub fn faces_of_photo_file(&self, path: &Path, hash: [u8; 16]) -> CatalogResult<Vec<i64>> {
        self.rows(
            "SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id \
             WHERE p.id = (SELECT id FROM photos WHERE path = ?1 OR hash = ?2 \
                           ORDER BY path = ?1 DESC, id LIMIT 1) ORDER BY f.id",
            params![path_text(path)?, &hash[..]],
            |r| r.get(0),
        )
    }

    pub fn last_people_run(&self) -> CatalogResult<Option<PeopleRun>> {
        Ok(self
            .rows(
                "SELECT face_count, max_face_id, method, assigned, people, elapsed_ms \
                 FROM people_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(PeopleRun {
                        mark: FaceMark {
                            count: r.get(0)?,
                            max_id: r.get(1)?,
                        },
                        method: r.get(2)?,
                        assigned: r.get(3)?,
                        people: r.get(4)?,
                        elapsed_ms: r.get(5)?,
                    })
                },
            )?
            .pop())
    }

    /// The most recent edit not yet undone.
    pub fn last_edit(&self) -> CatalogResult<Option<EditEntry>> {
        Ok(self
            .rows(
                "SELECT id, kind, before FROM people_edits ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(EditEntry {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        before: r.get(2)?,
                    })
                },
            )?
            .pop())
    }
}

/// Writes to the people tables.
impl CatalogTx<'_> {
    fn run(&self, sql: &str, args: impl rusqlite::Params) -> CatalogResult<usize> {
        self.tx
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(args))
            .map_err(|e| self.err(e))
    }

    /// A new person; returns its id.
    pub fn insert_person(&self, name: Option<&str>) -> CatalogResult<i64> {
        self.run("INSERT INTO people (name) VALUES (?1)", [name])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Writes a person row as given, creating it under its id if it is gone.
    pub fn put_person(&self, person: &PersonRow) -> CatalogResult<()> {
        self.run(
            "INSERT INTO people (id, name, hidden) VALUES (?1, ?2, ?3) \
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, hidden = excluded.hidden",
            params![person.id, person.name, person.hidden],
        )
        .map(drop)
    }

    /// Deletes a person and (by cascade) every assignment row naming it.
    pub fn delete_person(&self, id: i64) -> CatalogResult<()> {
        self.run("DELETE FROM people WHERE id = ?1", [id]).map(drop)
    }

    /// Puts `face` with `person` (automatic or confirmed), leaving any other person it had.
    pub fn assign(&self, face: i64, person: i64, source: Source) -> CatalogResult<()> {
        self.run(
            "DELETE FROM assignments WHERE face_id = ?1 AND (source != 'rejected' OR person_id = ?2)",
            [face, person],
        )?;
        self.put_assignment(&AssignmentRow {
            face_id: face,
            person_id: person,
            source,
        })
    }

    /// Records that `face` is not `person` (and takes it off that person).
    pub fn reject(&self, face: i64, person: i64) -> CatalogResult<()> {
        self.put_assignment(&AssignmentRow {
            face_id: face,
            person_id: person,
            source: Source::Rejected,
        })
    }

    pub fn put_assignment(&self, row: &AssignmentRow) -> CatalogResult<()> {
        self.run(
            "INSERT INTO assignments (face_id, person_id, source) VALUES (?1, ?2, ?3) \
             ON CONFLICT(face_id, person_id) DO UPDATE SET source = excluded.source",
            params![row.face_id, row.person_id, row.source.as_str()],
        )
        .map(drop)
    }

    /// Removes every assignment row of `face`.
    pub fn clear_face(&self, face: i64) -> CatalogResult<()> {
        self.run("DELETE FROM assignments WHERE face_id = ?1", [face])
            .map(drop)
    }

    /// Removes every automatic assignment (before a re-cluster writes its own).
    pub fn clear_automatic(&self) -> CatalogResult<()> {
        self.run("DELETE FROM assignments WHERE source = 'automatic'", [])
            .map(drop)
    }

    /// Deletes the unnamed people left without any face; returns how many.
    pub fn delete_empty_people(&self) -> CatalogResult<usize> {
        self.run(
            "DELETE FROM people WHERE name IS NULL AND id NOT IN \
             (SELECT person_id FROM assignments WHERE source != 'rejected')",
            [],
        )
    }

    pub fn record_people_run(&self, run: &PeopleRun) -> CatalogResult<()> {
        self.run(
            "INSERT INTO people_runs (at, face_count, max_face_id, method, assigned, people, elapsed_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                now_s(),
                run.mark.count,
                run.mark.max_id,
                run.method,
                run.assigned,
                run.people,
                run.elapsed_ms
            ],
        )
        .map(drop)
    }

    /// Appends an edit to the log, with the snapshot undo restores.
    pub fn log_edit(&self, kind: &str, before: &str) -> CatalogResult<()> {
        self.run(
            "INSERT INTO people_edits (at, kind, before) VALUES (?1, ?2, ?3)",
            params![now_s(), kind, before],
        )
        .map(drop)
    }

    pub fn drop_edit(&self, id: i64) -> CatalogResult<()> {
        self.run("DELETE FROM people_edits WHERE id = ?1", [id])
            .map(drop)
    }
}

impl Catalog {
    /// The ids of every face, ascending (what the vector index must hold).
    pub fn face_ids(&self) -> CatalogResult<Vec<i64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM faces ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
