//! State and outputs on object storage: a runner that is new at every execution (a CI schedule,
//! a Kubernetes CronJob) continues exactly where the last execution stopped.
//!
//! An execution works in a local [`Workspace`]: under the state location's lease, a commit a crash
//! interrupted is finished, the job states and window logs are downloaded, and the execution runs
//! on local folders exactly as it would on a disk. Its outcome (new output files, changed states
//! and logs, the NDJSON it wrote) is then published as one journaled commit ([`journal`]). So on
//! object storage an invocation is one commit: a backfill interrupted half-way is redone whole by
//! the next one, and nothing of it is published twice.
//!
//! Layout under the state location: `<job>.json`, `<job>.window.ndjson`, `.lock` (the
//! [`lease`]), and while publishing `commit.json` and `.commits/<id>/`. An NDJSON location is a
//! folder: each commit adds one object, `<execution time>-<commit>.ndjson`, whose names sort in
//! the order they were written. The output location and each NDJSON location hold a marker,
//! `.netrare-owner`, naming the one state location that writes them.

mod journal;
mod lease;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use walkdir::WalkDir;

use self::journal::Object;
use self::lease::Lease;
use super::owner::{Marker, OWNER_MARKER};
use super::{Error, JobState, WindowLog};
use crate::objects::Location;
use crate::output::Folder;
use crate::time::EpochMs;

/// Default time after which a crashed execution's lease may be taken over.
pub const DEFAULT_LOCK_EXPIRY: Duration = Duration::from_secs(300);

/// Where an execution's state and outputs live on object storage, as URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTargets {
    pub state: String,
    pub out: String,
    /// Each NDJSON location (a folder of one object per commit).
    pub ndjson: Vec<String>,
}

/// An execution's local copy of its state and outputs on object storage, held under the lease.
pub struct Workspace {
    state: Location,
    out: Location,
    ndjson: Vec<(Location, PathBuf)>,
    folder: tempfile::TempDir,
    /// Each state file as downloaded, to publish only what the execution changed.
    downloaded: BTreeMap<String, Vec<u8>>,
    lease: Lease,
}

impl Workspace {
    /// Takes the lease of the state location, claims the outputs, finishes an interrupted commit
    /// and downloads the job states. `jobs` are the ids the execution runs: one without a state
    /// but with outputs is refused unless `relearn`, as on a disk.
    pub fn open(
        targets: &RemoteTargets,
        jobs: &[&str],
        relearn: bool,
        lock_expiry: Duration,
    ) -> Result<Workspace, Error> {
        let state = Location::parse(&targets.state)?;
        let out = Location::parse(&targets.out)?;
        let ndjson_locations = targets
            .ndjson
            .iter()
            .map(|url| Location::parse(url))
            .collect::<Result<Vec<_>, _>>()?;
        check_apart(&state, &out, &ndjson_locations)?;
        // Every location answers before anything is written to any of them.
        for location in [&state, &out].into_iter().chain(&ndjson_locations) {
            location.probe()?;
        }
        let lease = Lease::acquire(&state, lock_expiry, holder_name())?;
        claim(&out, &state)?;
        for location in &ndjson_locations {
            claim(location, &state)?;
        }
        if journal::recover(&state)? {
            tracing::warn!(
                state = state.url(),
                "finished a commit an earlier execution left"
            );
        }
        let folder = tempfile::Builder::new()
            .prefix("netrare-workspace-")
            .tempdir()
            .map_err(|e| Error::io(&std::env::temp_dir(), e))?;
        let local_state = folder.path().join("state");
        std::fs::create_dir_all(&local_state).map_err(|e| Error::io(&local_state, e))?;
        // Each job's snapshot and window log, named as the state folder names them.
        let mut downloaded = BTreeMap::new();
        for job in jobs {
            for path in [
                JobState::path(&local_state, job),
                WindowLog::path(&local_state, job),
            ] {
                let name = file_name(&path);
                if let Some(object) = state.get(&state.key(&name))? {
                    std::fs::write(&path, &object.bytes).map_err(|e| Error::io(&path, e))?;
                    downloaded.insert(name, object.bytes.to_vec());
                }
            }
        }
        if !relearn {
            for job in jobs {
                let snapshot = file_name(&JobState::path(&local_state, job));
                if downloaded.contains_key(&snapshot) {
                    continue;
                }
                if let Some(outputs) = outputs_of(&out, job)? {
                    return Err(Error::MissingSnapshot {
                        path: state.url_of(&state.key(&snapshot)).into(),
                        job_id: job.to_string(),
                        outputs: outputs.into(),
                    });
                }
            }
        }
        let ndjson = ndjson_locations
            .into_iter()
            .enumerate()
            .map(|(i, location)| (location, folder.path().join(format!("ndjson-{i}.ndjson"))))
            .collect();
        Ok(Workspace {
            state,
            out,
            ndjson,
            folder,
            downloaded,
            lease,
        })
    }

    /// The local state folder the execution uses.
    pub fn state_dir(&self) -> PathBuf {
        self.folder.path().join("state")
    }

    /// The local output folder the execution uses.
    pub fn out_dir(&self) -> PathBuf {
        self.folder.path().join("out")
    }

    /// The local file standing for the NDJSON location `url`.
    pub fn ndjson_file(&self, url: &str) -> Option<PathBuf> {
        let url = url.trim_end_matches('/');
        self.ndjson
            .iter()
            .find(|(location, _)| location.url() == url)
            .map(|(_, file)| file.clone())
    }

