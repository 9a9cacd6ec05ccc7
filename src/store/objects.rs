//! A store on object storage (`s3://bucket/events`): its files listed lazily, one partition level
//! at a time, and read through the parquet crate's async reader.
//!
//! Every request waits for the store's latency, so the reader makes few and makes them together:
//! - Hive partition prefixes (`date=2026-11-22/`) whose span misses the window are never listed,
//!   the prefixes of one level are listed at once, and each listing is kept for the execution
//!   (as a local store is listed once when opened).
//! - Each footer is fetched once, in one request of the file's last [`FOOTER_HINT`] bytes, the
//!   footers of a window at once; a file no bigger than that arrives whole with its footer, its
//!   row groups are then read from memory, and it is kept for the windows after (up to
//!   [`KEPT_BODIES`] bytes of such files).
//! - A unit fetches only the column chunks of its columns and row groups, several ranges at once
//!   (`get_ranges`, coalesced by the client).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use super::Error;
use super::discover::{is_ignored, is_parquet};
use super::footer::corrupt;
use crate::objects::{self, Listing, Location};

/// Bytes fetched from the end of a file for its footer: most footers fit, so one request.
const FOOTER_HINT: u64 = 256 * 1024;
/// Footers fetched at once when a window is planned.
const CONCURRENT_FOOTERS: usize = 32;
/// Bytes of small files kept for the execution: a file is planned in up to three windows (a
/// day's partition and its neighbours'), and fetched once while the kept ones fit in this.
const KEPT_BODIES: u64 = 64 * 1024 * 1024;

/// The files under one object storage prefix, with the listings and footers read so far.
#[derive(Debug)]
pub struct ObjectFiles {
    location: Location,
    listings: Mutex<HashMap<ObjectPath, Listing>>,
    footers: Mutex<HashMap<ObjectPath, ArrowReaderMetadata>>,
    /// Small files that arrived whole, up to [`KEPT_BODIES`] bytes in all.
    bodies: Mutex<Bodies>,
}

#[derive(Debug, Default)]
struct Bodies {
    kept: HashMap<ObjectPath, Bytes>,
    bytes: u64,
}

/// One Parquet object of the store.
#[derive(Debug, Clone)]
pub struct ObjectFile {
    files: Arc<ObjectFiles>,
    meta: ObjectMeta,
    /// The whole object, when it arrived with its footer.
    body: Option<Bytes>,
}

impl ObjectFiles {
    /// Checks the location answers (bucket exists, credentials may list it).
    /// [`Error::NoFiles`] when nothing is under the prefix.
    pub fn open(url: &str) -> Result<Arc<ObjectFiles>, Error> {
        let location = Location::parse(url)?;
        let root = location.probe()?;
        if root.0.is_empty() && root.1.is_empty() {
            return Err(Error::NoFiles {
                location: url.to_string(),
            });
        }
        let listings = HashMap::from([(location.prefix().clone(), root)]);
        Ok(Arc::new(ObjectFiles {
            location,
            listings: Mutex::new(listings),
            footers: Mutex::new(HashMap::new()),
            bodies: Mutex::new(Bodies::default()),
        }))
    }

    /// The Parquet objects whose URL `wanted` keeps (as a path; the caller judges partitions by
    /// it), sorted by key, each with that URL. A prefix is listed only if `wanted` keeps a file
    /// in it, so partitions outside a window are never listed.
    pub fn list(
        self: &Arc<Self>,
        wanted: impl Fn(&Path) -> bool,
    ) -> Result<Vec<(PathBuf, ObjectFile)>, Error> {
        let mut found = Vec::new();
        let mut level = vec![self.location.prefix().clone()];
        while !level.is_empty() {
            let mut next = Vec::new();
            for (objects, prefixes) in self.levels(&level)? {
                found.extend(objects.into_iter().filter(|meta| {
                    let name = meta.location.filename().unwrap_or_default();
                    is_parquet(OsStr::new(name)) && wanted(&self.path_of(&meta.location))
                }));
                next.extend(prefixes.into_iter().filter(|sub| {
                    let name = sub.filename().unwrap_or_default();
                    // A prefix is judged as if a file were in it: by its partitions.
                    !is_ignored(OsStr::new(name)) && wanted(&self.path_of(&sub.clone().join("_")))
                }));
            }
            level = next;
        }
        found.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(found
            .into_iter()
            .map(|meta| {
                let path = self.path_of(&meta.location);
                let file = ObjectFile {
                    files: self.clone(),
                    meta,
                    body: None,
                };
                (path, file)
            })
            .collect())
    }

    /// The listings of `prefixes`, those not listed yet requested at once.
    fn levels(&self, prefixes: &[ObjectPath]) -> Result<Vec<Listing>, Error> {
        let missing: Vec<ObjectPath> = {
            let known = lock(&self.listings);
            prefixes
                .iter()
                .filter(|p| !known.contains_key(p))
                .cloned()
                .collect()
        };
        let listed = self.location.list_levels(&missing)?;
        let mut known = lock(&self.listings);
        known.extend(missing.into_iter().zip(listed));
        Ok(prefixes
            .iter()
            .filter_map(|p| known.get(p).cloned())
            .collect())
    }

    /// The URL naming `key`, as a path whose components are the key's parts.
    fn path_of(&self, key: &ObjectPath) -> PathBuf {
        PathBuf::from(self.location.url_of(key))
    }
}

