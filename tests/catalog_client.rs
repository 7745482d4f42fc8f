//! The catalog client against a mock API: the paging sequence, the handshake, the access
//! check's single request, and what a refusal or a 402 becomes.

use std::time::Duration;

use tinkex::client::{
    CatalogClient, CheckpointPath, Config, CredentialSource, Lenient, RetryPolicy,
};
use tinkex::Deadline;

use crate::support::catalog::{answers, many, CatalogApi};
use crate::support::KEY;

fn client(api: &CatalogApi) -> CatalogClient {
    let mut config = Config::new(KEY, api.url());
    config.retry = RetryPolicy::scaled(0.0);
    config.deadline = Deadline::after(Duration::from_secs(20));
    CatalogClient::connect(config).expect("handshake")
}

#[test]
fn pages_ask_for_exactly_what_is_still_needed() {
    let api = CatalogApi::new().serve(many("training_runs", 250));
    let runs = client(&api).training_runs(Some(120)).unwrap();
    assert_eq!((runs.items.len(), runs.total_count), (120, 250));
    assert_eq!(
        api.gets(),
        [
            "/api/v1/training_runs?limit=100&offset=0&access_scope=owned",
            "/api/v1/training_runs?limit=20&offset=100&access_scope=owned"
        ]
    );
    assert_eq!(runs.items[119].training_run_id.as_deref(), Some("run-0119"));

    let api = CatalogApi::new().serve(many("checkpoints", 1050));
    let all = client(&api).checkpoints(None).unwrap();
    assert_eq!(all.items.len(), 1050);
    assert_eq!(
        api.gets(),
        [
            "/api/v1/checkpoints?limit=1000&offset=0",
            "/api/v1/checkpoints?limit=50&offset=1000"
        ]
    );

    let api = CatalogApi::new().serve(many("training_runs", 130));
    let all = client(&api).training_runs(None).unwrap();
    assert_eq!(all.items.len(), 130);
    assert_eq!(
        api.gets(),
        [
            "/api/v1/training_runs?limit=100&offset=0&access_scope=owned",
            "/api/v1/training_runs?limit=30&offset=100&access_scope=owned"
        ]
    );
}

#[test]
fn a_listing_stops_at_the_total_count() {
    let api = CatalogApi::new().serve(many("checkpoints", 7));
    let got = client(&api).checkpoints(Some(500)).unwrap();
    assert_eq!((got.items.len(), got.total_count), (7, 7));
    assert_eq!(api.gets(), ["/api/v1/checkpoints?limit=500&offset=0"]);
}

#[test]
fn the_handshake_comes_first_and_gets_carry_no_idempotency_key() {
    let mut api = CatalogApi::new().serve(answers());
    let header = api
        .server
        .mock("GET", "/api/v1/get_server_capabilities")
        .match_header("x-api-key", KEY)
        .match_header("x-idempotency-key", mockito::Matcher::Missing)
        .match_header("user-agent", mockito::Matcher::Regex("^tinkex/".into()))
        .with_body(r#"{"supported_models":[{"model_name":"m"}]}"#)
        .expect(1)
        .create();
    let catalog = client(&api);
    assert_eq!(catalog.credential_source(), &CredentialSource::Given);
    let models = catalog.models().unwrap();
    assert_eq!(models[0].model_name.as_deref(), Some("m"));
    assert_eq!(models[0].max_context_length, None);
    header.assert();
}

#[test]
fn checkpoint_info_adds_the_runs_lora_settings() {
    let api = CatalogApi::new().serve(answers());
    let path = CheckpointPath::parse("tinker://run-lora/sampler_weights/final").unwrap();
    let info = client(&api).checkpoint_info(&path).unwrap();
    assert_eq!(
        (info.is_lora, info.lora_rank),
        (Some(true), Some(Lenient::Valid(32)))
    );
    assert_eq!(
        info.checkpoint.size_bytes,
        Some(Lenient::Valid(176_160_768))
    );
    assert_eq!(
        api.gets(),
        [
            "/api/v1/training_runs/run-lora/checkpoints",
            "/api/v1/training_runs/run-lora?access_scope=owned"
        ]
    );
}

#[test]
fn ids_are_encoded_into_one_path_segment() {
    let api = CatalogApi::new().serve(answers());
    let _ = client(&api).training_run("a/../b?c");
    assert_eq!(
        api.gets(),
        ["/api/v1/training_runs/a%2F..%2Fb%3Fc?access_scope=owned"]
    );
}

#[test]
fn the_access_check_is_one_request_and_402_means_billing() {
    let api = CatalogApi::new().fail(
        "/api/v1/get_server_capabilities",
        402,
        r#"{"detail":"Payment required"}"#,
        5,
    );
    let err = client(&api).check_access().unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("billing is not set up"), "{err}");
    assert!(err.to_string().contains("\"Payment required\""), "{err}");
    assert_eq!(api.gets().len(), 1);

    let api = CatalogApi::new().fail("/api/v1/get_server_capabilities", 503, "{}", 5);
    assert_eq!(client(&api).check_access().unwrap_err().exit_code(), 4);
    assert_eq!(api.gets().len(), 1);

    let api = CatalogApi::new().fail("/api/v1/get_server_capabilities", 401, "{}", 5);
    assert_eq!(client(&api).check_access().unwrap_err().exit_code(), 3);

    let api = CatalogApi::new().serve(answers());
    client(&api).check_access().unwrap();
    assert_eq!(api.gets(), ["/api/v1/get_server_capabilities"]);
}

#[test]
fn answers_that_do_not_fit_are_server_errors() {
    let api = CatalogApi::new().fail(
        "/api/v1/training_runs",
        200,
        r#"{"training_runs":[{"training_run_id":5}]}"#,
        1,
    );
    let err = client(&api).training_runs(Some(1)).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(
        err.to_string().contains("listing the training runs"),
        "{err}"
    );
    let api = CatalogApi::new().fail("/api/v1/checkpoints", 200, r#"{"cursor":null}"#, 1);
    assert_eq!(client(&api).checkpoints(None).unwrap_err().exit_code(), 4);
}
