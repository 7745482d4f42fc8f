//! Fast path vs full tokenizer on generated text until at least N ids: prints the id count
//! and the mismatches (exit 1 if any). `make parity` runs it with 1,000,000 ids.
//!
//! Usage: `cargo run --release --example parity_fast [IDS] [TOKENIZER_JSON] [SEED]`.

use std::path::Path;

use tinkex::tokenizer::{Tokenizer, TokenizerOptions};

#[path = "../tests/support/text_gen.rs"]
#[allow(dead_code)]
mod gen;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let path = args
        .get(2)
        .map_or("fixtures/qwen3/tokenizer.json", String::as_str);
    let seed: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
    let cache = tempfile::tempdir().expect("temporary cache directory");
    let options = TokenizerOptions::with_cache_dir(cache.path());
    let fail = |e: tinkex::Error| -> ! {
        eprintln!("parity_fast: {e}");
        std::process::exit(2)
    };
    let full = Tokenizer::from_file(Path::new(path)).unwrap_or_else(|e| fail(e));
    let fast = Tokenizer::from_file_with(Path::new(path), &options).unwrap_or_else(|e| fail(e));
    if !fast.uses_fast_path() {
        eprintln!("parity_fast: {path} does not use the fast path; nothing to compare");
        std::process::exit(2);
    }
    let mut rng = gen::Rng::new(seed);
    let (mut ids, mut strings, mut mismatches) = (0usize, 0usize, 0usize);
    while ids < target {
        let parts = 5 + rng.below(120);
        let text = gen::random_text(&mut rng, parts);
        let want = full.encode(&text).unwrap_or_else(|e| fail(e));
        let got = fast.encode(&text).unwrap_or_else(|e| fail(e));
        let decoded_agree = full.decode(&want).ok() == fast.decode(&want).ok();
        if want != got || !decoded_agree {
            mismatches += 1;
            if mismatches <= 5 {
                eprintln!("mismatch on {text:?}:\n  full {want:?}\n  fast {got:?}");
            }
        }
        ids += want.len();
        strings += 1;
    }
    for word in [" ".repeat(1 << 20), "abcdefghij".repeat(1 << 17)] {
        let started = std::time::Instant::now();
        let got = fast.encode(&word).unwrap_or_else(|e| fail(e));
        let took = started.elapsed();
        let want = full.encode(&word).unwrap_or_else(|e| fail(e));
        println!(
            "one-word prompt of {} bytes: {} ids, fast path {:.0} ms, {}",
            word.len(),
            got.len(),
            took.as_secs_f64() * 1e3,
            if got == want { "same ids" } else { "MISMATCH" }
        );
        mismatches += usize::from(got != want);
        ids += want.len();
        strings += 1;
    }
    println!("parity: {ids} ids in {strings} strings, {mismatches} mismatches");
    if mismatches > 0 {
        std::process::exit(1);
    }
}
