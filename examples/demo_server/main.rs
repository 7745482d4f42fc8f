//! `cargo run --example demo_server -- --port 0`: tinkex's offline demo server as a process.

mod server;

use std::io::Write;
use std::path::PathBuf;

use argh::FromArgs;
use server::{DemoConfig, DemoServer, FaultSpec};

/// tinkex's offline demo server: a local, deterministic stand-in for the Tinker API (not a
/// model). Example: demo_server --port 0 --latency-ms 200 --fault asample=429x2
#[derive(FromArgs)]
struct Flags {
    /// loopback port to listen on (0 = pick a free one; the first stdout line says which)
    #[argh(option, default = "0")]
    port: u16,
    /// tokenizer.json the demo model speaks (default: the repository's Qwen3 fixture)
    #[argh(option)]
    tokenizer: Option<PathBuf>,
    /// simulated sampling time per requested sample, in milliseconds (default 0)
    #[argh(option, default = "0")]
    latency_ms: u64,
    /// how many polls of each request answer try_again before the result (default 0)
    #[argh(option, default = "0")]
    try_again: u32,
    /// how long retrieve_future holds a poll while the request runs, in ms (default 1000)
    #[argh(option, default = "1000")]
    poll_wait_ms: u64,
    /// never answer protobuf, whatever Accept says (like an older server)
    #[argh(switch)]
    json_only: bool,
    /// accept only this API key (any tml-/eyJ key otherwise)
    #[argh(option)]
    require_key: Option<String>,
    /// enable pjwt_auth_enabled: clients must exchange their key at auth/token
    #[argh(switch)]
    jwt: bool,
    /// lifetime of issued JWTs in seconds (default 3600)
    #[argh(option, default = "3600")]
    jwt_ttl: u64,
    /// queue_state sent with try_again: active, paused_capacity or paused_rate_limit
    #[argh(option, default = "String::from(\"active\")")]
    queue_state: String,
    /// base model reported for sampling sessions made from a model_path only
    #[argh(option, default = "String::from(\"Qwen/Qwen3-8B\")")]
    base_model: String,
    /// inject faults, repeatable: ENDPOINT=KIND[xN][,KIND[xN]...], e.g. asample=429x2,
    /// retrieve_future=dropx1, retrieve_future=never; KIND is an HTTP status 400-599, drop,
    /// malformed, never, hang or stall; without xN every call fails
    #[argh(option)]
    fault: Vec<FaultSpec>,
    /// do not log each request to stderr
    #[argh(switch, short = 'q')]
    quiet: bool,
}

fn main() {
    let flags: Flags = argh::from_env();
    if !matches!(
        flags.queue_state.as_str(),
        "active" | "paused_capacity" | "paused_rate_limit"
    ) {
        eprintln!(
            "demo_server: --queue-state must be active, paused_capacity or paused_rate_limit"
        );
        std::process::exit(2);
    }
    let config = DemoConfig {
        port: flags.port,
        tokenizer: flags
            .tokenizer
            .unwrap_or_else(|| PathBuf::from(server::DEFAULT_TOKENIZER)),
        latency_ms: flags.latency_ms,
        try_again: flags.try_again,
        poll_wait_ms: flags.poll_wait_ms,
        json_only: flags.json_only,
        require_key: flags.require_key,
        jwt: flags.jwt,
        jwt_ttl_secs: flags.jwt_ttl,
        queue_state: flags.queue_state,
        base_model: flags.base_model,
        faults: flags.fault,
        log_requests: !flags.quiet,
        sample_cancel: false,
    };
    let server = match DemoServer::start(config) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("demo_server: {e}");
            std::process::exit(1);
        }
    };
    // Scripts read the port from this first line, so it must not sit in a buffer.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", server.url());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}
