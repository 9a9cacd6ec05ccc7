//! Job files: one TOML file per job in the jobs directory, holding the job, its datafeed, its
//! model and its rule. Each table is defined by the stage that uses it; this module reads the
//! files, checks them and hands each stage its part. See `docs/jobs.md` for the format.

mod file;
#[cfg(test)]
mod tests;

pub use file::{Error, Function, Job, JobConfig, JobFile, MemoryLimit, MemoryLimitError};

use std::path::{Path, PathBuf};

/// Where the jobs of a plan come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsSource {
    /// A jobs directory; its jobs' exception lists are relative to it.
    Dir(PathBuf),
    /// Elastic's two jobs built into the binary ([`embedded`]); they name no exception lists.
    BuiltIn,
}

impl JobsSource {
    /// This source, or the built-in jobs when it is a directory that does not exist.
    pub fn or_built_in(&self) -> JobsSource {
        match self {
            JobsSource::Dir(dir) if !dir.is_dir() => JobsSource::BuiltIn,
            source => source.clone(),
        }
    }

    /// The jobs named in `ids` (all when empty).
    pub fn load(&self, ids: &[String]) -> Result<Vec<Job>, Error> {
        let jobs = match self {
            JobsSource::Dir(dir) => load_dir(dir)?,
            JobsSource::BuiltIn => embedded()?,
        };
        select(jobs, ids)
    }

    /// The folder exception lists are read from; none for the built-in jobs.
    pub fn exceptions_dir(&self) -> Option<&Path> {
        match self {
            JobsSource::Dir(dir) => Some(dir),
            JobsSource::BuiltIn => None,
        }
    }
}

/// Loads every `*.toml` file directly in `dir` (not subfolders: exception lists live there),
/// sorted by file name. Two files with the same job id are an error.
pub fn load_dir(dir: &Path) -> Result<Vec<Job>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| Error::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut jobs: Vec<Job> = Vec::with_capacity(paths.len());
    for path in paths {
        let job = Job::load(&path)?;
        if let Some(other) = jobs.iter().find(|j| j.id() == job.id()) {
            return Err(Error::DuplicateId {
                id: job.id().to_string(),
                first: other.path.clone(),
                second: path,
            });
        }
        jobs.push(job);
    }
    if jobs.is_empty() {
        return Err(Error::NoJobs {
            dir: dir.to_path_buf(),
        });
    }
    Ok(jobs)
}

/// Elastic's two jobs as shipped in `jobs/`, built into the binary so `netrare demo` runs
/// anywhere.
pub fn embedded() -> Result<Vec<Job>, Error> {
    const FILES: [(&str, &str); 2] = [
        (
            "v3_linux_anomalous_network_port_activity.toml",
            include_str!("../../jobs/v3_linux_anomalous_network_port_activity.toml"),
        ),
        (
            "v3_linux_anomalous_network_activity.toml",
            include_str!("../../jobs/v3_linux_anomalous_network_activity.toml"),
        ),
    ];
    FILES
        .iter()
        .map(|(name, text)| Job::parse(&Path::new("<built-in>").join(name), text))
        .collect()
}

/// Picks the jobs named in `ids` (all when empty), failing on an unknown id.
pub fn select(jobs: Vec<Job>, ids: &[String]) -> Result<Vec<Job>, Error> {
    if ids.is_empty() {
        return Ok(jobs);
    }
    if let Some(unknown) = ids
        .iter()
        .find(|id| !jobs.iter().any(|j| j.id() == id.as_str()))
    {
        return Err(Error::UnknownJob {
            id: unknown.clone(),
            known: jobs.iter().map(|j| j.id().to_string()).collect(),
        });
    }
    Ok(jobs
        .into_iter()
        .filter(|j| ids.iter().any(|id| id == j.id()))
        .collect())
}
