//! The report: one self-contained HTML page of what the jobs found, for an analyst to open in a
//! browser, offline.
//!
//! Input: `triage`'s outputs and investigations. Output: a page with no network access (inline
//! CSS and SVG, no script at all, a Content-Security-Policy that forbids loading anything) laid
//! out by a template engine that escapes every value, since hosts, processes, users and paths
//! come from events and are attacker-controlled. Written atomically, so a browser never reads a
//! half-written file. Neighbours: `triage` before it; `cli` calls it.

mod page;

pub use page::{Page, Window};

use std::path::{Path, PathBuf};

use minijinja::{Environment, Value};

use crate::triage::{self, text::printable};

/// The template, named `.html` so every `{{ value }}` is HTML-escaped.
const TEMPLATE: &str = include_str!("report.html");

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The outputs or the store could not be read.
    #[error(transparent)]
    Triage(#[from] triage::Error),
    /// The template could not lay the page out.
    #[error("laying out the report")]
    Render(#[source] minijinja::Error),
    /// The file could not be written.
    #[error("{}: cannot write the report", path.display())]
    Write {
        path: PathBuf,
        source: crate::state::Error,
    },
}

/// The page as HTML.
pub fn render(page: &Page) -> Result<String, Error> {
    let mut env = Environment::new();
    // Control and bidirectional characters are shown as escapes, as in the terminal, before the
    // HTML escaping every value gets. Line breaks stay: an investigation is laid out in lines.
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) => {
            let lines: Vec<String> = text.split('\n').map(printable).collect();
            minijinja::escape_formatter(out, state, &Value::from(lines.join("\n")))
        }
        None => minijinja::escape_formatter(out, state, value),
    });
    env.add_template("report.html", TEMPLATE)
        .map_err(Error::Render)?;
    env.get_template("report.html")
        .and_then(|t| t.render(page))
        .map_err(Error::Render)
}

/// Renders `page` and replaces `path` with it atomically (written beside it, fsynced, renamed).
pub fn write(page: &Page, path: &Path) -> Result<(), Error> {
    let html = render(page)?;
    crate::state::write_atomic(path, html.as_bytes()).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
