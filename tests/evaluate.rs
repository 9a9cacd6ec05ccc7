//! `netrare evaluate`: on a generated fleet with look-alikes, the population model catches every
//! attack the Elastic model catches, with at most half its false alerts.

use crate::util::*;

/// `(detected, applicable, false alerts)` from a totals line such as
/// `elastic: 8/10 attacks detected, 6 false alerts (31.2 per 1,000 host-days)`.
fn totals(stdout: &str, model: &str) -> (u32, u32, u32) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{model}:")))
        .unwrap_or_else(|| panic!("no {model} totals:\n{stdout}"));
    let numbers: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|t| !t.is_empty() && !t.contains('.'))
        .filter_map(|t| t.parse().ok())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

#[test]
fn population_model_catches_what_elastic_catches_with_half_the_false_alerts() {
    let sandbox = Sandbox::new();
    let fleet = sandbox.path("fleet");
    let fleet_arg = fleet.to_str().expect("utf-8");
    sandbox
        .netrare(&[
            "fixtures",
            "generate",
            "--out",
            fleet_arg,
            "--hosts",
            "24",
            "--days",
            "7",
            "--seed",
            "1",
            "--scenarios",
            "full",
        ])
        .success();
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
        ])
        .success();
    let (elastic_caught, applicable, elastic_false) = totals(&out.stdout, "elastic");
    let (population_caught, _, population_false) = totals(&out.stdout, "population");
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
