//! The lifecycle client against a stateful local API: each call's requests and the catalog
//! afterwards equal the official CLI's (fixtures/lifecycle/golden), the `--run-id`
//! selection (types, dates, `--keep-last` with ties), 409 answered once, partial failures.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tinkex::client::lifecycle::{self, Selection, Visibility};
use tinkex::client::{official, Config, LifecycleClient, RetryPolicy};
use tinkex::Deadline;

use crate::support::lifecycle_api::{golden, LifecycleApi};
use crate::support::KEY;

fn client(api: &LifecycleApi) -> LifecycleClient {
    let mut config = Config::new(KEY, api.url());
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(Duration::from_secs(20));
    LifecycleClient::connect(config).expect("handshake")
}

fn path(p: &str) -> tinkex::client::CheckpointPath {
    lifecycle::parse_path(p, "PATH").unwrap()
}

/// Requests as sorted JSON text: the official CLI deletes concurrently, in no fixed order.
fn sorted(requests: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = requests.iter().map(Value::to_string).collect();
    v.sort();
    v
}

fn assert_like_golden(api: &LifecycleApi, case: &str) {
    let g = golden("lifecycle", case);
    assert_eq!(
        sorted(&api.requests()),
        sorted(g["requests"].as_array().unwrap()),
        "{case}"
    );
    assert_eq!(
        api.catalog(),
        g["catalog_after"],
        "{case}: catalog afterwards"
    );
}

