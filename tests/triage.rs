//! `netrare investigate` and `netrare report`: an alert triaged from the outputs and the store.

use serde_json::Value;

use crate::util::*;

/// A backfilled sandbox and the uuid of its highest-scoring alert.
fn backfilled() -> (Sandbox, String) {
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, LAST_RUN, &[]);
    let top = top_alert(&sandbox);
    (sandbox, top)
}

fn top_alert(sandbox: &Sandbox) -> String {
    let mut alerts = sandbox.alerts();
    assert!(!alerts.is_empty(), "the backfill made no alert");
    alerts.sort_by(|a, b| {
        b.number("record_score")
            .total_cmp(&a.number("record_score"))
    });
    alerts[0].text("kibana.alert.uuid").to_string()
}

fn investigate_json(sandbox: &Sandbox, args: &[&str]) -> Value {
    let mut all = vec!["investigate", "--format", "json"];
    all.extend_from_slice(args);
    let out = sandbox.netrare(&all).success();
    serde_json::from_str(&out.stdout).expect("investigate --format json prints JSON")
}

#[test]
fn investigate_answers_every_step_of_the_guide_for_an_alert() {
    let (sandbox, uuid) = backfilled();
    let text = sandbox.netrare(&["investigate", &uuid]).success().stdout;
    for section in [
        "ANOMALY",
        "HISTORY OF",
        "CONNECTIONS WITH",
        "PROCESS ",
        "USERS",
        "EXCEPTIONS",
        "ALERT\n",
        "alerted: ",
        "cadence",
        "[[entry]]",
    ] {
        assert!(text.contains(section), "no {section:?} in:\n{text}");
    }

    let json = investigate_json(&sandbox, &[&uuid]);
    let anomaly = &json["anomaly"];
    assert_eq!(anomaly["alerts"][0]["uuid"], uuid.as_str());
    let record = &anomaly["record"];
    assert!(record["record_score"].as_f64().expect("score") >= 50.0);
    assert!(
        !record["explanation"]
            .as_str()
            .expect("explanation")
            .is_empty()
    );
    assert_eq!(json["alerting"]["verdict"], "alerted");
    let days = json["history"]["days"].as_array().expect("days").len();
    assert!(
        (30..=31).contains(&days),
        "one entry per calendar day the 30-day history touches, not {days}"
    );
    let connections = json["connections"].as_array().expect("connections");
    assert!(!connections.is_empty(), "no connection behind the alert");
    let value = anomaly["by_field_value"].as_str().expect("value");
    let field = anomaly["by_field_name"].as_str().expect("field");
    for c in connections {
        let seen = match field {
            "destination.port" => &c["destination_port"],
            _ => &c["process_name"],
        };
        assert_eq!(seen, value, "a connection without the rare value: {c}");
        assert!(c["destination_class"].is_string(), "unclassified: {c}");
        assert!(c["destination_hosts"].is_number());
    }
    let processes = json["processes"].as_array().expect("processes");
    assert!(!processes.is_empty());
    assert!(
        processes[0]["cadence"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    assert!(json["users"].is_array());
}

#[test]
fn a_record_without_alert_says_why() {
    let (sandbox, _) = backfilled();
    let alerted = alerted_ids(&sandbox.alerts());
    let quiet = sandbox
        .records()
        .into_iter()
        .find(|r| !alerted.contains(r.text("record_id")) && r.number("record_score") < 50.0)
        .expect("a record under the threshold");
    let json = investigate_json(&sandbox, &[quiet.text("record_id")]);
    assert_eq!(json["alerting"]["verdict"], "under_threshold", "{json}");
    assert_eq!(json["alerting"]["threshold"], 50.0);
    let text = sandbox
        .netrare(&["investigate", quiet.text("record_id")])
        .success()
        .stdout;
    assert!(text.contains("no alert: under the threshold 50"), "{text}");
}

#[test]
fn a_value_without_a_record_is_investigated_by_job_value_and_time() {
    let (sandbox, _) = backfilled();
    let json = investigate_json(
        &sandbox,
        &[
            "--job",
            "v3_linux_anomalous_network_port_activity",
            "--value",
            "443",
            "--host",
            "web-01",
            "--at",
            "2026-11-03T10:07:00Z",
        ],
    );
    assert!(json["anomaly"]["record"].is_null());
    assert_eq!(json["anomaly"]["bucket_start_ms"], 1_793_700_000_000_i64);
    assert_eq!(json["alerting"]["verdict"], "no_record");
    let history = &json["history"];
    assert!(
        history["events"].as_u64().expect("events") > 0,
        "port 443 has a history: {history}"
    );
    assert!(history["on_this_host"].as_u64().expect("count") > 0);
}

#[test]
fn an_unknown_id_exits_65_naming_where_it_looked() {
    let (sandbox, _) = backfilled();
    let err = sandbox
        .netrare(&["investigate", "no-such-alert"])
        .failure(65)
        .stderr;
    assert!(err.contains("no-such-alert"), "{err}");
    assert!(
        err.contains(sandbox.out().to_str().expect("utf-8")),
        "{err}"
    );
}

#[test]
fn the_suggested_exception_entry_suppresses_the_alert_when_pasted() {
    let (first, uuid) = backfilled();
    let json = investigate_json(&first, &[&uuid]);
    let entry = json["exceptions"]["suggested_entry"]
        .as_str()
        .expect("entry")
        .to_string();
    let record_id = json["anomaly"]["record"]["record_id"]
        .as_str()
        .expect("record id")
        .to_string();
    let job_id = json["anomaly"]["job_id"].as_str().expect("job").to_string();

    let mut second = Sandbox::new();
    let jobs = second.copy_jobs();
    std::fs::write(
        jobs.join("exceptions/pasted.toml"),
        format!("description = \"pasted from investigate\"\n\n{entry}"),
    )
    .expect("write list");
    let job_file = jobs.join(format!("{job_id}.toml"));
    let text = std::fs::read_to_string(&job_file).expect("job file");
    let text = text.replacen(
        "[rule]\n",
        "[rule]\nexceptions = [\"exceptions/pasted.toml\"]\n",
        1,
    );
    std::fs::write(&job_file, text).expect("job file");
    second.backfill(FIRST_RUN, LAST_RUN, &[]);
    assert!(
        !alerted_ids(&second.alerts()).contains(&record_id),
        "the pasted entry did not suppress the alert"
    );
    let json = investigate_json(&second, &[&record_id]);
    assert_eq!(json["alerting"]["verdict"], "excepted", "{json}");
    let matching = &json["exceptions"]["matching"][0];
    assert!(
        matching["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("expected-"))
    );
}

#[test]
fn the_report_is_self_contained_and_links_every_alert_to_its_investigation() {
    let (sandbox, _) = backfilled();
    let html = sandbox.path("report.html");
    sandbox
        .netrare(&["report", "--html", html.to_str().expect("utf-8")])
        .success();
    let page = std::fs::read_to_string(&html).expect("report");
    assert!(page.contains("http-equiv=\"Content-Security-Policy\""));
    assert!(page.contains("default-src 'none'"));
    assert!(!page.contains("<script"), "the report needs no script");
    for external in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!page.contains(external), "the report loads {external}");
    }
    let alerts = sandbox.alerts();
    assert_eq!(page.matches("<tr data-alert-row>").count(), alerts.len());
    assert_eq!(page.matches("data-investigation>").count(), alerts.len());
    for alert in &alerts {
        let anchor = format!("alert-{}", alert.text("kibana.alert.uuid"));
        assert!(
            page.contains(&format!("href=\"#{anchor}\"")),
            "no link to {anchor}"
        );
        assert!(
            page.contains(&format!("id=\"{anchor}\"")),
            "no section {anchor}"
        );
    }
    for section in [
        "Anomaly swimlanes",
        "Top influencers",
        "Model health",
        "Hosts with alerts",
    ] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(
        page.matches("<rect data-cell").count() > 0,
        "empty swimlanes"
    );
    assert!(
        page.contains("\nHISTORY OF ") && !page.contains("\\u{a}"),
        "an investigation is not laid out in lines"
    );
}

/// Events whose names are markup, quotes and terminal escapes, as an attacker would pick them.
const HOSTILE_PROCESS: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_HOST: &str = "db-9\"'</script><b>bold";
const HOSTILE_USER: &str = "root\u{1b}[31m";

fn hostile_sandbox() -> Sandbox {
    let mut sandbox = Sandbox::new();
    sandbox.copy_store();
    let events: Vec<String> = (0..2)
        .map(|i| {
            serde_json::json!({
                "@timestamp": format!("2026-11-03T10:0{}:00Z", 5 + i),
                "event": {"category": ["network"], "type": ["start", "connection"],
                          "action": "connection_attempted", "module": "endpoint",
                          "dataset": "endpoint.events.network"},
                "host": {"name": HOSTILE_HOST, "os": {"type": "linux", "family": "debian"}},
                "process": {"name": HOSTILE_PROCESS, "pid": 4242, "executable": "/tmp/x"},
                "user": {"name": HOSTILE_USER},
                "source": {"ip": "10.0.0.9", "port": 40000 + i},
                "destination": {"ip": "203.0.113.7", "port": 31337},
                "network": {"direction": "egress", "transport": "tcp"}
            })
            .to_string()
        })
        .collect();
    let ndjson = sandbox.path("hostile.ndjson");
    std::fs::write(&ndjson, events.join("\n") + "\n").expect("write ndjson");
    let store = sandbox.store.to_str().expect("utf-8").to_string();
    sandbox
        .netrare(&[
            "ingest",
            "ndjson",
            "--out",
            &store,
            ndjson.to_str().expect("utf-8"),
        ])
        .success();
    sandbox.backfill(FIRST_RUN, LAST_RUN, &[]);
    sandbox
}

#[test]
fn event_values_are_shown_as_text_never_as_markup_or_terminal_codes() {
    let sandbox = hostile_sandbox();
    let hostile = sandbox
        .alerts()
        .into_iter()
        .find(|a| a.texts("process.name").contains(&HOSTILE_PROCESS))
        .expect("the hostile process alerted");
    let uuid = hostile.text("kibana.alert.uuid");

    let html = sandbox.path("report.html");
    sandbox
        .netrare(&["report", "--html", html.to_str().expect("utf-8")])
        .success();
    let page = std::fs::read_to_string(&html).expect("report");
    assert!(!page.contains("<img"), "an event value became an element");
    assert!(
        !page.contains("</script>"),
        "an event value closed a script"
    );
    assert!(
        !page.contains("<b>bold"),
        "an event value became an element"
    );
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(
        !page.contains('\u{1b}'),
        "a terminal escape reached the page"
    );

    let text = sandbox.netrare(&["investigate", uuid]).success().stdout;
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape reached the terminal"
    );
    assert!(text.contains("root\\u{1b}[31m"), "{text}");
}

