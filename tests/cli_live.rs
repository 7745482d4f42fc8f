//! In-place status lines on a real pseudo-terminal (util-linux `script` gives the binary one):
//! a waiting run redraws one line and clears it at the end; with pipes nothing is redrawn.

use std::time::Duration;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::{run_args, Scratch};

/// Carriage return and erase-to-end-of-row: how a live line is redrawn.
const CLEAR: &str = "\r\x1b[K";
const WAITING: &str = "tinkex: waiting for the result…";

/// `run` against a server that takes `latency_ms` per sample, with a token-id prompt.
fn waiting_run(server: &DemoServer, scratch: &Scratch) -> Vec<String> {
    let prompt = scratch.file("prompt.json", "[9707, 11, 1879]");
    let extra = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--tokens-only",
        "--prompt-file",
    ];
    let mut args = run_args(&server.url(), &extra);
    args.push(prompt);
    args
}

/// Quotes `word` for `sh -c` (the words here hold no single quote).
fn quoted(word: &str) -> String {
    assert!(!word.contains('\''), "{word}");
    format!("'{word}'")
}

#[test]
fn waiting_is_redrawn_in_place_on_a_terminal_and_cleared_at_the_end() {
    let server = DemoServer::start(DemoConfig {
        latency_ms: 1600,
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let args = waiting_run(&server, &scratch);
    let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_tinkex"))
        .chain(args.iter().map(String::as_str))
        .map(quoted)
        .collect();
    let on_tty = scratch.run_program("script", &["-qfec", &line.join(" "), "/dev/null"], &[]);
    assert_eq!(on_tty.code, 0, "{on_tty:?}");
    let screen = on_tty.stdout;
    let redraws = screen.matches(&format!("{CLEAR}{WAITING}")).count();
    assert!(
        redraws >= 2,
        "the wait is redrawn in place ({redraws} draws): {screen:?}"
    );
    assert!(
        !screen.contains(&format!("{WAITING} 0 s\n")),
        "no scrolling lines: {screen:?}"
    );
    let last_draw = screen.rfind(WAITING).unwrap();
    let done = screen.find("tinkex: done").expect("the done line");
    assert!(
        screen[last_draw..done].contains(CLEAR),
        "the live line is cleared before the next line: {screen:?}"
    );

    let piped = scratch.run(&args, Duration::from_secs(60));
    assert_eq!(piped.code, 0, "{piped:?}");
    assert!(
        !piped.stderr.contains('\x1b'),
        "nothing is redrawn on a pipe: {piped:?}"
    );
    assert!(!piped.stderr.contains(WAITING), "{piped:?}");
}
