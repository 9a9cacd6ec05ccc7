//! A store on object storage (`s3://bucket/events`): its files listed lazily, one partition level
//! at a time, and read through the parquet crate's async reader.
//!
//! Hive partition prefixes (`date=2026-11-22/`) whose span misses the window are never listed,
//! so a scheduled run lists the root and the two or three days it needs, not the whole history.
//! Each footer is fetched once (one request, with a 64 KiB hint) and kept for the execution;
//! a unit then fetches only the column chunks of its columns and row groups, several ranges at
//! once (`get_ranges`, coalesced by the client), which hides the store's latency.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
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
use crate::objects::{self, Location};

/// Bytes fetched from the end of a file for its footer: most footers fit, so one request.
const FOOTER_HINT: usize = 64 * 1024;

/// The files under one object storage prefix, and the footers read so far.
#[derive(Debug)]
pub struct ObjectFiles {
    location: Location,
    footers: Mutex<HashMap<ObjectPath, ArrowReaderMetadata>>,
}

/// One Parquet object of the store.
#[derive(Debug, Clone)]
pub struct ObjectFile {
    files: Arc<ObjectFiles>,
    meta: ObjectMeta,
}

impl ObjectFiles {
    /// Checks the location answers (bucket exists, credentials may list it).
    /// [`Error::NoFiles`] when nothing is under the prefix.
    pub fn open(url: &str) -> Result<Arc<ObjectFiles>, Error> {
        let location = Location::parse(url)?;
        location.probe()?;
        let (objects, prefixes) = location.list_level(location.prefix())?;
        if objects.is_empty() && prefixes.is_empty() {
            return Err(Error::NoFiles {
                location: url.to_string(),
            });
        }
        Ok(Arc::new(ObjectFiles {
            location,
            footers: Mutex::new(HashMap::new()),
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
        let mut levels = vec![self.location.prefix().clone()];
        while let Some(prefix) = levels.pop() {
            let (objects, prefixes) = self.location.list_level(&prefix)?;
            for meta in objects {
                let name = meta.location.filename().unwrap_or_default();
                if is_parquet(OsStr::new(name)) && wanted(&self.path_of(&meta.location)) {
                    found.push(meta);
                }
            }
            levels.extend(prefixes.into_iter().filter(|sub| {
                let name = sub.filename().unwrap_or_default();
                // A prefix is judged as if a file were in it: by its partitions.
                !is_ignored(OsStr::new(name)) && wanted(&self.path_of(&sub.clone().join("_")))
            }));
        }
        found.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(found
            .into_iter()
            .map(|meta| {
                let path = self.path_of(&meta.location);
                let file = ObjectFile {
                    files: self.clone(),
                    meta,
                };
                (path, file)
            })
            .collect())
    }

    /// The URL naming `key`, as a path whose components are the key's parts.
    fn path_of(&self, key: &ObjectPath) -> PathBuf {
        PathBuf::from(self.location.url_of(key))
    }
}

impl ObjectFile {
    /// The file's footer, fetched the first time it is asked for.
    pub fn footer(&self, path: &Path) -> Result<ArrowReaderMetadata, Error> {
        let key = &self.meta.location;
        if let Some(found) = self.footers().get(key) {
            return Ok(found.clone());
        }
        let mut reader = self.reader();
        let metadata = objects::block_on(ArrowReaderMetadata::load_async(
            &mut reader,
            ArrowReaderOptions::new(),
        ))
        .map_err(|e| read_error(path, e))?;
        self.footers().insert(key.clone(), metadata.clone());
        Ok(metadata)
    }

    fn footers(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectPath, ArrowReaderMetadata>> {
        self.files
            .footers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reader(&self) -> ObjectReader {
        ObjectReader {
            store: self.files.location.store().clone(),
            key: self.meta.location.clone(),
            size: self.meta.size,
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

/// The parquet crate's async reader over one object: ranged reads, several at once, and the
/// footer in one request of [`FOOTER_HINT`] bytes from the end when it fits.
struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    size: u64,
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
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
                .with_prefetch_hint(Some(FOOTER_HINT))
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