#[test]
fn run_rewrites_the_report_only_when_asked_and_refuses_a_bad_target_before_committing() {
    let sandbox = Sandbox::new();
    sandbox.backfill(FIRST_RUN, LAST_RUN, &[]);
    let next = plus(LAST_RUN, 15);
    sandbox.run_at(&next);
    assert!(
        !sandbox.path("report.html").exists(),
        "run wrote a report unasked"
    );

    let config = sandbox.path("netrare.toml");
    std::fs::create_dir(sandbox.path("folder.html")).expect("mkdir");
    std::fs::write(&config, "report_html = \"folder.html\"\n").expect("settings");
    let before = snapshot(&sandbox.state());
    let later = plus(&next, 15);
    let err = sandbox
        .netrare(&[
            "--config",
            config.to_str().expect("utf-8"),
            "run",
            "--now",
            &later,
        ])
        .failure(2)
        .stderr;
    assert!(err.contains("folder.html"), "{err}");
    assert_eq!(
        snapshot(&sandbox.state()),
        before,
        "the refused run changed the state"
    );

    std::fs::write(&config, "report_html = \"report.html\"\n").expect("settings");
    sandbox
        .netrare(&[
            "--config",
            config.to_str().expect("utf-8"),
            "run",
            "--now",
            &later,
        ])
        .success();
    let page = std::fs::read_to_string(sandbox.path("report.html")).expect("report written");
    assert!(page.contains("<tr data-alert-row>"));
}
