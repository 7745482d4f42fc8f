//! Benchmark of the tokenizer layer on the Qwen3 fixture: load time, peak memory, encode/decode speed.
//!
//! Run with `cargo run --release --example tokenizer_bench [PATH] [LOADS]`.

use std::path::Path;
use std::time::{Duration, Instant};

use tinkex::tokenizer::Tokenizer;

#[path = "common/proc_status.rs"]
mod proc_status;
use proc_status::status_kib;

/// Mixed text (English, code, CJK, emoji) repeated into the encode workload.
const PARAGRAPH: &str = "The quick brown fox jumps over the lazy dog. \
fn main() { println!(\"{}\", 40 + 2); }\n\
今天天气很好，我们去公园散步吧。 こんにちは世界。 👨‍👩‍👧‍👦 café naïve résumé 1234567890\n\n";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .map_or("fixtures/qwen3/tokenizer.json", String::as_str);
    let loads: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(7);

    let started = Instant::now();
    let tok = Tokenizer::from_file(Path::new(path)).unwrap_or_else(|e| {
        eprintln!("tokenizer_bench: {e}");
        std::process::exit(2);
    });
    let first = started.elapsed();
    let rss_after_one_load = status_kib("VmHWM");
    let mut times = vec![first];
    for _ in 1..loads {
        let started = Instant::now();
        let again = Tokenizer::from_file(Path::new(path)).expect("loaded once already");
        times.push(started.elapsed());
        drop(again);
    }
    times.sort();
    println!("tokenizer: {path} (vocab size {})", tok.vocab_size());
    println!(
        "load (Tokenizer::from_file): median {} of {loads}, min {}, max {}",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    println!(
        "peak RSS after one load (VmHWM): {}",
        mib(rss_after_one_load)
    );

    let text = PARAGRAPH.repeat((4 << 20) / PARAGRAPH.len());
    let started = Instant::now();
    let ids = tok.encode(&text).expect("encode");
    let encode = started.elapsed();
    println!(
        "encode: {:.2} MiB in {} = {:.1} MiB/s, {:.0} tokens/s ({} tokens)",
        text.len() as f64 / (1 << 20) as f64,
        ms(encode),
        text.len() as f64 / (1 << 20) as f64 / encode.as_secs_f64(),
        ids.len() as f64 / encode.as_secs_f64(),
        ids.len()
    );
    let prompt = "Write a haiku about the sea, then translate it into French.";
    let rounds = 2000;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(tok.encode(prompt).expect("encode"));
    }
    println!(
        "encode of a short prompt: {:.1} µs each",
        started.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
    let started = Instant::now();
    let decoded = tok.decode(&ids).expect("decode");
    let decode = started.elapsed();
    assert_eq!(
        decoded, text,
        "decode(encode(text)) must give the text back"
    );
    println!(
        "decode: {} = {:.0} tokens/s",
        ms(decode),
        ids.len() as f64 / decode.as_secs_f64()
    );
    println!("peak RSS at the end (VmHWM): {}", mib(status_kib("VmHWM")));
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