fn argv(case: &str) -> Vec<String> {
    golden("lifecycle", case)["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn single_calls_send_what_the_official_cli_sends() {
    let api = LifecycleApi::start(None);
    let started = Instant::now();
    assert_eq!(
        client(&api).publish(&path(&argv("publish")[2])).unwrap(),
        Visibility::Changed
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_like_golden(&api, "publish");

    let api = LifecycleApi::start(None);
    assert_eq!(
        client(&api)
            .unpublish(&path(&argv("unpublish")[2]))
            .unwrap(),
        Visibility::Changed
    );
    assert_like_golden(&api, "unpublish");

    let api = LifecycleApi::start(None);
    client(&api)
        .set_ttl(&path(&argv("set_ttl")[2]), Some(604_800))
        .unwrap();
    assert_like_golden(&api, "set_ttl");

    let api = LifecycleApi::start(None);
    client(&api)
        .set_ttl(&path(&argv("set_ttl_remove")[2]), None)
        .unwrap();
    assert_like_golden(&api, "set_ttl_remove");

    let api = LifecycleApi::start(None);
    let err = client(&api)
        .set_ttl(&path(&argv("set_ttl_rejected")[2]), Some(60))
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("TTL must be between"), "{err}");
    assert_like_golden(&api, "set_ttl_rejected");
}

#[test]
fn already_public_or_private_is_one_request_and_not_an_error() {
    let api = LifecycleApi::start(None);
    let c = client(&api);
    let started = Instant::now();
    assert_eq!(
        c.publish(&path("tinker://run-a/weights/000200")).unwrap(),
        Visibility::Already
    );
    assert_eq!(
        c.unpublish(&path("tinker://run-a/weights/000100")).unwrap(),
        Visibility::Already
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(api.requests().len(), 2);
}

#[test]
fn deletes_by_path_match_the_golden_and_collect_failures() {
    let api = LifecycleApi::start(None);
    let paths: Vec<_> = argv("delete_paths")[3..].iter().map(|p| path(p)).collect();
    let report = client(&api).delete_all(&paths);
    assert!(report.failed.is_empty());
    assert_eq!(
        official::delete_document(report.deleted.len(), &[]),
        golden("lifecycle", "delete_paths")["stdout"]
    );
    assert_like_golden(&api, "delete_paths");

    let api = LifecycleApi::start(None);
    let paths: Vec<_> = argv("delete_unknown")[3..]
        .iter()
        .map(|p| path(p))
        .collect();
    let report = client(&api).delete_all(&paths);
    assert_eq!(report.deleted, ["tinker://run-a/weights/000100"]);
    assert_eq!(report.failed.len(), 1);
    let (failed_path, err) = &report.failed[0];
    assert_eq!(failed_path, "tinker://run-a/weights/999999");
    assert!(lifecycle::is_user_failure(err), "{err}");
    assert!(err.to_string().contains("Checkpoint not found"), "{err}");
    let g = golden("lifecycle", "delete_unknown")["stdout"].clone();
    assert_eq!(g["deleted_count"], json!(1));
    assert_eq!(g["failed"][0]["tinker_path"], json!(failed_path));
    assert_like_golden(&api, "delete_unknown");
}

#[test]
fn server_failures_are_retried_then_reported_per_path() {
    let api = LifecycleApi::start(None);
    api.fail(
        "/api/v1/training_runs/run-a/checkpoints/weights/000100",
        503,
        1,
    );
    api.fail(
        "/api/v1/training_runs/run-a/checkpoints/weights/000200",
        500,
        1000,
    );
    let paths = [
        path("tinker://run-a/weights/000100"),
        path("tinker://run-a/weights/000200"),
        path("tinker://run-b/weights/000100"),
    ];
    let report = client(&api).delete_all(&paths);
    assert_eq!(
        report.deleted,
        [
            "tinker://run-a/weights/000100",
            "tinker://run-b/weights/000100"
        ]
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].1.exit_code(), 4, "{}", report.failed[0].1);

    let api = LifecycleApi::start(None);
    api.fail(
        "/api/v1/training_runs/run-a/checkpoints/weights/000100",
        401,
        1,
    );
    let report = client(&api).delete_all(&paths[..1]);
    assert_eq!(report.failed[0].1.exit_code(), 3);
}

#[test]
fn many_deletes_run_concurrently_and_all_finish() {
    let catalog: Vec<Value> = (0..100)
        .map(|i| json!({"checkpoint_id": format!("weights/{i:06}"), "checkpoint_type": "training", "time": "2026-01-01T00:00:00Z", "tinker_path": format!("tinker://run-x/weights/{i:06}"), "public": false, "expires_at": null}))
        .collect();
    let api = LifecycleApi::start(Some(Value::Array(catalog)));
    let c = client(&api);
    let all = c.run_checkpoints("run-x").unwrap();
    let paths: Vec<_> = all
        .iter()
        .map(|c| path(c.tinker_path.as_deref().unwrap()))
        .collect();
    let report = c.delete_all(&paths);
    assert_eq!(
        (report.deleted.len(), report.failed.len()),
        (100, 0),
        "failed: {:?}",
        report.failed.iter().take(3).collect::<Vec<_>>()
    );
    assert_eq!(report.deleted[42], "tinker://run-x/weights/000042");
    assert!(c.run_checkpoints("run-x").unwrap().is_empty());
}

fn golden_selection(case: &str) -> (String, Selection) {
    let a = argv(case);
    let flag = |name: &str| a.iter().position(|x| x == name).map(|i| a[i + 1].clone());
    let sel = Selection {
        checkpoint_type: flag("--type").map(|t| lifecycle::checkpoint_type(&t).unwrap()),
        before: flag("--before").map(|t| lifecycle::parse_time_flag("--before", &t).unwrap()),
        after: flag("--after").map(|t| lifecycle::parse_time_flag("--after", &t).unwrap()),
        keep_last: None,
    };
    (flag("--run-id").unwrap(), sel)
}

#[test]
fn run_selections_pick_what_the_official_cli_picks() {
    for case in [
        "delete_run_all",
        "delete_run_type_before",
        "delete_run_after",
        "delete_run_window",
    ] {
        let api = LifecycleApi::start(None);
        let c = client(&api);
        let (run, sel) = golden_selection(case);
        let picked = sel.pick(&c.run_checkpoints(&run).unwrap());
        let paths: Vec<_> = picked
            .iter()
            .map(|c| path(c.tinker_path.as_deref().unwrap()))
            .collect();
        let report = c.delete_all(&paths);
        assert_eq!(
            official::delete_document(report.deleted.len(), &[]),
            golden("lifecycle", case)["stdout"],
            "{case}"
        );
        assert_like_golden(&api, case);
    }
}

fn ckpt(path: &str, kind: &str, time: Option<&str>) -> tinkex::client::Checkpoint {
    serde_json::from_value(json!({"tinker_path": path, "checkpoint_type": kind, "time": time}))
        .unwrap()
}

fn names(v: &[tinkex::client::Checkpoint]) -> Vec<&str> {
    v.iter()
        .map(|c| c.tinker_path.as_deref().unwrap())
        .collect()
}

#[test]
fn keep_last_spares_the_newest_and_keeps_ties_together() {
    let all = [
        ckpt("s1", "sampler", Some("2026-01-01T00:00:00Z")),
        ckpt("s2", "sampler", Some("2026-01-02T00:00:00Z")),
        ckpt("w2", "training", Some("2026-01-02T00:00:00Z")),
        ckpt("s3a", "sampler", Some("2026-01-03T00:00:00Z")),
        ckpt("s3b", "sampler", Some("2026-01-03T00:00:00+00:00")),
        ckpt("s4", "sampler", Some("2026-01-04T00:00:00.5Z")),
        ckpt("sx", "sampler", None),
    ];
    let sel = |n| Selection {
        checkpoint_type: Some("sampler"),
        keep_last: Some(n),
        ..Selection::default()
    };
    assert_eq!(names(&sel(1).pick(&all)), ["s1", "s2", "s3a", "s3b"]);
    // The 2nd newest ties with the 3rd: both are kept.
    assert_eq!(names(&sel(2).pick(&all)), ["s1", "s2"]);
    assert_eq!(names(&sel(3).pick(&all)), ["s1", "s2"]);
    assert_eq!(names(&sel(4).pick(&all)), ["s1"]);
    assert!(sel(5).pick(&all).is_empty());
    assert!(sel(50).pick(&all).is_empty());
    assert_eq!(names(&sel(0).pick(&all)), ["s1", "s2", "s3a", "s3b", "s4"]);
    let no_type = Selection {
        keep_last: Some(3),
        ..Selection::default()
    };
    assert_eq!(names(&no_type.pick(&all)), ["s1", "s2", "w2"]);
    // Without time filters a checkpoint of unknown time is picked; with one, never.
    assert_eq!(names(&Selection::default().pick(&all)).len(), 7);
    let before = Selection {
        before: Some(lifecycle::parse_time_flag("--before", "2026-01-03").unwrap()),
        ..Selection::default()
    };
    assert_eq!(names(&before.pick(&all)), ["s1", "s2", "w2"]);
}

#[test]
fn refusals_name_the_flag() {
    assert!(lifecycle::check_ttl(3599)
        .unwrap_err()
        .to_string()
        .starts_with("--ttl:"));
    assert_eq!(lifecycle::check_ttl(3599).unwrap_err().exit_code(), 2);
    assert_eq!(lifecycle::check_ttl(3600).unwrap(), 3600);
    assert_eq!(lifecycle::check_ttl(3650 * 86_400).unwrap(), 3650 * 86_400);
    assert!(lifecycle::check_ttl(3650 * 86_400 + 1).is_err());
    let err = lifecycle::parse_time_flag("--before", "last week").unwrap_err();
    assert!(err.to_string().starts_with("--before: not a time"), "{err}");
    assert_eq!(err.exit_code(), 2);
    let err = lifecycle::parse_path("tinker://run-a/\u{1b}[31mweights/x", "PATH").unwrap_err();
    assert!(!err.to_string().contains('\u{1b}'), "{err}");
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        lifecycle::checkpoint_type("sampler_weights"),
        Some("sampler")
    );
    assert_eq!(lifecycle::checkpoint_type("bogus"), None);
}
