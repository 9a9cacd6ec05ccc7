//! Object storage (Amazon S3, Google Cloud Storage, Azure Blob Storage) as netrare reaches it:
//! a location given as a URL (`s3://bucket/prefix`), a client built from the provider's standard
//! credential chain, and the few operations the store and the state need, each blocking on one
//! shared runtime so the rest of netrare stays synchronous.
//!
//! Credentials never come from the settings file: the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_ENDPOINT_URL`, `GOOGLE_SERVICE_ACCOUNT`, `AZURE_STORAGE_ACCOUNT_NAME`, ...) and the
//! instance or workload identity the provider's builder finds (docs/scheduling.md).

mod error;

pub use error::Error;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectMeta, ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutMode, PutOptions, PutPayload,
    RetryConfig, UpdateVersion,
};

/// The URL schemes read as object storage. `file://` is not among them: it names a local path.
const SCHEMES: [&str; 7] = [
    "s3://", "s3a://", "gs://", "az://", "azure://", "abfs://", "abfss://",
];

/// True when `text` names a location on object storage rather than a local path.
pub fn is_url(text: &str) -> bool {
    SCHEMES.iter().any(|scheme| text.starts_with(scheme))
}

/// The local path a `file://` URL names, or `None` for anything else.
pub fn file_url_path(text: &str) -> Option<&str> {
    text.strip_prefix("file://")
}

/// Runs `future` to completion on the shared runtime, from any thread that is not one of the
/// runtime's own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("netrare-objects")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the object storage runtime: {e}"))
        })
        .block_on(future)
}

/// Requests in flight at once when many objects are written or removed.
const CONCURRENT_REQUESTS: usize = 16;

