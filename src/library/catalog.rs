//! The catalog: one SQLite database (WAL) holding library folders, photos,
//! faces, people and the face→person assignments with their source.
//!
//! The schema is versioned with `PRAGMA user_version`; each migration runs in
//! a transaction, so a crash mid-migration leaves the previous version.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::error::{CatalogError, CatalogResult};

/// Schema migrations, applied in order; index `i` moves version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
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
"#];

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

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
