//! The bucket stage on Apache Spark: a job's datafeed and fold compiled to one Spark SQL query,
//! sent through Spark Connect, its Arrow result decoded into the same [`BucketSummary`] values
//! the native fold gives.
//!
//! Input: a job and a time window. Output: the job's bucket summaries of that window, for
//! `model` exactly as `bucket::fold_frame` would have made them. The contract between the two is
//! docs/bucket-summary.md. The client needs the `spark` cargo feature; without it
//! [`Session::connect`] says so.
//!
//! [`BucketSummary`]: crate::bucket::BucketSummary

#[cfg(feature = "spark")]
mod client;
mod columns;
mod decode;
mod predicate;
mod query;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[cfg(feature = "spark")]
pub use client::Session;
pub use columns::{ColumnType, MissingColumn, SourceColumn, SourceSchema};
pub use decode::{Error as DecodeError, decode};
pub use query::{
    Error as CompileError, SUMMARY_VERSION, from_clause, influencer_column, source_view,
    summary_query,
};

/// Why the Spark engine could not fold the buckets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This binary has no Spark client.
    #[error(
        "--engine spark: this netrare was built without Spark support: build with --features spark"
    )]
    NotBuilt,
    /// The engine is Spark but no server is named.
    #[error(
        "--engine spark needs a Spark Connect server: --spark-remote sc://HOST:PORT or [spark] remote"
    )]
    NoRemote,
    /// The Spark Connect URL does not parse.
    #[error("Spark Connect URL {remote:?}: {reason}")]
    BadRemote { remote: String, reason: String },
    /// The server did not answer.
    #[error("Spark Connect server {remote} is unreachable: {reason}")]
    Unreachable { remote: String, reason: String },
    /// The server answered with an error.
    #[error("Spark Connect server {remote}: the query failed: {reason}")]
    Query { remote: String, reason: String },
    /// The source lacks a column the job needs.
    #[error("Spark source: {0}")]
    Compile(#[from] CompileError),
    /// The answer breaks the summary contract.
    #[error("Spark answer: {0}")]
    Decode(#[from] DecodeError),
}

/// A Spark Connect session; this build has no client, so connecting fails.
#[cfg(not(feature = "spark"))]
pub struct Session {
    _never: std::convert::Infallible,
}

#[cfg(not(feature = "spark"))]
impl Session {
    /// Always [`Error::NotBuilt`].
    pub fn connect(_remote: &str, _source: &str) -> Result<Session, Error> {
        Err(Error::NotBuilt)
    }

    /// No session exists in this build.
    pub fn fold(
        &self,
        _datafeed: &crate::datafeed::BoolQuery,
        _fold: &crate::bucket::FoldFields,
        _window: crate::store::TimeRange,
    ) -> Result<std::collections::BTreeMap<crate::time::EpochMs, crate::bucket::BucketSummary>, Error>
    {
        match self._never {}
    }

    /// No session exists in this build.
    pub fn bytes_received(&self) -> u64 {
        match self._never {}
    }
}

/// The default Spark Connect port.
const DEFAULT_PORT: u16 = 15002;
/// How long a server gets to accept a connection before it counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Spark Connect URL as messages show it: without its `/;` parameters, which may hold a token.
pub fn shown_remote(remote: &str) -> String {
    remote.split("/;").next().unwrap_or(remote).to_string()
}

/// The `HOST:PORT` of a Spark Connect URL `sc://HOST[:PORT][/;params]`.
pub fn host_port(remote: &str) -> Result<(String, u16), Error> {
    let bad = |reason: &str| Error::BadRemote {
        remote: shown_remote(remote),
        reason: reason.to_string(),
    };
    let rest = remote
        .strip_prefix("sc://")
        .ok_or_else(|| bad("expected sc://HOST:PORT"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad("the port is not a number"))?,
        None => DEFAULT_PORT,
    };
    Ok((host.to_string(), port))
}

/// Fails fast when nothing listens at the server's address; the client itself would retry an
/// unreachable server for many minutes.
pub fn check_reachable(remote: &str) -> Result<(), Error> {
    let (host, port) = host_port(remote)?;
    let unreachable = |reason: String| Error::Unreachable {
        remote: shown_remote(remote),
        reason,
    };
    let addresses: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = String::from("no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{address}: {e}"),
        }
    }
    Err(unreachable(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_port() {
        assert_eq!(
            host_port("sc://spark.example:443/;token=x").expect("parses"),
            ("spark.example".to_string(), 443)
        );
        assert_eq!(
            host_port("sc://[::1]").expect("parses"),
            ("::1".to_string(), DEFAULT_PORT)
        );
        assert!(matches!(
            host_port("http://x:1"),
            Err(Error::BadRemote { .. })
        ));
        assert!(matches!(
            host_port("sc://x:y"),
            Err(Error::BadRemote { .. })
        ));
    }

    #[test]
    fn a_closed_port_is_unreachable_and_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        drop(listener);
        let remote = format!("sc://127.0.0.1:{port}");
        let err = check_reachable(&remote).expect_err("nothing listens");
        assert!(err.to_string().contains(&remote), "{err}");
        assert!(matches!(err, Error::Unreachable { .. }));
    }
}