/// A prefix on an object store: the store's client and the prefix's keys.
#[derive(Debug, Clone)]
pub struct Location {
    /// As given, without a trailing `/`: what messages name.
    url: String,
    /// `scheme://bucket`, which two locations on one bucket share.
    bucket: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

/// What a listing of one level finds: the objects directly under a prefix and the prefixes one
/// level down.
pub type Listing = (Vec<ObjectMeta>, Vec<ObjectPath>);

/// An object read whole, with the version a conditional write replaces.
#[derive(Debug, Clone)]
pub struct Object {
    pub bytes: Bytes,
    pub version: UpdateVersion,
}

impl Location {
    /// Parses `url` and builds its client from the environment. Nothing is requested yet.
    pub fn parse(url: &str) -> Result<Location, Error> {
        let url = url.trim_end_matches('/').to_string();
        let bad = |reason: String| Error::BadUrl {
            url: url.clone(),
            reason,
        };
        let parsed = url::Url::parse(&url).map_err(|e| bad(e.to_string()))?;
        let (scheme, prefix) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        };
        let store: Arc<dyn ObjectStore> = match scheme {
            ObjectStoreScheme::AmazonS3 => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            ObjectStoreScheme::GoogleCloudStorage => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            ObjectStoreScheme::MicrosoftAzure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            ),
            _ => {
                return Err(bad(
                    "expected s3://, gs:// or az:// (a local path needs no scheme)".into(),
                ));
            }
        };
        let bucket = format!(
            "{}://{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default()
        );
        Ok(Location {
            url,
            bucket,
            store,
            prefix,
        })
    }

    /// A location on a store in memory, for tests of what is built on locations.
    #[cfg(test)]
    pub fn in_memory(url: &str) -> Location {
        let url = url.trim_end_matches('/').to_string();
        let (bucket, prefix) = url
            .split_once("://")
            .map(|(scheme, rest)| {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                (format!("{scheme}://{bucket}"), prefix.to_string())
            })
            .unwrap_or_default();
        Location {
            url,
            bucket,
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: ObjectPath::from(prefix),
        }
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client, for readers that stream from it.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The location's own prefix, as a key.
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// The key of `relative` (`/`-separated) under the location.
    pub fn key(&self, relative: &str) -> ObjectPath {
        relative
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.prefix.clone(), |key, part| key.clone().join(part))
    }

    /// The URL of `key`, for messages and journals.
    pub fn url_of(&self, key: &ObjectPath) -> String {
        format!("{}/{}", self.bucket, key)
    }

    /// True when both locations are on one bucket, so objects copy between them server-side.
    fn same_bucket(&self, other: &Location) -> bool {
        self.bucket == other.bucket
    }

    fn fail(&self, key: &ObjectPath, error: object_store::Error) -> Error {
        Error::classify(self.url_of(key), error)
    }

    /// Checks that the bucket exists and the credentials may list it, with one request: the
    /// listing of the location's own prefix, which a caller that lists may keep.
    pub fn probe(&self) -> Result<Listing, Error> {
        block_on(self.store.list_with_delimiter(Some(&self.prefix)))
            .map(|listed| (listed.objects, listed.common_prefixes))
            .map_err(|e| match Error::classify(self.url.clone(), e) {
                Error::Missing { url } => Error::NoBucket {
                    url,
                    reason: "404 Not Found".into(),
                },
                other => other,
            })
    }

    /// The object at `key`, or `None` when there is none.
    pub fn get(&self, key: &ObjectPath) -> Result<Option<Object>, Error> {
        let got = block_on(async {
            let result = self.store.get(key).await?;
            let version = UpdateVersion {
                e_tag: result.meta.e_tag.clone(),
                version: result.meta.version.clone(),
            };
            Ok::<_, object_store::Error>(Object {
                bytes: result.bytes().await?,
                version,
            })
        });
        match got {
            Ok(object) => Ok(Some(object)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(key, e)),
        }
    }

    /// Writes `bytes` at `key`, replacing any object there.
    pub fn put(&self, key: &ObjectPath, bytes: Bytes) -> Result<(), Error> {
        block_on(self.store.put(key, PutPayload::from_bytes(bytes)))
            .map(|_| ())
            .map_err(|e| self.fail(key, e))
    }

    /// Writes `bytes` at `key` only if no object is there (`If-None-Match: *`); `None` when
    /// one is. Returns the new object's version.
    pub fn put_new(&self, key: &ObjectPath, bytes: Bytes) -> Result<Option<UpdateVersion>, Error> {
        self.put_conditional(key, bytes, PutMode::Create)
    }

    /// Writes `bytes` at `key` only if the object there is still `version` (`If-Match`);
    /// `None` when it changed.
    pub fn put_replacing(
        &self,
        key: &ObjectPath,
        bytes: Bytes,
        version: UpdateVersion,
    ) -> Result<Option<UpdateVersion>, Error> {
        self.put_conditional(key, bytes, PutMode::Update(version))
    }

    fn put_conditional(
        &self,
        key: &ObjectPath,
        bytes: Bytes,
        mode: PutMode,
    ) -> Result<Option<UpdateVersion>, Error> {
        let options = PutOptions::from(mode);
        match block_on(
            self.store
                .put_opts(key, PutPayload::from_bytes(bytes), options),
        ) {
            Ok(put) => Ok(Some(UpdateVersion {
                e_tag: put.e_tag,
                version: put.version,
            })),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(None),
            Err(e) => Err(self.fail(key, e)),
        }
    }

    /// Writes several objects at once.
    pub fn put_all(&self, objects: Vec<(ObjectPath, Bytes)>) -> Result<(), Error> {
        block_on(
            futures::stream::iter(objects.into_iter().map(|(key, bytes)| async move {
                self.store
                    .put(&key, PutPayload::from_bytes(bytes))
                    .await
                    .map_err(|e| self.fail(&key, e))
            }))
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect::<Vec<_>>(),
        )
        .map(|_| ())
    }

    /// Copies `from` (a key of this location's bucket) to `to` of `target`: server-side on one
    /// bucket, read and written otherwise. `false` when `from` is gone.
    pub fn copy_to(
        &self,
        from: &ObjectPath,
        target: &Location,
        to: &ObjectPath,
    ) -> Result<bool, Error> {
        if self.same_bucket(target) {
            return match block_on(self.store.copy(from, to)) {
                Ok(()) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(target.fail(to, e)),
            };
        }
        match self.get(from)? {
            Some(object) => target.put(to, object.bytes).map(|()| true),
            None => Ok(false),
        }
    }

    /// Removes the objects at `keys`; an object already gone is no error.
    pub fn delete_all(&self, keys: Vec<ObjectPath>) -> Result<(), Error> {
        block_on(
            futures::stream::iter(keys.into_iter().map(|key| async move {
                match self.store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.fail(&key, e)),
                }
            }))
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect::<Vec<_>>(),
        )
        .map(|_| ())
    }

    /// Every object under `key`, at any depth.
    pub fn list(&self, key: &ObjectPath) -> Result<Vec<ObjectMeta>, Error> {
        block_on(self.store.list(Some(key)).try_collect::<Vec<_>>()).map_err(|e| self.fail(key, e))
    }

    /// For each of `keys`, the objects directly under it and the prefixes one level down, all
    /// requested at once.
    pub fn list_levels(&self, keys: &[ObjectPath]) -> Result<Vec<Listing>, Error> {
        block_on(
            futures::stream::iter(keys.iter().map(|key| async move {
                self.store
                    .list_with_delimiter(Some(key))
                    .await
                    .map(|listed| (listed.objects, listed.common_prefixes))
                    .map_err(|e| self.fail(key, e))
            }))
            .buffered(CONCURRENT_REQUESTS)
            .try_collect(),
        )
    }

    /// The objects directly under `key` and the prefixes one level down.
    pub fn list_level(
        &self,
        key: &ObjectPath,
    ) -> Result<(Vec<ObjectMeta>, Vec<ObjectPath>), Error> {
        block_on(self.store.list_with_delimiter(Some(key)))
            .map(|listed| (listed.objects, listed.common_prefixes))
            .map_err(|e| self.fail(key, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_url("s3://bucket/events"));
        assert!(is_url("gs://bucket"));
        assert!(is_url("az://container/state"));
        assert!(!is_url("events"));
        assert!(!is_url("/data/s3://x"));
        assert!(!is_url("file:///data/events"));
        assert_eq!(file_url_path("file:///data/events"), Some("/data/events"));
        assert_eq!(file_url_path("/data/events"), None);
    }

    #[test]
    fn keys_and_urls_are_under_the_prefix() {
        let location = Location::parse("s3://bucket/netrare/state/").expect("an S3 URL");
        assert_eq!(location.url(), "s3://bucket/netrare/state");
        let key = location.key("proc.json");
        assert_eq!(key.as_ref(), "netrare/state/proc.json");
        assert_eq!(location.url_of(&key), "s3://bucket/netrare/state/proc.json");
        assert_eq!(
            location.key("/.commits//1/").as_ref(),
            "netrare/state/.commits/1"
        );
        assert!(
            Location::parse("s3://bucket/other")
                .expect("S3")
                .same_bucket(&location)
        );
        assert!(
            !Location::parse("s3://other/x")
                .expect("S3")
                .same_bucket(&location)
        );
    }

    #[test]
    fn unknown_schemes_are_refused_naming_the_url() {
        let error = Location::parse("ftp://host/x").expect_err("not object storage");
        assert!(error.to_string().starts_with("ftp://host/x"), "{error}");
    }
}
