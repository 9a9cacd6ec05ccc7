//! The commit of an execution on object storage: every object it writes is first uploaded under
//! a prefix of its own, `<state>/.commits/<id>/`; then the journal `<state>/commit.json` is
//! written, only if absent: the commit point; then each object is copied to its name and the
//! journal removed. A crash before the journal leaves the old state and uploads that the next
//! execution removes; a crash after it is finished by the next execution from the journal alone
//! ([`recover`]): copying again writes the same bytes, so no record or alert is lost or doubled.

use std::collections::BTreeMap;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use crate::objects::Location;
use crate::state::{Error, failpoint};

const JOURNAL: &str = "commit.json";
/// Where commits upload their objects before the commit point.
const UPLOADS: &str = ".commits";

/// One object of a commit: where it was uploaded, and its name once published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Publish {
    /// Key under the state location.
    staged: String,
    /// Index into [`Journal::locations`].
    location: usize,
    /// Key under that location.
    target: String,
}

/// What `commit.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Journal {
    commit: String,
    /// The URLs of the locations the objects are published to.
    locations: Vec<String>,
    objects: Vec<Publish>,
}

/// An object to publish: its bytes, the location and its key relative to it.
pub struct Object {
    pub bytes: Bytes,
    pub location: Location,
    pub relative: String,
}

/// Publishes `objects` in one commit named `id`: uploads them, writes the journal, then applies
/// it. `before_commit_point` (the lease's renewal) may refuse before the uploads and before the
/// journal.
pub fn commit(
    state: &Location,
    id: &str,
    objects: Vec<Object>,
    before_commit_point: impl Fn() -> Result<(), Error>,
) -> Result<(), Error> {
    let mut locations: BTreeMap<String, (usize, Location)> = BTreeMap::new();
    let mut journal = Journal {
        commit: id.to_string(),
        locations: Vec::new(),
        objects: Vec::with_capacity(objects.len()),
    };
    let mut uploads = Vec::with_capacity(objects.len());
    for (n, object) in objects.into_iter().enumerate() {
        let next = locations.len();
        let (index, _) = locations
            .entry(object.location.url().to_string())
            .or_insert_with(|| (next, object.location.clone()));
        let staged = format!("{UPLOADS}/{id}/{n}");
        uploads.push((state.key(&staged), object.bytes));
        journal.objects.push(Publish {
            staged,
            location: *index,
            target: object.relative,
        });
    }
    let mut named: Vec<(usize, String)> = locations
        .into_iter()
        .map(|(url, (i, _))| (i, url))
        .collect();
    named.sort();
    journal.locations = named.into_iter().map(|(_, url)| url).collect();
    // Still the holder: uploading for nothing is avoided, the check before the journal is what
    // counts.
    before_commit_point()?;
    state.put_all(uploads)?;
    failpoint("remote-before-journal");
    before_commit_point()?;
    let bytes = serde_json::to_vec(&journal)
        .map_err(|e| Error::io(std::path::Path::new(JOURNAL), std::io::Error::other(e)))?;
    let key = state.key(JOURNAL);
    if state.put_new(&key, Bytes::from(bytes))?.is_none() {
        return Err(Error::LeaseLost {
            url: state.url_of(&key),
        });
    }
    failpoint("remote-after-journal");
    apply(state, &journal)
}

/// Finishes a commit a crash interrupted, then removes the uploads of commits that never reached
/// their commit point. Called under the lease. Returns whether there was a commit to finish.
pub fn recover(state: &Location) -> Result<bool, Error> {
    let key = state.key(JOURNAL);
    let finished = match state.get(&key)? {
        Some(found) => {
            let journal: Journal =
                serde_json::from_slice(&found.bytes).map_err(|source| Error::BadJournal {
                    path: state.url_of(&key).into(),
                    source,
                })?;
            apply(state, &journal)?;
            true
        }
        None => false,
    };
    let left: Vec<ObjectPath> = state
        .list(&state.key(UPLOADS))?
        .into_iter()
        .map(|meta| meta.location)
        .collect();
    state.delete_all(left)?;
    Ok(finished)
}

/// Copies every uploaded object to its name, then removes the uploads and the journal. Each
/// step can be repeated: an upload already removed was copied before.
fn apply(state: &Location, journal: &Journal) -> Result<(), Error> {
    let locations = journal
        .locations
        .iter()
        .map(|url| Location::parse(url))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, object) in journal.objects.iter().enumerate() {
        if i == 1 {
            failpoint("remote-mid-publish");
        }
        let target = locations
            .get(object.location)
            .ok_or_else(|| Error::BadRemoteJournal {
                url: state.url_of(&state.key(JOURNAL)),
                problem: format!(
                    "object {i} names location {} of {}",
                    object.location,
                    locations.len()
                ),
            })?;
        state.copy_to(
            &state.key(&object.staged),
            target,
            &target.key(&object.target),
        )?;
    }
    failpoint("remote-after-publish");
    let uploads = journal
        .objects
        .iter()
        .map(|o| state.key(&o.staged))
        .collect();
    state.delete_all(uploads)?;
    failpoint("remote-before-journal-removal");
    state.delete_all(vec![state.key(JOURNAL)])?;
    Ok(())
}
