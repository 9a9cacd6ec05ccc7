//! Settings: an optional `netrare.toml`, overridden by flags. Every key is documented in
//! `docs/configuration.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Global;
use crate::jobs::JobsSource;
use crate::objects;
use crate::output::{AlertTarget, ResultsTarget};
use crate::state::remote::DEFAULT_LOCK_EXPIRY;

/// A settings file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

/// `netrare.toml`. Relative paths are relative to the file's folder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Event store: a Parquet file, a directory (searched recursively) or a glob. Default `events`.
    pub store: Option<String>,
    /// State directory. Default `state`.
    pub state_dir: Option<PathBuf>,
    /// Output directory. Default `out`.
    pub out_dir: Option<PathBuf>,
    /// Jobs directory. Default `jobs`.
    pub jobs_dir: Option<PathBuf>,
    /// With no state yet, how much history a job first learns from. Default `14d`.
    #[serde(default, with = "humantime_serde")]
    pub history: Option<Duration>,
    /// Append every result (records, buckets, bucket influencers, influencers, model size
    /// statistics) as Elasticsearch `_bulk` NDJSON to this file at each commit. Default: none.
    pub results_ndjson: Option<PathBuf>,
    /// After each `run`, write the HTML report of the last 30 days here, replaced atomically.
    /// Default: none.
    pub report_html: Option<PathBuf>,
    /// `[elasticsearch]`: where the results will be loaded.
    #[serde(default)]
    pub elasticsearch: ElasticsearchSettings,
    /// `[kibana]`: where the alerts will be loaded.
    #[serde(default)]
    pub kibana: KibanaSettings,
    /// What folds events into buckets: `native` (default) or `spark`.
    pub engine: Option<Engine>,
    /// `[spark]`: the Spark Connect server and the events it reads.
    #[serde(default)]
    pub spark: SparkFile,
    /// `[object_storage]`: state and outputs on object storage.
    #[serde(default)]
    pub object_storage: ObjectStorageFile,
}

/// The `[object_storage]` table. Credentials are never read from here: see docs/scheduling.md.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorageFile {
    /// How long a crashed execution's lock on a state location holds before another execution
    /// may take it over. Default `5m`.
    #[serde(default, with = "humantime_serde")]
    pub lock_expiry: Option<Duration>,
}

/// `[elasticsearch]` of `netrare.toml`: the cluster the results' `_bulk` NDJSON is loaded into.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchSettings {
    /// The index or alias of the results' `_bulk` actions; `{job_id}` stands for each result's
    /// job. Default `.ml-anomalies-shared`.
    pub results_bulk_index: Option<String>,
}

/// `[kibana]` of `netrare.toml`: the Kibana space and rules the alerts are written for. Kibana
/// puts them into every alert id, so alerts loaded into another space or under another rule
/// would be new alerts.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KibanaSettings {
    /// Kibana space. Default `default`.
    pub space_id: Option<String>,
    /// Concrete index holding the anomaly records. Default `.ml-anomalies-shared`.
    pub results_index: Option<String>,
    /// The rule's saved-object id in Kibana, by `rule_id`. Default: the `rule_id`.
    #[serde(default)]
    pub rule_uuids: BTreeMap<String, String>,
    /// `kibana.version` written into alerts. Default `9.4.0`.
    pub version: Option<String>,
    /// Kibana's `server.publicBaseUrl`, for `kibana.alert.url`. Default: no URL written.
    pub public_base_url: Option<String>,
}

impl KibanaSettings {
    /// The alert target, defaults filled in.
    pub fn target(&self) -> AlertTarget {
        let default = AlertTarget::default();
        AlertTarget {
            space_id: self.space_id.clone().unwrap_or(default.space_id),
            results_index: self.results_index.clone().unwrap_or(default.results_index),
            rule_uuids: self.rule_uuids.clone(),
            kibana_version: self.version.clone().unwrap_or(default.kibana_version),
            public_base_url: self.public_base_url.clone(),
        }
    }
}

/// What folds events into bucket summaries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// netrare reads the store and folds it itself.
    #[default]
    Native,
    /// A Spark cluster folds the events, through Spark Connect.
    Spark,
}

/// The `[spark]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkFile {
    /// Spark Connect URL, `sc://HOST:PORT[/;token=...]`.
    pub remote: Option<String>,
    /// The events as the cluster sees them: a path it reads as Parquet, or a table name.
    pub source: Option<String>,
}

/// Resolved settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub store: String,
    pub state_dir: PathBuf,
    pub out_dir: PathBuf,
    /// Where the jobs come from: the configured jobs directory, or the built-in ones.
    pub jobs: JobsSource,
    pub history: Duration,
    pub results_ndjson: Option<PathBuf>,
    /// The report `run` rewrites after each execution, if any.
    pub report_html: Option<PathBuf>,
    pub results_target: ResultsTarget,
    pub alert_target: AlertTarget,
    pub spark: SparkSettings,
    /// How long the lock of a state location on object storage outlives a crashed execution.
    pub lock_expiry: Duration,
}

