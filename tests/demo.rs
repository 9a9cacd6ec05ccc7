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
}
