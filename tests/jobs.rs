//! The jobs directory: the shipped Elastic definitions, and exception lists that suppress known
//! activity (and are refused, naming the entry, when malformed).

use crate::util::*;

#[test]
fn jobs_show_prints_the_elastic_reference_values() {
    let sandbox = Sandbox::new();
    for (job, rule_id, memory) in [
        (PORT_JOB, "3c7e32e6-6104-46d9-a06e-da0f8b5795a0", "32mb"),
        (PROCESS_JOB, "52afbdc5-db15-485e-bc24-f5707f820c4b", "64mb"),
    ] {
        let out = sandbox.netrare(&["jobs", "show", job]).success();
        for expected in [
            format!("id = \"{job}\""),
            format!("rule_id = \"{rule_id}\""),
            "anomaly_threshold = 50".to_string(),
            "from = \"now-45m\"".to_string(),
            "interval = \"15m\"".to_string(),
            "max_signals = 100".to_string(),
            format!("model_memory_limit = \"{memory}\""),
            "severity = \"low\"".to_string(),
            "risk_score = 21".to_string(),
        ] {
            assert!(
                out.stdout.contains(&expected),
                "{job}: no {expected:?} in\n{}",
                out.stdout
            );
        }
    }
    let list = sandbox.netrare(&["jobs", "list"]).success();
    assert!(
        list.stdout.contains(PORT_JOB) && list.stdout.contains(PROCESS_JOB),
        "{}",
        list.stdout
    );
}

/// `netrare jobs show <id>` of the jobs directory `dir`, parsed back.
fn show(dir: &std::path::Path, id: &str) -> toml::Table {
    let mut sandbox = Sandbox::new();
    sandbox.jobs = dir.to_path_buf();
    let out = sandbox.netrare(&["jobs", "show", id]).success();
    let text: String = out.stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{id}: {e}\n{}", out.stdout))
}

/// The process names a job's datafeed excludes (`must_not` `terms` on `process.name`).
fn excluded_processes(job: &toml::Table) -> Vec<String> {
    job["datafeed"]["query"]["must_not"]
        .as_array()
        .expect("must_not")
        .iter()
        .filter_map(|c| c.get("terms")?.get("process.name")?.as_array().cloned())
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

#[test]
fn jobs_show_prints_the_current_ea_jobs_and_the_v3_jobs_exactly() {
    let ea_dir = std::path::Path::new(JOBS).join("ea");
    let v3_dir = std::path::Path::new(JOBS);
    for (v3_id, memory) in [(PORT_JOB, "32mb"), (PROCESS_JOB, "64mb")] {
        let ea_id = format!("{v3_id}_ea");
        let ea = show(&ea_dir, &ea_id);
        let v3 = show(v3_dir, v3_id);
        assert_eq!(ea["job"]["id"].as_str(), Some(ea_id.as_str()));
        assert_eq!(ea["job"]["model_memory_limit"].as_str(), Some(memory));
        let influencers: Vec<&str> = ea["job"]["influencers"]
            .as_array()
            .expect("influencers")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(
            influencers,
            [
                "host.name",
                "host.id",
                "process.name",
                "user.name",
                "destination.ip",
                "event.module"
            ],
            "{ea_id}"
        );
        assert_eq!(ea["rule"], v3["rule"], "the rule points at the _ea job");
        assert_eq!(ea["kibana_rule"], v3["kibana_rule"]);
        assert_eq!(
            ea["rule"]["threat"][0]["tactic"]["id"].as_str(),
            Some("TA0011")
        );
        assert_eq!(
            excluded_processes(&ea).len(),
            10,
            "{ea_id}: agents and Beats excluded"
        );
    }
    assert!(
        excluded_processes(&show(v3_dir, PORT_JOB)).is_empty(),
        "the v3 port datafeed has no agent exclusion"
    );
    assert_eq!(excluded_processes(&show(v3_dir, PROCESS_JOB)).len(), 10);
}

/// A copy of the jobs whose rules both use `exceptions/benign.toml`, holding `list`.
fn jobs_with_exceptions(sandbox: &mut Sandbox, list: &str) {
    let jobs = sandbox.copy_jobs();
    std::fs::create_dir_all(jobs.join("exceptions")).expect("mkdir");
    std::fs::write(jobs.join("exceptions/benign.toml"), list).expect("write list");
    for job in [PROCESS_JOB, PORT_JOB] {
        let path = jobs.join(format!("{job}.toml"));
        let text = std::fs::read_to_string(&path).expect("job file");
        std::fs::write(
            &path,
            text.replace(
                "risk_score = 21",
                "risk_score = 21\nexceptions = [\"exceptions/benign.toml\"]",
            ),
        )
        .expect("write");
    }
}

const KWORKER_LIST: &str = r#"
description = "Known updaters"
enabled = true

[[entry]]
id = "kworker-updater"
comment = "The fleet's self-updater"
action = "suppress_alert"
conditions = [{ field = "process.name", operator = "equals", values = ["kworker_upd"] }]
"#;

#[test]
fn an_exception_suppresses_its_alerts_and_no_others() {
    let unexcepted = Sandbox::new();
    unexcepted.backfill(FIRST_RUN, LAST_RUN, &[]);
    let kworker = |a: &Row| a.texts("process.name").contains(&"kworker_upd");
    let all = unexcepted.alerts();
    assert!(
        all.iter().any(kworker),
        "without the exception the beacon alerts"
    );

    let mut sandbox = Sandbox::new();
    jobs_with_exceptions(&mut sandbox, KWORKER_LIST);
    let out = sandbox.backfill(FIRST_RUN, LAST_RUN, &[]);
    assert!(
        out.summary()["jobs"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["excepted"].as_u64() > Some(0))),
        "{}",
        out.stdout
    );
    let alerts = sandbox.alerts();
    assert!(!alerts.iter().any(kworker), "an excepted value was alerted");
    let others = all
        .iter()
        .filter(|a| !kworker(a))
        .map(|a| a.text("kibana.alert.uuid"))
        .collect::<std::collections::BTreeSet<_>>();
    assert!(!others.is_empty());
    assert_eq!(
        alerts
            .iter()
            .map(|a| a.text("kibana.alert.uuid"))
            .collect::<std::collections::BTreeSet<_>>(),
        others
    );
    assert_eq!(
        record_bits(&sandbox.records()),
        record_bits(&unexcepted.records()),
        "suppress_alert must still write the records"
    );
}

#[test]
fn a_malformed_exception_exits_2_naming_the_file_and_entry() {
    let mut sandbox = Sandbox::new();
    jobs_with_exceptions(
        &mut sandbox,
        r#"
description = "Scanners"

[[entry]]
id = "internal-scanner"
comment = "Vulnerability scanner"
conditions = [{ field = "destination.ip", operator = "cidr", values = ["10.20.0.0/33"] }]
"#,
    );
    let failed = sandbox.netrare(&["run", "--now", FIRST_RUN]).failure(2);
    assert!(
        failed.stderr.contains("exceptions/benign.toml"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("internal-scanner"),
        "{}",
        failed.stderr
    );
    assert!(
        !sandbox.state().exists(),
        "the state was touched before the exceptions were checked"
    );
}
