//! Issue 29 item 8: a batch whose token ids fall outside a tokenizer known before the session
//! is refused up front, naming the file, the line and the id, before any request.

use std::io::ErrorKind;
use std::net::TcpListener;

use crate::support::mock::run_args;
use crate::support::{small_tokenizer, tinkex, with_args, write_input};

#[test]
fn batch_token_ids_outside_the_vocabulary_are_refused_before_any_request() {
    // A counting server: the kernel queues every connection made to it, so an accept that
    // would block after the run means not one request was tried.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"tokens":[1, 2]}"#,
        r#"{"prompt":"hi"}"#,
        r#"{"tokens":[1, 999999]}"#,
    ];
    let input = write_input(dir.path(), &lines);
    let output = dir.path().join("out.jsonl");
    let tokenizer = small_tokenizer();
    let base = run_args(&url);
    let extra = [
        "--base-model",
        "m",
        "--tokenizer",
        &tokenizer,
        "--input",
        &input,
        "--output",
        output.to_str().unwrap(),
    ];
    let out = tinkex(&with_args(&base, &extra)).run();
    assert_eq!(out.code, 2, "{out:?}");
    let want = format!(
        "tinkex: error: --input {input}: 1 bad line; nothing was sampled\n  line 3: prompt token \
         999999 at position 1 is outside the vocabulary of {tokenizer} (size "
    );
    assert!(out.stderr.starts_with(&want), "{out:?}");
    assert!(
        !output.exists(),
        "a refused batch left {}",
        output.display()
    );
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the server was reached: {other:?}"),
    }
}
