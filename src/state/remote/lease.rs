//! The lock of a state folder on object storage: an object written only if absent, or only over
//! the version read, holding who holds it and until when.
//!
//! Object storage has no locks that die with their process, so the lock is a lease: it names its
//! holder and expires. A holder renews it well before it expires, each time only over the version
//! it wrote last, so a holder that lost it finds out at its next renewal, and renews once more
//! just before its commit point. A crashed holder's lease is taken over once it has expired, again
//! only over the version read, so of two runners taking it over at once one wins.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use object_store::UpdateVersion;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use crate::objects::Location;
use crate::state::Error;

/// The lease's object under the state location.
const LEASE: &str = ".lock";

/// What the lease object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Holder {
    /// Host, process and a random part: unique to one execution.
    holder: String,
    /// Epoch ms after which another execution may take the lease over.
    expires_ms: i64,
}

/// The lease, held until dropped (then written as expired, so the next execution takes it at
/// once), renewed by a thread of its own meanwhile.
pub struct Lease {
    shared: Arc<Shared>,
    stop: Option<Sender<()>>,
    renewer: Option<JoinHandle<()>>,
}

struct Shared {
    location: Location,
    key: ObjectPath,
    holder: String,
    expiry: Duration,
    version: Mutex<UpdateVersion>,
    lost: AtomicBool,
}

impl Lease {
    /// Takes the lease of `location` for `expiry`, or [`Error::LeaseHeld`] while another
    /// execution holds an unexpired one.
    pub fn acquire(location: &Location, expiry: Duration, holder: String) -> Result<Lease, Error> {
        let key = location.key(LEASE);
        let body = |until: i64| lease_body(&holder, until);
        let mut version = location.put_new(&key, body(expires_at(expiry)))?;
        if version.is_none() {
            version = match location.get(&key)? {
                // Released between the two requests: ask again, once.
                None => location.put_new(&key, body(expires_at(expiry)))?,
                Some(current) => {
                    let held: Option<Holder> = serde_json::from_slice(&current.bytes).ok();
                    let released = held.as_ref().is_some_and(|h| h.expires_ms == 0);
                    if let Some(held) = held.filter(|h| h.expires_ms > now_ms()) {
                        return Err(Error::LeaseHeld {
                            url: location.url_of(&key),
                            holder: held.holder,
                            expires_ms: held.expires_ms,
                        });
                    }
                    let taken =
                        location.put_replacing(&key, body(expires_at(expiry)), current.version)?;
                    if taken.is_some() && !released {
                        tracing::warn!(lease = %location.url_of(&key), "took over an expired lease");
                    }
                    taken
                }
            };
        }
        let Some(version) = version else {
            return Err(Error::LeaseHeld {
                url: location.url_of(&key),
                holder: "another execution".into(),
                expires_ms: expires_at(expiry),
            });
        };
        let shared = Arc::new(Shared {
            location: location.clone(),
            key,
            holder,
            expiry,
            version: Mutex::new(version),
            lost: AtomicBool::new(false),
        });
        let (stop, stopped) = channel::<()>();
        let renewing = shared.clone();
        let renewer = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(renewing.expiry / 3) {
                if let Err(error) = renewing.renew() {
                    tracing::error!(%error, "the state lease could not be renewed");
                    return;
                }
            }
        });
        Ok(Lease {
            shared,
            stop: Some(stop),
            renewer: Some(renewer),
        })
    }

    /// Renews the lease now, or [`Error::LeaseLost`] when another execution took it over.
    pub fn renew(&self) -> Result<(), Error> {
        self.shared.renew()
    }
}

impl Shared {
    fn renew(&self) -> Result<(), Error> {
        let lost = || Error::LeaseLost {
            url: self.location.url_of(&self.key),
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(lost());
        }
        let mut version = self.version.lock().unwrap_or_else(|p| p.into_inner());
        let body = lease_body(&self.holder, expires_at(self.expiry));
        match self
            .location
            .put_replacing(&self.key, body, version.clone())?
        {
            Some(renewed) => {
                *version = renewed;
                Ok(())
            }
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Err(lost())
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        if self.shared.lost.load(Ordering::SeqCst) {
            return;
        }
        let version = self
            .shared
            .version
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let released = lease_body(&self.shared.holder, 0);
        if let Err(error) = self
            .shared
            .location
            .put_replacing(&self.shared.key, released, version)
        {
            tracing::warn!(%error, "the state lease could not be released; it expires by itself");
        }
    }
}

fn lease_body(holder: &str, expires_ms: i64) -> Bytes {
    let holder = Holder {
        holder: holder.to_string(),
        expires_ms,
    };
    Bytes::from(serde_json::to_vec(&holder).unwrap_or_default())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn expires_at(expiry: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Location {
        Location::in_memory("s3://bucket/state")
    }

    fn holder_of(location: &Location) -> Holder {
        let object = location
            .get(&location.key(LEASE))
            .expect("get")
            .expect("a lease");
        serde_json::from_slice(&object.bytes).expect("a lease body")
    }

    #[test]
    fn a_held_lease_is_refused_naming_its_holder_and_released_when_dropped() {
        let location = state();
        let first =
            Lease::acquire(&location, Duration::from_secs(60), "a/1/0".into()).expect("free");
        assert!(holder_of(&location).expires_ms > now_ms());
        match Lease::acquire(&location, Duration::from_secs(60), "b/2/0".into()) {
            Err(Error::LeaseHeld { holder, url, .. }) => {
                assert_eq!(holder, "a/1/0");
                assert_eq!(url, "s3://bucket/state/.lock");
            }
            other => panic!("expected LeaseHeld, got {:?}", other.map(|_| ())),
        }
        drop(first);
        assert_eq!(holder_of(&location).expires_ms, 0, "released as expired");
        let second = Lease::acquire(&location, Duration::from_secs(60), "b/2/0".into());
        assert!(second.is_ok(), "a released lease is taken at once");
    }

    #[test]
    fn an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew() {
        let location = state();
        let mut crashed =
            Lease::acquire(&location, Duration::from_millis(30), "a/1/0".into()).expect("free");
        // The holder stops renewing, as a paused or killed process would.
        drop(crashed.stop.take());
        if let Some(renewer) = crashed.renewer.take() {
            renewer.join().expect("the renewer stops");
        }
        std::thread::sleep(Duration::from_millis(60));
        let taker =
            Lease::acquire(&location, Duration::from_secs(60), "b/2/0".into()).expect("expired");
        assert_eq!(holder_of(&location).holder, "b/2/0");
        assert!(matches!(crashed.renew(), Err(Error::LeaseLost { .. })));
        assert!(taker.renew().is_ok());
        assert_eq!(holder_of(&location).holder, "b/2/0");
    }

    #[test]
    fn the_holder_renews_before_expiry() {
        let location = state();
        let lease =
            Lease::acquire(&location, Duration::from_millis(1200), "a/1/0".into()).expect("free");
        let first = holder_of(&location).expires_ms;
        std::thread::sleep(Duration::from_millis(1000));
        assert!(
            holder_of(&location).expires_ms > first,
            "renewed by its thread"
        );
        assert!(Lease::acquire(&location, Duration::from_secs(1), "b/2/0".into()).is_err());
        drop(lease);
    }
}
