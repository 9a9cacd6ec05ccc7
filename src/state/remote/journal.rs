//! The commit of an execution on object storage: every object it writes is first uploaded under
//! a prefix of its own, `<state>/.commits/<id>/`; then the journal `<state>/commit.json` is
//! written, only if absent: the commit point; then each object is copied to its name and the
//! journal removed. A crash before the journal leaves the old state and uploads that the next
//! execution removes; a crash after it is finished by the next execution from the journal alone
//! ([`recover`]): copying again writes the same bytes, so no record or alert is lost or doubled.

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
    let mut journal = Journal {
        commit: id.to_string(),
        locations: Vec::new(),
        objects: Vec::with_capacity(objects.len()),
    };
    // The locations in the order the journal numbers them.
    let mut known: Vec<Location> = Vec::new();
    let mut uploads = Vec::with_capacity(objects.len());
    for (n, object) in objects.into_iter().enumerate() {
        let url = object.location.url();
        let index = match known.iter().position(|l| l.url() == url) {
            Some(index) => index,
            None => {
                known.push(object.location.clone());
                known.len() - 1
            }
        };
        let staged = format!("{UPLOADS}/{id}/{n}");
        uploads.push((state.key(&staged), object.bytes));
        journal.objects.push(Publish {
            staged,
            location: index,
            target: object.relative,
        });
    }
    journal.locations = known.iter().map(|l| l.url().to_string()).collect();
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
    apply(state, &journal, &known)
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
            apply(state, &journal, &[])?;
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
fn apply(state: &Location, journal: &Journal, known: &[Location]) -> Result<(), Error> {
    // The clients at hand are reused; a location only the journal names gets one from its URL.
    let locations = journal
        .locations
        .iter()
        .map(
            |url| match std::iter::once(state).chain(known).find(|l| l.url() == url) {
                Some(location) => Ok(location.clone()),
                None => Location::parse(url),
            },
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(state: &Location, relative: &str, text: &str) -> Object {
        Object {
            bytes: Bytes::from(text.to_string()),
            location: state.clone(),
            relative: relative.to_string(),
        }
    }

    fn text(state: &Location, relative: &str) -> Option<String> {
        let found = state.get(&state.key(relative)).expect("get");
        found.map(|o| String::from_utf8(o.bytes.to_vec()).expect("utf-8"))
    }

    fn names(state: &Location) -> Vec<String> {
        let mut names: Vec<String> = state
            .list(state.prefix())
            .expect("list")
            .into_iter()
            .map(|meta| meta.location.to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_commit_publishes_every_object_and_leaves_no_upload_or_journal() {
        let state = Location::in_memory("s3://bucket/state");
        let objects = vec![
            object(&state, "job.json", "{}"),
            object(&state, "out/alerts/job/a.parquet", "PAR1"),
        ];
        commit(&state, "c1", objects, || Ok(())).expect("commit");
        assert_eq!(text(&state, "job.json").as_deref(), Some("{}"));
        assert_eq!(
            text(&state, "out/alerts/job/a.parquet").as_deref(),
            Some("PAR1")
        );
        assert_eq!(
            names(&state),
            ["state/job.json", "state/out/alerts/job/a.parquet"]
        );
    }

    #[test]
    fn a_refused_commit_point_publishes_nothing() {
        let state = Location::in_memory("s3://bucket/state");
        let lost = || {
            Err(Error::LeaseLost {
                url: "s3://bucket/state/.lock".into(),
            })
        };
        let refused = commit(&state, "c1", vec![object(&state, "job.json", "{}")], lost);
        assert!(matches!(refused, Err(Error::LeaseLost { .. })));
        assert!(names(&state).is_empty());
    }

    #[test]
    fn recovery_finishes_a_journal_alone_once_and_removes_uploads_no_journal_names() {
        let state = Location::in_memory("s3://bucket/state");
        state
            .put(&state.key("job.json"), Bytes::from("old"))
            .expect("the state before");
        // A crash after the commit point: the uploads and the journal, nothing copied yet.
        let journal = Journal {
            commit: "c1".into(),
            locations: vec![state.url().to_string()],
            objects: vec![Publish {
                staged: format!("{UPLOADS}/c1/0"),
                location: 0,
                target: "job.json".into(),
            }],
        };
        state
            .put(&state.key(&format!("{UPLOADS}/c1/0")), Bytes::from("new"))
            .expect("upload");
        let bytes = serde_json::to_vec(&journal).expect("journal");
        state
            .put(&state.key(JOURNAL), Bytes::from(bytes))
            .expect("journal");
        // And the uploads of a commit that never reached its commit point.
        state
            .put(&state.key(&format!("{UPLOADS}/c2/0")), Bytes::from("never"))
            .expect("upload");

        assert!(recover(&state).expect("recover"));
        assert_eq!(text(&state, "job.json").as_deref(), Some("new"));
        assert_eq!(names(&state), ["state/job.json"]);
        assert!(
            !recover(&state).expect("recover again"),
            "nothing left to finish"
        );
        assert_eq!(text(&state, "job.json").as_deref(), Some("new"));
    }
}
