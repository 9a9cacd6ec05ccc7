//! Tests of the jobs directory and of the job files shipped with netrare: Elastic's values, and
//! the exception lists they name.

use std::path::{Path, PathBuf};

use super::*;
use crate::datafeed::{Clause, TermValue};
use crate::exceptions::Exceptions;
use crate::model::new_terms::{Source, Terms};
use crate::model::{ModelConfig, ModelKind};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn only_a_missing_jobs_directory_falls_back_to_the_built_in_jobs() {
    let here = JobsSource::Dir(root().join("jobs"));
    let missing = JobsSource::Dir(PathBuf::from("/nonexistent/netrare/jobs"));
    assert_eq!(here.or_built_in(), here);
    assert_eq!(missing.or_built_in(), JobsSource::BuiltIn);
    assert_eq!(JobsSource::BuiltIn.or_built_in(), JobsSource::BuiltIn);
}

fn strings(values: &[&str]) -> Vec<TermValue> {
    values
        .iter()
        .map(|v| TermValue::Str(v.to_string()))
        .collect()
}

fn check_elastic_values(job: &Job) {
    let rule = &job.rule.config;
    assert_eq!(rule.anomaly_threshold, 50.0);
    assert_eq!(rule.from, "now-45m");
    assert_eq!(job.rule.lookback, std::time::Duration::from_secs(45 * 60));
    assert_eq!(rule.interval, std::time::Duration::from_secs(15 * 60));
    assert_eq!(job.span().secs(), 900);
    assert_eq!(rule.max_signals, 100);
    assert_eq!(rule.severity, crate::rule::Severity::Low);
    assert_eq!(rule.risk_score, 21);
    let must_not = &job.datafeed.query().must_not;
    let mut expected = vec![
        Clause::Terms(
            [(
                "destination.ip".to_string(),
                strings(&["127.0.0.1", "127.0.0.53", "::", "::1"]),
            )]
            .into(),
        ),
        Clause::Term([("user.name".to_string(), TermValue::Str("jenkins".into()))].into()),
        Clause::Terms(
            [(
                "process.name".to_string(),
                strings(&[
                    "elastic-agent",
                    "elastic-agent.exe",
                    "metricbeat",
                    "metricbeat.exe",
                    "filebeat",
                    "filebeat.exe",
                    "packetbeat",
                    "packetbeat.exe",
                    "winlogbeat",
                    "winlogbeat.exe",
                ]),
            )]
            .into(),
        ),
    ];
    // Elastic's v3 port datafeed is the only one without the agent and Beats exclusion.
    if job.id() == "v3_linux_anomalous_network_port_activity" {
        expected.pop();
    }
    assert_eq!(
        must_not.as_slice(),
        expected.as_slice(),
        "{}",
        job.path.display()
    );
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn shipped_jobs_and_examples_load_with_elastic_values() {
    let mut jobs = Vec::new();
    for path in toml_files(&root().join("jobs"))
        .into_iter()
        .chain(toml_files(&root().join("jobs/ea")))
        .chain(toml_files(&root().join("docs/examples")))
    {
        let job = Job::load(&path).unwrap_or_else(|e| panic!("{e}"));
        Exceptions::load(&root().join("jobs"), &job.rule.config.exceptions)
            .unwrap_or_else(|e| panic!("{e}"));
        check_elastic_values(&job);
        jobs.push(job);
    }
    let find = |id: &str| {
        jobs.iter()
            .find(|j| j.id() == id)
            .unwrap_or_else(|| panic!("job {id} missing"))
    };
    let port = find("v3_linux_anomalous_network_port_activity");
    assert_eq!(
        port.rule.config.rule_id,
        "3c7e32e6-6104-46d9-a06e-da0f8b5795a0"
    );
    assert_eq!(port.fold.by_field, "destination.port");
    assert_eq!(port.model.params.memory_limit_bytes, 32 << 20);
    let process = find("v3_linux_anomalous_network_activity");
    assert_eq!(
        process.rule.config.rule_id,
        "52afbdc5-db15-485e-bc24-f5707f820c4b"
    );
    assert_eq!(process.fold.by_field, "process.name");
    assert_eq!(process.model.params.memory_limit_bytes, 64 << 20);
    let by_host = find("linux_rare_port_by_host");
    assert_eq!(by_host.fold.partition_field.as_deref(), Some("host.name"));
    assert_eq!(by_host.rule.config.exceptions, ["exceptions/example.toml"]);
    for (v3, ea) in [
        (port, find(&format!("{}_ea", port.id()))),
        (process, find(&format!("{}_ea", process.id()))),
    ] {
        assert_eq!(
            ea.rule.config,
            v3.rule.config,
            "{}: the rules point at the _ea job",
            ea.id()
        );
        assert_eq!(ea.fold.by_field, v3.fold.by_field);
        let mut influencers = v3.fold.influencers.clone();
        influencers.extend(["host.id".to_string(), "event.module".to_string()]);
        let mut ea_influencers = ea.fold.influencers.clone();
        influencers.sort();
        ea_influencers.sort();
        assert_eq!(ea_influencers, influencers, "{}", ea.id());
    }
    assert_eq!(jobs.len(), 5);
}

#[test]
fn the_population_job_files_load() {
    let dir = root().join("jobs");
    for name in [
        "v3_linux_anomalous_network_port_activity",
        "v3_linux_anomalous_network_activity",
    ] {
        let original = Job::load(&dir.join(format!("{name}.toml"))).unwrap();
        let job = Job::load(
            &dir.join("population")
                .join(format!("{name}_population.toml")),
        )
        .unwrap();
        assert_eq!(job.id(), format!("{name}_population"));
        assert_eq!(
            job.model.config,
            ModelConfig {
                kind: ModelKind::Population,
                ..ModelConfig::default()
            }
        );
        assert_eq!(
            job.rule.config.name,
            format!("{} (population model)", original.rule.config.name)
        );
        assert_ne!(job.rule.config.rule_id, original.rule.config.rule_id);
        assert_eq!(job.datafeed.query(), original.datafeed.query());
        assert_eq!(job.datafeed.query_delay(), original.datafeed.query_delay());
        assert_eq!(job.fold.by_field, original.fold.by_field);
    }
}

#[test]
fn the_new_terms_job_files_pair_each_by_field_with_its_host() {
    let dir = root().join("jobs");
    for (name, by) in [
        (
            "v3_linux_anomalous_network_port_activity",
            "destination.port",
        ),
        ("v3_linux_anomalous_network_activity", "process.name"),
    ] {
        let original = Job::load(&dir.join(format!("{name}.toml"))).unwrap();
        let job = Job::load(&dir.join("new_terms").join(format!("{name}_new_terms.toml")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(job.id(), format!("{name}_new_terms"));
        assert_eq!(job.model.config.kind, ModelKind::NewTerms);
        let terms = job.model.config.terms.as_ref().expect("resolved terms");
        let fields: Vec<(&str, Source)> = terms
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.source))
            .collect();
        assert_eq!(fields, [("host.name", Source::Host), (by, Source::By)]);
        assert_eq!(terms.history_window_ms, 7 * 86_400_000);
        assert_eq!(
            job.rule.config.name,
            format!("{} (new terms)", original.rule.config.name)
        );
        assert_ne!(job.rule.config.rule_id, original.rule.config.rule_id);
        assert_eq!(job.datafeed.query(), original.datafeed.query());
        assert_eq!(job.fold, original.fold);
        let shown = job.to_toml().expect("shows");
        let again = Job::parse(Path::new("shown.toml"), &shown).expect("what show prints loads");
        assert_eq!(again.model.config, job.model.config);
    }
}

#[test]
fn a_job_switched_to_new_terms_takes_its_by_field_and_one_switched_away_drops_its_terms() {
    let dir = root().join("jobs");
    let port = Job::load(&dir.join("v3_linux_anomalous_network_port_activity.toml")).unwrap();
    let switched = port.with_model(ModelKind::NewTerms);
    assert_eq!(
        switched.model.config.terms,
        Some(Terms::of_by_field("destination.port"))
    );
    let shown = Job::parse(Path::new("shown.toml"), &switched.to_toml().unwrap()).unwrap();
    assert_eq!(shown.model.config, switched.model.config);

    let new_terms = dir.join("new_terms/v3_linux_anomalous_network_port_activity_new_terms.toml");
    let kept = Job::load(&new_terms)
        .unwrap()
        .with_model(ModelKind::NewTerms);
    assert_eq!(
        kept.model.config.terms.as_ref().map(|t| t.fields.len()),
        Some(2)
    );
    let elastic = Job::load(&new_terms)
        .unwrap()
        .with_model(ModelKind::Elastic);
    assert_eq!(elastic.model.config, ModelConfig::default());
    let shown = Job::parse(Path::new("shown.toml"), &elastic.to_toml().unwrap()).unwrap();
    assert_eq!(shown.model.config, ModelConfig::default());
}

#[test]
fn new_terms_settings_are_checked_and_the_error_names_the_file_and_key() {
    let text = std::fs::read_to_string(
        root().join("jobs/new_terms/v3_linux_anomalous_network_activity_new_terms.toml"),
    )
    .unwrap();
    let fields = "fields = [\"host.name\", \"process.name\"]";
    assert!(text.contains(fields));
    for (from, to, message) in [
        (
            fields,
            "fields = [\"host.name\", \"user.id\"]",
            "jobs/x.toml: model.fields: \"user.id\" is neither the by-field (process.name), host.name, the partition field nor an influencer of the job",
        ),
        (
            fields,
            "fields = []",
            "jobs/x.toml: model.fields: expected 1 to 3 fields, found 0",
        ),
        (
            "history_window = \"7d\"",
            "history_window = \"5m\"",
            "jobs/x.toml: model.history_window: expected at least the bucket span (15m) and at most 366d, found 5m",
        ),
        (
            "kind = \"new_terms\"",
            "kind = \"population\"",
            "jobs/x.toml: model.fields: only for kind = \"new_terms\"",
        ),
    ] {
        let err = Job::parse(Path::new("jobs/x.toml"), &text.replace(from, to))
            .expect_err(to)
            .to_string();
        assert_eq!(err, message);
    }
    let defaults = text
        .replace(&format!("{fields}\n"), "")
        .replace("history_window = \"7d\"\n", "");
    let job = Job::parse(Path::new("jobs/x.toml"), &defaults).expect("defaults");
    assert_eq!(
        job.model.config.terms,
        Some(Terms::of_by_field("process.name"))
    );
}
