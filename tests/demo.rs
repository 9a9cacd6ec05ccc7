//! `netrare demo`: the whole product on a generated fleet catches the injected attacks.

use crate::util::*;

#[test]
fn demo_catches_the_beacon_and_the_reverse_shell() {
    let sandbox = Sandbox::new();
    let out = netrare_in(
        sandbox.dir.path(),
        &[
            "demo",
            "--dir",
            sandbox.path("demo").to_str().expect("utf-8"),
        ],
        &[],
    )
    .success();
    for attack in ["process.name=kworker_upd", "process.name=bash"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(attack))
            .unwrap_or_else(|| panic!("no label line for {attack}:\n{}", out.stdout));
        assert!(
            line.starts_with("caught"),
            "{attack} was not caught: {line}"
        );
    }
    assert!(
        !parquet_files(&sandbox.path("demo/out")).is_empty(),
        "the demo wrote no outputs"
    );
    // One line per model kind, each catching the fleet's five attack labels.
    for model in ["elastic", "population", "new_terms"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{model} ")))
            .unwrap_or_else(|| panic!("no line for the {model} model:\n{}", out.stdout));
        assert!(
            line.contains("5/5 attacks caught, false alerts: "),
            "{line}"
        );
    }
    // "Which processes were most anomalous": the attack processes lead the influencers.
    let mut best: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for row in read_rows(&sandbox.path("demo/out/influencers")) {
        if row.text("influencer_field_name") == "process.name" {
            let score = best
                .entry(row.text("influencer_field_value").to_string())
                .or_default();
            *score = score.max(row.number("influencer_score"));
        }
    }
    let mut processes: Vec<(&String, &f64)> = best.iter().collect();
    processes.sort_by(|a, b| b.1.total_cmp(a.1));
    let top: Vec<&str> = processes.iter().take(3).map(|p| p.0.as_str()).collect();
    for attack in ["bash", "kworker_upd"] {
        assert!(
            top.contains(&attack),
            "{attack} not among the top influencers {top:?}"
        );
    }
    // The first minutes: the printed report exists and the printed command investigates the
    // top alert, run as printed (from another folder, through the demo's settings file).
    let report = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("report: "))
        .expect("the demo prints its report");
    let page = std::fs::read_to_string(report).expect("the printed report exists");
    assert!(page.contains("kworker_upd") && page.contains("<tr data-alert-row>"));
    let command = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("investigate the top alert: netrare "))
        .expect("the demo prints an investigate command");
    let args: Vec<&str> = command.split_whitespace().collect();
    let answer = netrare_in(std::path::Path::new("/"), &args, &[]).success();
    for section in [
        "ANOMALY",
        "HISTORY OF",
        "CONNECTIONS WITH",
        "ALERT\n",
        "alerted: ",
    ] {
        assert!(
            answer.stdout.contains(section),
            "no {section}:\n{}",
            answer.stdout
        );
    }
    for folder in ["buckets", "bucket_influencers", "model_size_stats"] {
        assert!(
            !parquet_files(&sandbox.path("demo/out").join(folder)).is_empty(),
            "the demo wrote no {folder}"
        );
    }
}