impl ObjectFile {
    /// The footers of `files`, fetched at once the first time they are asked for; a file that
    /// arrives whole keeps its bytes for the read of its row groups.
    pub fn footers(files: &mut [(PathBuf, ObjectFile)]) -> Result<Vec<ArrowReaderMetadata>, Error> {
        let loaded: Vec<(ArrowReaderMetadata, Option<Bytes>)> = objects::block_on(
            futures::stream::iter(files.iter().map(|(path, file)| file.load_footer(path)))
                .buffered(CONCURRENT_FOOTERS)
                .try_collect(),
        )?;
        Ok(files
            .iter_mut()
            .zip(loaded)
            .map(|((_, file), (metadata, body))| {
                file.body = body;
                metadata
            })
            .collect())
    }

    /// The file's footer, fetched the first time it is asked for.
    pub fn footer(&self, path: &Path) -> Result<ArrowReaderMetadata, Error> {
        objects::block_on(self.load_footer(path)).map(|(metadata, _)| metadata)
    }

    /// The footer from the cache, or from one request of the file's end (the whole file when it
    /// is small, returned too).
    async fn load_footer(
        &self,
        path: &Path,
    ) -> Result<(ArrowReaderMetadata, Option<Bytes>), Error> {
        let key = &self.meta.location;
        let size = self.meta.size;
        let small = size <= FOOTER_HINT;
        // Not held across an await: the footers of a window load on one thread.
        let cached = lock(&self.files.footers).get(key).cloned();
        if let Some(found) = cached {
            let kept = lock(&self.files.bodies).kept.get(key).cloned();
            let body = match (small, self.body.clone().or(kept)) {
                (true, None) => Some(self.fetch(path, 0..size).await?),
                (_, body) => body,
            };
            return Ok((found, body));
        }
        let suffix = self
            .fetch(path, size.saturating_sub(FOOTER_HINT)..size)
            .await?;
        let mut parser = ParquetMetaDataReader::new();
        let parsed = match parser.try_parse_sized(&suffix, size) {
            Ok(()) => parser.finish().map_err(|e| corrupt(path, e))?,
            // A footer bigger than the hint: asked for again, by its exact size.
            Err(ParquetError::NeedMoreData(_)) => ParquetMetaDataReader::new()
                .load_and_finish(&mut self.reader(), size)
                .await
                .map_err(|e| read_error(path, e))?,
            Err(e) => return Err(corrupt(path, e)),
        };
        let metadata = ArrowReaderMetadata::try_new(Arc::new(parsed), ArrowReaderOptions::new())
            .map_err(|e| corrupt(path, e))?;
        lock(&self.files.footers).insert(key.clone(), metadata.clone());
        if small {
            let mut bodies = lock(&self.files.bodies);
            if bodies.bytes + size <= KEPT_BODIES {
                bodies.bytes += size;
                bodies.kept.insert(key.clone(), suffix.clone());
            }
        }
        Ok((metadata, small.then_some(suffix)))
    }

    async fn fetch(&self, path: &Path, range: std::ops::Range<u64>) -> Result<Bytes, Error> {
        self.files
            .location
            .store()
            .get_range(&self.meta.location, range)
            .await
            .map_err(|e| Error::Objects(objects::Error::classify(path.display().to_string(), e)))
    }

    fn reader(&self) -> ObjectReader {
        ObjectReader {
            store: self.files.location.store().clone(),
            key: self.meta.location.clone(),
            size: self.meta.size,
            body: self.body.clone(),
        }
    }

    /// The batches of `row_groups` with the columns of `mask`, decoded as they are fetched.
    pub fn batches(
        &self,
        path: &Path,
        metadata: ArrowReaderMetadata,
        mask: ProjectionMask,
        row_groups: Vec<usize>,
        batch_rows: usize,
    ) -> Result<
        (
            SchemaRef,
            impl Iterator<Item = Result<RecordBatch, Error>> + use<>,
        ),
        Error,
    > {
        let mut stream =
            ParquetRecordBatchStreamBuilder::new_with_metadata(self.reader(), metadata)
                .with_projection(mask)
                .with_row_groups(row_groups)
                .with_batch_size(batch_rows)
                .build()
                .map_err(|e| corrupt(path, e))?;
        let schema = stream.schema().clone();
        let path = path.to_path_buf();
        let batches = std::iter::from_fn(move || {
            objects::block_on(stream.next()).map(|batch| batch.map_err(|e| read_error(&path, e)))
        });
        Ok((schema, batches))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The parquet crate's async reader over one object: ranged reads, several at once, or slices
/// of the object when it arrived whole.
struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    size: u64,
    body: Option<Bytes>,
}

impl ObjectReader {
    /// `range` of the body, when the object arrived whole and holds it.
    fn slice(&self, range: &std::ops::Range<u64>) -> Option<Bytes> {
        let body = self.body.as_ref()?;
        let (start, end) = (
            usize::try_from(range.start).ok()?,
            usize::try_from(range.end).ok()?,
        );
        (start <= end && end <= body.len()).then(|| body.slice(start..end))
    }
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            if let Some(bytes) = self.slice(&range) {
                return Ok(bytes);
            }
            self.store
                .get_range(&self.key, range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            if let Some(slices) = ranges.iter().map(|r| self.slice(r)).collect() {
                return Ok(slices);
            }
            self.store
                .get_ranges(&self.key, &ranges)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// A failed fetch is the store's error; anything else means the bytes are not valid Parquet.
fn read_error(path: &Path, error: ParquetError) -> Error {
    match error {
        ParquetError::External(external) => match external.downcast::<object_store::Error>() {
            Ok(fetch) => {
                Error::Objects(objects::Error::classify(path.display().to_string(), *fetch))
            }
            Err(other) => corrupt(path, other),
        },
        other => corrupt(path, other),
    }
}