    /// Publishes what the execution changed as one commit, named after the last execution
    /// time `at`, then releases the lease.
    pub fn commit(self, at: EpochMs) -> Result<Published, Error> {
        let id = format!("{}-{:016x}", at.sortable(), random());
        let mut objects = Vec::new();
        let local_state = self.state_dir();
        for name in local_files(&local_state)? {
            let path = local_state.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            if self.downloaded.get(&name) != Some(&bytes) {
                objects.push(Object {
                    bytes: Bytes::from(bytes),
                    location: self.state.clone(),
                    relative: name,
                });
            }
        }
        let local_out = self.out_dir();
        for name in local_files(&local_out)? {
            let path = local_out.join(&name);
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            objects.push(Object {
                bytes: Bytes::from(bytes),
                location: self.out.clone(),
                relative: name,
            });
        }
        for (location, file) in &self.ndjson {
            let bytes = match std::fs::read(file) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(file, e)),
            };
            if !bytes.is_empty() {
                objects.push(Object {
                    bytes: Bytes::from(bytes),
                    location: location.clone(),
                    relative: format!("{id}.ndjson"),
                });
            }
        }
        let published = Published {
            objects: objects.len(),
            commit: id.clone(),
            state: self.state.url().to_string(),
        };
        if published.objects > 0 {
            journal::commit(&self.state, &id, objects, || self.lease.renew())?;
        }
        Ok(published)
    }
}

/// What a commit on object storage published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub objects: usize,
    /// The commit's name, which its NDJSON objects carry.
    pub commit: String,
    /// The state location it was journaled in.
    pub state: String,
}

/// Who takes the lease: host, process and a random part, so two executions never share a name.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into());
    format!("{host}/{}/{:08x}", std::process::id(), random() as u32)
}

/// A random number, from the standard library's per-process hash keys and the clock.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The file name of a path the state folder's own helpers made.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// As on a disk, the state location cannot be the output location, and an NDJSON folder cannot
/// be the state location or inside it: the state location's files would take its objects for
/// job states.
fn check_apart(state: &Location, out: &Location, ndjson: &[Location]) -> Result<(), Error> {
    if state.url() == out.url() {
        return Err(Error::BadTarget {
            path: state.url().into(),
            problem: "the state location cannot be the output location".into(),
        });
    }
    let inside_state =
        |l: &Location| l.url() == state.url() || l.url().starts_with(&format!("{}/", state.url()));
    match ndjson.iter().find(|l| inside_state(l)) {
        Some(location) => Err(Error::BadTarget {
            path: location.url().into(),
            problem: "an NDJSON location cannot be the state location or inside it".into(),
        }),
        None => Ok(()),
    }
}

/// Claims `location` for `state`: its marker is written if absent, and must name `state`.
fn claim(location: &Location, state: &Location) -> Result<(), Error> {
    let key = location.key(OWNER_MARKER);
    let mine = Marker {
        state_dir: state.url().into(),
    };
    let bytes = Bytes::from(serde_json::to_vec(&mine).unwrap_or_default());
    if location.put_new(&key, bytes)?.is_some() {
        return Ok(());
    }
    let found = location.get(&key)?;
    let owner = found.and_then(|object| serde_json::from_slice::<Marker>(&object.bytes).ok());
    match owner {
        Some(owner) if owner == mine => Ok(()),
        other => Err(Error::OwnedByOther {
            path: location.url().into(),
            owner: other.map_or_else(|| "an unreadable marker".into(), |m| m.state_dir),
        }),
    }
}

/// The URL of the first of `job`'s output folders under `out` that holds an object, if any.
fn outputs_of(out: &Location, job: &str) -> Result<Option<String>, Error> {
    for folder in Folder::ALL {
        let key = out.key(&format!("{}/{job}", folder.as_str()));
        let (objects, prefixes) = out.list_level(&key)?;
        if !objects.is_empty() || !prefixes.is_empty() {
            return Ok(Some(out.url_of(&key)));
        }
    }
    Ok(None)
}

/// The files under `root`, relative and `/`-separated, leaving out hidden names (the lock, the
/// owner marker, the staging folder, temporary files); none when `root` does not exist.
fn local_files(root: &Path) -> Result<Vec<String>, Error> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    let walk = WalkDir::new(root).sort_by_file_name().into_iter();
    for entry in
        walk.filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
    {
        let entry = entry.map_err(|e| Error::io(root, e.into()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        if let Ok(relative) = entry.path().strip_prefix(root) {
            let parts: Vec<_> = relative
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            files.push(parts.join("/"));
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_neither_the_outputs_nor_holds_an_ndjson_folder() {
        let at = |url: &str| Location::in_memory(url);
        let (state, out) = (at("s3://b/netrare/state"), at("s3://b/netrare/out"));
        assert!(check_apart(&state, &out, &[at("s3://b/netrare/alerts")]).is_ok());
        assert!(
            check_apart(
                &state,
                &out,
                &[at("s3://b/netrare/alerts"), at("s3://b/netrare/state-2")]
            )
            .is_ok()
        );
        for (state, out, ndjson) in [
            ("s3://b/x", "s3://b/x", "s3://b/alerts"),
            ("s3://b/state", "s3://b/out", "s3://b/state"),
            ("s3://b/state", "s3://b/out", "s3://b/state/alerts"),
        ] {
            let refused = check_apart(&at(state), &at(out), &[at(ndjson)]);
            assert!(
                matches!(refused, Err(Error::BadTarget { .. })),
                "{state} {out} {ndjson}"
            );
        }
    }
}
