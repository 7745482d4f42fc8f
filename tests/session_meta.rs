//! Sessions that name their job: `display_name` and `user_metadata` on the wire, in the
//! official SDK's field order.

use tinkex::client::{ServiceClient, SessionMeta};

use crate::support::client::{config, ready};

#[test]
fn create_session_carries_the_name_and_metadata() {
    let (server, log) = ready();
    let mut config = config(&server);
    config.project_id = Some("p1".into());
    let mut meta = SessionMeta {
        display_name: Some("nightly \"eval\"".into()),
        ..SessionMeta::default()
    };
    meta.insert("job", "eval");
    meta.insert("shard", "2/4");
    config.session = meta;
    let _service = ServiceClient::new(config).unwrap();
    assert_eq!(
        log.to("/api/v1/create_session")[0].body,
        r#"{"tags":[],"user_metadata":{"job":"eval","shard":"2/4"},"sdk_version":"0.38.0","project_id":"p1","display_name":"nightly \"eval\"","type":"create_session"}"#
    );
}
