//! `netrare evaluate`: on a generated fleet with look-alikes, the population model catches every
//! attack the Elastic model catches, with at most half its false alerts; a tool spreading from host
//! to host is recorded on its second host, naming its first.

use crate::util::*;

/// `(detected, applicable, false alerts)` of `model` in the `--format json` comparison.
fn totals(comparison: &serde_json::Value, model: &str) -> (u64, u64, u64) {
    let totals = comparison["models"]
        .as_array()
        .expect("a models array")
        .iter()
        .find(|m| m["model"] == model)
        .unwrap_or_else(|| panic!("no {model} totals:\n{comparison}"));
    let count = |key: &str| {
        totals[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{model} {key}:\n{comparison}"))
    };
    (
        count("detected"),
        count("applicable"),
        count("false_alerts"),
    )
}

#[test]
fn population_model_catches_what_elastic_catches_with_half_the_false_alerts() {
    let sandbox = Sandbox::new();
    let fleet = sandbox.generate_full_fleet(24, 7, 1);
    let fleet_arg = fleet.to_str().expect("utf-8");
    let labels = fleet.join("labels.json");
    let out = sandbox
        .netrare(&[
            "evaluate",
            "--events",
            fleet_arg,
            "--labels",
            labels.to_str().expect("utf-8"),
            "--models",
            "elastic,population",
            "--format",
            "json",
        ])
        .success();
    let comparison: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("one JSON object on stdout");
    let (elastic_caught, applicable, elastic_false) = totals(&comparison, "elastic");
    let (population_caught, _, population_false) = totals(&comparison, "population");
    assert!(applicable > 0, "no attack to catch:\n{}", out.stdout);
    assert_eq!(
        population_caught, applicable,
        "the population model missed an attack:\n{}",
        out.stdout
    );
    assert!(population_caught >= elastic_caught);
    assert!(
        elastic_false > 0,
        "the fleet's look-alikes should fool the Elastic model:\n{}",
        out.stdout
    );
    assert!(
        2 * population_false <= elastic_false,
        "{population_false} false alerts against {elastic_false}:\n{}",
        out.stdout
    );
}

/// The host of label `id` in a generated fleet's labels.
fn label_host(labels: &serde_json::Value, id: &str) -> String {
    labels
        .as_array()
        .and_then(|all| all.iter().find(|l| l["id"] == id))
        .and_then(|l| l["host"].as_str())
        .unwrap_or_else(|| panic!("no label {id}:\n{labels}"))
        .to_string()
}

#[test]
fn a_tool_reaching_a_second_host_is_recorded_there_naming_the_first() {
    let mut sandbox = Sandbox::new();
    let fleet = sandbox.generate_full_fleet(24, 4, 1);
    let labels: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fleet.join("labels.json")).expect("labels.json"),
    )
    .expect("labels JSON");
    sandbox.store = fleet;
    sandbox.jobs =
        std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/population"));
    sandbox.backfill("2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z", &[]);
    let records = sandbox.records();
    for (value, tool) in [("kswapd0", "worm"), ("gs-netcat", "relay")] {
        let (first, second) = (
            label_host(&labels, &format!("{tool}-1-process")),
            label_host(&labels, &format!("{tool}-2-process")),
        );
        let spread = format!("first seen on {first} ");
        let now = format!("now new on {second};");
        let record = records
            .iter()
            .find(|r| {
                r.text("by_field_value") == value
                    && r.text("explanation").contains(&spread)
                    && r.text("explanation").contains(&now)
            })
            .unwrap_or_else(|| panic!("no record of {value} on {second} naming {first}"));
        assert!(record.number("record_score") >= 50.0, "{record:?}");
    }
}
