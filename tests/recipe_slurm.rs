//! The Slurm recipe as written: examples/slurm/submit.sh submits examples/slurm/sample-array.sbatch
//! as an array and the merge after it, to a stand-in sbatch (tests/slurm/sbatch) that runs the
//! tasks here with the variables Slurm sets. The merged file must equal one unsharded run.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::demo::{DemoConfig, DemoServer};
use crate::support::e2e::{run_args, Scratch};

const LIMIT: Duration = Duration::from_secs(300);
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_sbatch_array_and_its_merge_equal_one_unsharded_run() {
    let server = DemoServer::start(DemoConfig {
        // The tokenizer the run decodes with: the demo must sample ids inside its vocabulary.
        tokenizer: crate::support::fixture("small/tokenizer.json"),
        ..DemoConfig::default()
    })
    .unwrap();
    let scratch = Scratch::new();
    let lines: Vec<String> = (1..=30)
        .map(|n| match n % 2 {
            0 => format!(r#"{{"id":"t{n}","tokens":[3,{n}],"seed":{n},"num_samples":2}}"#),
            _ => format!(r#"{{"id":"p{n}","prompt":"Count to {n}","seed":{n}}}"#),
        })
        .collect();
    scratch.file("prompts.jsonl", &(lines.join("\n") + "\n"));
    let state = scratch.join("slurm");
    let bin = scratch.join("bin");
    fs::create_dir_all(&state).unwrap();
    fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(format!("{ROOT}/tests/slurm/sbatch"), bin.join("sbatch")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let settings = [
        ("PATH", path.as_str()),
        ("FAKE_SLURM_STATE", state.to_str().unwrap()),
        ("TINKEX", env!("CARGO_BIN_EXE_tinkex")),
        ("SHARDS", "4"),
        ("INPUT", "prompts.jsonl"),
        ("OUTPUT", "results.jsonl"),
        ("MAX_TOKENS", "4"),
        ("PARALLEL", "4"),
        ("TINKER_API_KEY", "tml-demo"),
    ];
    let url = server.url();
    let env: Vec<(&str, &str)> = settings
        .into_iter()
        .chain([("TINKER_BASE_URL", url.as_str())])
        .collect();
    let submit = format!("{ROOT}/examples/slurm/submit.sh");
    let run = scratch.run_program("bash", &[&submit], &env);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (
            0,
            "submitted: sampling array 100 (4 tasks), merge 101 into results.jsonl\n",
            ""
        ),
        "tasks: {}",
        read(&state.join("job-100_1.log"))
    );
    assert_eq!(
        read(&state.join("job-100")),
        "ok\n",
        "{:?}",
        (1..=4)
            .map(|k| read(&state.join(format!("job-100_{k}.log"))))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        read(&state.join("job-101")),
        "ok\n",
        "{}",
        read(&state.join("job-101.log"))
    );
    assert_eq!(
        read(&state.join("job-101.log")),
        "tinkex: merged 4 journals: 30/30 ok\n"
    );
    let task_2 = read(&state.join("job-100_2.log"));
    assert!(
        task_2.starts_with("tinkex: shard 2/4: 8/8 ok in "),
        "{task_2}"
    );
    let whole = scratch.join("whole.jsonl");
    let flags = [
        "--base-model",
        "Qwen/Qwen3-8B",
        "--max-tokens",
        "4",
        "--input",
        &format!("{}/prompts.jsonl", scratch.path().display()),
        "--output",
        whole.to_str().unwrap(),
    ];
    assert_eq!(scratch.run(&run_args(&url, &flags), LIMIT).code, 0);
    assert!(
        fs::read(&whole).unwrap() == fs::read(scratch.join("results.jsonl")).unwrap(),
        "merged ≠ unsharded"
    );
    // A task run again (a retry after a failure or a preemption) finds its journal whole.
    let task = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
    ];
    let script = format!("{ROOT}/examples/slurm/sample-array.sbatch");
    let task_env: Vec<(&str, &str)> = env.iter().copied().chain(task).collect();
    let retry = scratch.run_program("bash", &[&script], &task_env);
    assert_eq!(retry.code, 0, "{retry:?}");
    assert!(
        retry
            .stderr
            .starts_with("tinkex: shard 3/4: resuming: 7 of 7 prompts already done, 0 to sample\n"),
        "{retry:?}"
    );
}
