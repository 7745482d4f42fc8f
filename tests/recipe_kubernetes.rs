//! The Kubernetes recipe as written: the Indexed Job's completions equal its TINKEX_SHARD_COUNT,
//! and the sampling and merge commands of examples/kubernetes/indexed-job.yaml, run with `sh -c`
//! for every JOB_COMPLETION_INDEX (the volume's /data/ a scratch directory), merge into
//! exactly what one unsharded run writes.

use std::fs;
use std::time::Duration;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::{parallel, run_args, Scratch};

const LIMIT: Duration = Duration::from_secs(300);
const RECIPE: &str = include_str!("../examples/kubernetes/indexed-job.yaml");

/// The value after `key: ` on the first line (trimmed) that has it, without quotes or comment.
fn field(key: &str, after: &str) -> String {
    let start = RECIPE.find(after).expect("anchor in the recipe");
    let line = RECIPE[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} after {after}"));
    let value = line.split('#').next().unwrap_or(line).trim();
    value.trim_matches('"').to_string()
}

/// The folded (`>-`) command after `after`: its lines joined with spaces.
fn command(after: &str) -> String {
    let start = RECIPE.find(after).expect("anchor in the recipe");
    let mut lines = RECIPE[start..]
        .lines()
        .skip_while(|l| !l.trim().ends_with(">-"));
    lines.next();
    lines
        .take_while(|l| l.starts_with("              "))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_indexed_job_and_its_merge_equal_one_unsharded_run() {
    let count: usize = field("completions: ", "name: tinkex-sample")
        .parse()
        .unwrap();
    let shard_count = field("value: ", "name: TINKEX_SHARD_COUNT");
    assert_eq!(
        shard_count,
        count.to_string(),
        "TINKEX_SHARD_COUNT = completions"
    );
    assert_eq!(
        field("parallelism: ", "name: tinkex-sample"),
        count.to_string()
    );
    let server = DemoServer::start(DemoConfig {
        // The tokenizer the run decodes with: the demo must sample ids inside its vocabulary.
        tokenizer: crate::support::fixture("small/tokenizer.json"),
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let data = format!("{}/", scratch.path().display());
    let lines: Vec<String> = (1..=20)
        .map(|n| format!(r#"{{"id":"p{n}","prompt":"Name {n} things","seed":{n}}}"#))
        .collect();
    scratch.file("prompts.jsonl", &(lines.join("\n") + "\n"));
    let bin = scratch.join("bin");
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tinkex"), bin.join("tinkex")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let url = server.url();
    let pod = |script: String, index: Option<usize>| {
        let script = script.replace("/data/", &data);
        let index = index.map(|i| i.to_string());
        let mut env = vec![("PATH", path.as_str()), ("TINKER_BASE_URL", url.as_str())];
        if let Some(index) = &index {
            env.extend([
                ("JOB_COMPLETION_INDEX", index.as_str()),
                ("TINKEX_SHARD_COUNT", shard_count.as_str()),
                ("TINKER_API_KEY", "tml-demo"),
            ]);
        }
        scratch.run_program("sh", &["-c", &script], &env)
    };
    let sample = command("name: tinkex-sample");
    let runs = parallel((0..count).collect(), 4, |i| pod(sample.clone(), Some(i)));
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.code, 0, "index {i}: {run:?}");
        let prefix = format!("tinkex: shard {}/{count}: ", i + 1);
        assert!(run.stderr.starts_with(&prefix), "{run:?}");
    }
    let merged = pod(command("name: tinkex-merge"), None);
    assert_eq!(
        (merged.code, merged.stderr.as_str()),
        (
            0,
            format!("tinkex: merged {count} journals: 20/20 ok\n").as_str()
        )
    );
    let whole = scratch.join("whole.jsonl");
    let flags = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--max-tokens",
        "256",
        "--input",
        &format!("{data}prompts.jsonl"),
        "--output",
        whole.to_str().unwrap(),
    ];
    assert_eq!(scratch.run(&run_args(&url, &flags), LIMIT).code, 0);
    let results = fs::read(scratch.join("results.jsonl")).unwrap();
    assert!(fs::read(&whole).unwrap() == results, "merged ≠ unsharded");
}
