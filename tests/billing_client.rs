//! The billing client against a local API: requests, `-f json` documents and CSV files
//! equal the official CLI's (fixtures/billing/golden); a key without the role is exit 3.

use std::time::Duration;

use serde_json::Value;
use tinkex::client::billing::Window;
use tinkex::client::{official, BillingClient, Config, RetryPolicy};
use tinkex::Deadline;

use crate::support::lifecycle_api::{golden, golden_text, LifecycleApi, NO_ROLE_KEY};
use crate::support::KEY;

const NOW: i64 = 1_800_000_000; // 2027-01-15

fn client(api: &LifecycleApi, key: &str) -> BillingClient {
    let mut config = Config::new(key, api.url());
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(Duration::from_secs(20));
    BillingClient::connect(config).expect("handshake")
}

fn window(case: &str) -> Window {
    let g = golden("billing", case);
    Window::parse(
        g["argv"][2].as_str().unwrap(),
        g["argv"][3].as_str().unwrap(),
        NOW,
    )
    .unwrap()
}

fn same_requests(api: &LifecycleApi, case: &str) {
    assert_eq!(
        Value::Array(api.requests()),
        golden("billing", case)["requests"],
        "{case}"
    );
}

#[test]
fn usage_documents_equal_the_official_cli() {
    for case in ["usage", "usage_empty"] {
        let api = LifecycleApi::start(None);
        let usage = client(&api, KEY).usage(window(case)).unwrap();
        same_requests(&api, case);
        let doc = official::usage_document(&usage);
        assert_eq!(doc, golden("billing", case)["stdout"], "{case}");
        let text = format!("{}\n", official::python_json(&doc, Some(2)));
        assert_eq!(
            text,
            golden_text("billing", &format!("{case}.stdout")),
            "{case}"
        );
    }
}

#[test]
fn usage_csv_files_equal_the_official_cli() {
    for case in ["usage_csv", "usage_empty_csv"] {
        let api = LifecycleApi::start(None);
        let usage = client(&api, KEY).usage(window(case)).unwrap();
        same_requests(&api, case);
        assert_eq!(
            official::usage_csv(&usage),
            golden_text("billing", &format!("{case}.usage.csv"))
        );
        assert_eq!(
            official::sessions_csv(&usage),
            golden_text("billing", &format!("{case}.sessions.csv"))
        );
    }
}

#[test]
fn storage_documents_and_csv_equal_the_official_cli() {
    let api = LifecycleApi::start(None);
    let storage = client(&api, KEY).checkpoint_storage(None).unwrap();
    same_requests(&api, "storage");
    let doc = official::storage_document(&storage);
    assert_eq!(doc, golden("billing", "storage")["stdout"]);
    assert_eq!(
        format!("{}\n", official::python_json(&doc, Some(2))),
        golden_text("billing", "storage.stdout")
    );
    assert_eq!(
        official::storage_csv(&storage),
        golden_text("billing", "storage_csv.storage.csv")
    );

    let api = LifecycleApi::start(None);
    client(&api, KEY)
        .checkpoint_storage(Some("proj 1/x"))
        .unwrap();
    same_requests(&api, "storage_project");
}

#[test]
fn a_key_without_the_billing_role_is_an_auth_error_after_one_request() {
    let api = LifecycleApi::start(None);
    let err = client(&api, NO_ROLE_KEY)
        .usage(window("usage_forbidden"))
        .unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert!(
        err.to_string()
            .contains("Billing access requires the admin role"),
        "{err}"
    );
    same_requests(&api, "usage_forbidden");
}