/// Which engine folds the buckets, and where the Spark one is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparkSettings {
    pub engine: Engine,
    /// Spark Connect URL, when set.
    pub remote: Option<String>,
    /// The events as the Spark cluster reads them; `None` means the store's location.
    pub source: Option<String>,
}

/// The longest history a new job may learn from: ten years, so the first checkpoint computed
/// from it stays in range.
const MAX_HISTORY: Duration = Duration::from_secs(3650 * 86_400);

/// Default history a new job learns from.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(14 * 24 * 3600);

impl Settings {
    /// Reads the settings file (the `--config` one, else `./netrare.toml` if present) and
    /// applies the flags over it.
    pub fn resolve(global: &Global) -> Result<Settings, Error> {
        let path = global
            .config
            .clone()
            .or_else(|| Some(PathBuf::from("netrare.toml")).filter(|p| p.exists()));
        let (file, base) = match &path {
            Some(path) => (
                SettingsFile::load(path)?,
                path.parent().map(Path::to_path_buf).unwrap_or_default(),
            ),
            None => (SettingsFile::default(), PathBuf::new()),
        };
        if let Some(history) = file.history.filter(|h| h.is_zero() || *h > MAX_HISTORY) {
            return Err(Error::Parse {
                path: path.unwrap_or_default(),
                message: format!(
                    "history = {:?}: expected from 1s to {}",
                    humantime::format_duration(history).to_string(),
                    humantime::format_duration(MAX_HISTORY)
                ),
            });
        }
        let results_target = match &file.elasticsearch.results_bulk_index {
            Some(index) => ResultsTarget::new(index).map_err(|message| Error::Parse {
                path: path.clone().unwrap_or_default(),
                message: format!("elasticsearch.results_bulk_index: {message}"),
            })?,
            None => ResultsTarget::default(),
        };
        let rel = |p: PathBuf| {
            let p = local_or_url(p);
            if p.is_absolute() || objects::is_url(&p.to_string_lossy()) {
                p
            } else {
                base.join(p)
            }
        };
        let store = match &file.store {
            Some(s) if objects::is_url(s) => s.clone(),
            Some(s) => rel(PathBuf::from(s)).to_string_lossy().into_owned(),
            None => "events".to_string(),
        };
        if let Some(expiry) = file.object_storage.lock_expiry.filter(|e| e.is_zero()) {
            return Err(Error::Parse {
                path: path.unwrap_or_default(),
                message: format!(
                    "object_storage.lock_expiry = {:?}: expected a positive duration",
                    humantime::format_duration(expiry).to_string()
                ),
            });
        }
        Ok(Settings {
            store: global.store.clone().unwrap_or(store),
            state_dir: global
                .state_dir
                .clone()
                .map(local_or_url)
                .unwrap_or_else(|| rel(file.state_dir.clone().unwrap_or_else(|| "state".into()))),
            out_dir: global
                .out
                .clone()
                .map(local_or_url)
                .unwrap_or_else(|| rel(file.out_dir.clone().unwrap_or_else(|| "out".into()))),
            jobs: JobsSource::Dir(
                global
                    .jobs_dir
                    .clone()
                    .unwrap_or_else(|| rel(file.jobs_dir.clone().unwrap_or_else(|| "jobs".into()))),
            ),
            history: file.history.unwrap_or(DEFAULT_HISTORY),
            results_ndjson: global
                .results_ndjson
                .clone()
                .map(local_or_url)
                .or_else(|| file.results_ndjson.clone().map(rel)),
            report_html: file.report_html.clone().map(rel),
            results_target,
            alert_target: file.kibana.target(),
            spark: SparkSettings {
                engine: global.engine.or(file.engine).unwrap_or_default(),
                remote: global.spark_remote.clone().or(file.spark.remote),
                source: global.spark_source.clone().or(file.spark.source),
            },
            lock_expiry: file
                .object_storage
                .lock_expiry
                .unwrap_or(DEFAULT_LOCK_EXPIRY),
        })
    }
}

/// A `file://` URL as its path; anything else as given.
fn local_or_url(path: PathBuf) -> PathBuf {
    match objects::file_url_path(&path.to_string_lossy()) {
        Some(local) => PathBuf::from(local),
        None => path,
    }
}

impl SettingsFile {
    /// Parses a settings file, rejecting unknown keys.
    pub fn load(path: &Path) -> Result<SettingsFile, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        SettingsFile::parse(path, &text)
    }

    /// Parses the text of a settings file, rejecting unknown keys; `path` is only for messages.
    pub fn parse(path: &Path, text: &str) -> Result<SettingsFile, Error> {
        toml::from_str(text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}
