//! Errors of object storage, sorted by what the operator does about them: each kind has its own
//! exit code (`cli/exit.rs`). The message names the location and the store's answer in a line
//! (its HTTP status and error code), not the client's whole chain of retries.

use std::error::Error as _;

use object_store::client::HttpErrorKind;

/// Why an object store could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A location that is not an object storage URL this build reads.
    #[error("{url}: not an object storage location: {reason}")]
    BadUrl { url: String, reason: String },
    /// The endpoint did not answer: a network or DNS problem, or the service is down.
    #[error("{url}: the object store cannot be reached (try again later): {reason}")]
    Unreachable { url: String, reason: String },
    /// The bucket (or container) does not exist.
    #[error("{url}: no such bucket: {reason}")]
    NoBucket { url: String, reason: String },
    /// The credentials are missing, wrong, or not allowed to do this.
    #[error(
        "{url}: access denied; netrare takes credentials from the environment and the instance identity (docs/scheduling.md): {reason}"
    )]
    Denied { url: String, reason: String },
    /// An object that should be there is not.
    #[error("{url}: not found")]
    Missing { url: String },
    /// Any other failure of the store.
    #[error("{url}: the object store failed: {reason}")]
    Failed { url: String, reason: String },
}

impl Error {
    /// Sorts a client error on `url` by its kind.
    pub fn classify(url: String, error: object_store::Error) -> Error {
        let reason = reason(&error);
        let status = status(&error);
        match &error {
            _ if reason.contains("NoSuchBucket") || reason.contains("ContainerNotFound") => {
                Error::NoBucket { url, reason }
            }
            object_store::Error::NotFound { .. } => Error::Missing { url },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Error::Denied { url, reason },
            _ if matches!(status, Some(401 | 403)) => Error::Denied { url, reason },
            _ if not_connected(&error) => Error::Unreachable { url, reason },
            _ => Error::Failed { url, reason },
        }
    }
}

/// True when the request never got an answer: connecting failed or timed out.
fn not_connected(error: &object_store::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = error.source();
    while let Some(error) = cause {
        if let Some(http) = error.downcast_ref::<object_store::client::HttpError>() {
            return matches!(http.kind(), HttpErrorKind::Connect | HttpErrorKind::Timeout);
        }
        cause = error.source();
    }
    false
}

/// The innermost cause in one line: the store's status and its error code and message when the
/// answer carries them (`404 Not Found: NoSuchBucket: The specified bucket does not exist`).
fn reason(error: &object_store::Error) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    let text = innermost.to_string();
    let (head, body) = text.split_once(": <").unwrap_or((&text, ""));
    let head = head.trim_start_matches("Server returned non-2xx status code: ");
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let end = body[start..].find("</")?;
        Some(body[start..start + end].to_string())
    };
    let line = match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{head}: {code}: {message}"),
        (Some(code), None) => format!("{head}: {code}"),
        _ => head.to_string(),
    };
    line.lines().next().unwrap_or_default().to_string()
}

/// The HTTP status of the store's answer, when there was one.
fn status(error: &object_store::Error) -> Option<u16> {
    let text = reason(error);
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
