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
