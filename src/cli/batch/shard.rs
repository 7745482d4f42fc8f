//! `--shard K/N` and `--shard auto`: which input lines one task of a job array samples.
//!
//! K is 1-based wherever a user types it; the engines' 0-based indexes are converted here. The
//! logic reads variables through a lookup passed in, never the process environment, so tests
//! can give each engine's variables without touching the test process.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The most shards a run may be split into (far past any real job array; bounds the numbers).
pub const MAX_SHARDS: usize = 1_000_000;

/// One shard: `index` of `count`, 1-based. Takes the lines whose number ≡ index (mod count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, 1 ≤ K ≤ N.
    pub index: usize,
    /// N, 1 ≤ N ≤ [`MAX_SHARDS`].
    pub count: usize,
}

impl Shard {
    /// Whether the 1-based input line `line` belongs to this shard (round-robin, blank lines counted).
    pub fn takes(&self, line: usize) -> bool {
        line >= 1 && (line - 1) % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What `--shard` was given: a fixed shard, or `auto` (read the job array's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `--shard K/N`.
    Fixed(Shard),
    /// `--shard auto`.
    Auto,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "auto" {
            return Ok(ShardSpec::Auto);
        }
        let expected = || format!("expected K/N (K is 1-based, e.g. 2/8) or auto, got '{text}'");
        let (k, n) = text.split_once('/').ok_or_else(expected)?;
        let number = |s: &str| s.trim().parse::<usize>().map_err(|_| expected());
        let (index, count) = (number(k)?, number(n)?);
        shard(index, count).map(ShardSpec::Fixed)
    }
}

/// A checked shard, or what is wrong with it.
fn shard(index: usize, count: usize) -> Result<Shard, String> {
    if count == 0 || count > MAX_SHARDS {
        return Err(format!(
            "N must be between 1 and {MAX_SHARDS}, got {index}/{count}"
        ));
    }
    if index == 0 || index > count {
        return Err(format!(
            "K must be between 1 and {count} (K is 1-based), got {index}/{count}"
        ));
    }
    Ok(Shard { index, count })
}

/// A job-array engine: the variable holding the 0-based task index and the one holding N.
struct Engine {
    name: &'static str,
    index: &'static str,
    count: &'static str,
}

/// The engines `--shard auto` knows, in the order it reports them.
const ENGINES: [Engine; 4] = [
    Engine {
        name: "Slurm",
        index: "SLURM_ARRAY_TASK_ID",
        count: "SLURM_ARRAY_TASK_COUNT",
    },
    Engine {
        name: "AWS Batch",
        index: "AWS_BATCH_JOB_ARRAY_INDEX",
        count: "AWS_BATCH_JOB_ARRAY_SIZE",
    },
    Engine {
        name: "Cloud Run",
        index: "CLOUD_RUN_TASK_INDEX",
        count: "CLOUD_RUN_TASK_COUNT",
    },
    Engine {
        name: "Kubernetes",
        index: "JOB_COMPLETION_INDEX",
        count: "TINKEX_SHARD_COUNT",
    },
];

/// Resolves `--shard` (if given) against this process's environment: the job array's
/// variables are read here, at the edge, so [`resolve`] itself only sees a lookup.
pub fn from_process_env(spec: Option<ShardSpec>) -> Result<Option<Shard>, Error> {
    spec.map(|spec| resolve(spec, &|name| std::env::var(name).ok()))
        .transpose()
}

/// Resolves `spec`, looking variables up with `env` when it is `auto`.
pub fn resolve(spec: ShardSpec, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, Error> {
    match spec {
        ShardSpec::Fixed(shard) => Ok(shard),
        ShardSpec::Auto => from_env(env).map_err(|message| Error::Input {
            // The variables' values come from outside: controls escaped, long ones cut.
            message: format!("--shard auto: {}", crate::redact::server_text(&message)),
            hint: Some("pass --shard K/N (K is 1-based) to choose the shard yourself".into()),
        }),
    }
}

/// The shard the environment describes; every engine found must be complete and agree.
fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let mut found: Vec<(&'static str, Shard)> = Vec::new();
    for engine in &ENGINES {
        let index = env(engine.index);
        let count = env(engine.count);
        if index.is_none() && count.is_none() {
            continue;
        }
        found.push((engine.name, engine_shard(engine, index, count, env)?));
    }
    let Some((first_name, first)) = found.first().copied() else {
        let looked: Vec<String> = ENGINES
            .iter()
            .map(|e| format!("{} with {}", e.index, e.count))
            .collect();
        return Err(format!(
            "no job-array variables found (looked for {})",
            looked.join(", ")
        ));
    };
    if let Some((name, other)) = found.iter().find(|(_, s)| *s != first) {
        return Err(format!(
            "the job-array variables disagree: {first_name} says shard {first}, {name} says shard {other}"
        ));
    }
    Ok(first)
}

/// One engine's shard from its variables, converting its 0-based index.
fn engine_shard(
    engine: &Engine,
    index: Option<String>,
    count: Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard, String> {
    let (index, count) = match (index, count) {
        (Some(index), Some(count)) => (index, count),
        (Some(index), None) => {
            return Err(format!(
                "found {}={index} ({}) but not {}",
                engine.index, engine.name, engine.count
            ))
        }
        (None, Some(count)) => {
            return Err(format!(
                "found {}={count} ({}) but not {}",
                engine.count, engine.name, engine.index
            ))
        }
        (None, None) => return Err(format!("no {} variables", engine.name)),
    };
    let number = |name: &str, value: &str| {
        value
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("{name}={value} is not a whole number ≥ 0"))
    };
    let mut zero_based = number(engine.index, &index)?;
    let count = number(engine.count, &count)?;
    if engine.name == "Slurm" {
        zero_based = slurm_offset(zero_based, env)?;
    }
    if zero_based >= count {
        return Err(format!(
            "{} gives task {zero_based} (0-based), past {}={count}",
            engine.index, engine.count
        ));
    }
    shard(zero_based + 1, count)
}

/// Slurm numbers tasks from `--array`'s first value: subtract `SLURM_ARRAY_TASK_MIN`, and refuse
/// a stepped array (`1-7:2`), whose ids do not map onto consecutive shards.
fn slurm_offset(task_id: usize, env: &dyn Fn(&str) -> Option<String>) -> Result<usize, String> {
    if let Some(step) = env("SLURM_ARRAY_TASK_STEP") {
        if step.trim() != "1" {
            return Err(format!(
                "found SLURM_ARRAY_TASK_STEP={step}: a stepped array (e.g. --array=1-7:2) cannot be split into shards; use --array=1-N"
            ));
        }
    }
    let min = env("SLURM_ARRAY_TASK_MIN").ok_or_else(|| {
        format!("found SLURM_ARRAY_TASK_ID={task_id} (Slurm) but not SLURM_ARRAY_TASK_MIN")
    })?;
    let min = min
        .trim()
        .parse::<usize>()
        .map_err(|_| format!("SLURM_ARRAY_TASK_MIN={min} is not a whole number ≥ 0"))?;
    task_id
        .checked_sub(min)
        .ok_or_else(|| format!("SLURM_ARRAY_TASK_ID={task_id} is below SLURM_ARRAY_TASK_MIN={min}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn auto(vars: &[(&str, &str)]) -> Result<Shard, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(ShardSpec::Auto, &|name| map.get(name).cloned()).map_err(|e| e.to_string())
    }

    fn fixed(index: usize, count: usize) -> Shard {
        Shard { index, count }
    }

    #[test]
    fn k_of_n_is_one_based_and_round_robin() {
        assert_eq!("2/8".parse(), Ok(ShardSpec::Fixed(fixed(2, 8))));
        assert_eq!(" auto ".parse(), Ok(ShardSpec::Auto));
        let taken: Vec<usize> = (1..=17).filter(|l| fixed(2, 8).takes(*l)).collect();
        assert_eq!(taken, [2, 10]);
        let last: Vec<usize> = (1..=17).filter(|l| fixed(8, 8).takes(*l)).collect();
        assert_eq!(last, [8, 16]);
        assert!((1..=5).all(|l| fixed(1, 1).takes(l)));
        assert!(!fixed(1, 1).takes(0));
    }

    #[test]
    fn bad_specs_say_what_is_allowed() {
        let err = |text: &str| text.parse::<ShardSpec>().unwrap_err();
        assert_eq!(
            err("0/8"),
            "K must be between 1 and 8 (K is 1-based), got 0/8"
        );
        assert_eq!(
            err("9/8"),
            "K must be between 1 and 8 (K is 1-based), got 9/8"
        );
        assert_eq!(err("1/0"), "N must be between 1 and 1000000, got 1/0");
        assert_eq!(
            err("2"),
            "expected K/N (K is 1-based, e.g. 2/8) or auto, got '2'"
        );
        assert!(err("-1/8").starts_with("expected K/N"));
        assert!(err("1/99999999999999999999999").starts_with("expected K/N"));
    }

    #[test]
    fn each_engine_converts_its_zero_based_index() {
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ];
        assert_eq!(auto(&slurm), Ok(fixed(3, 4)));
        let zero_min = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(auto(&zero_min), Ok(fixed(1, 4)));
        let aws = [
            ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "2"),
        ];
        assert_eq!(auto(&aws), Ok(fixed(1, 2)));
        let cloud_run = [("CLOUD_RUN_TASK_INDEX", "4"), ("CLOUD_RUN_TASK_COUNT", "5")];
        assert_eq!(auto(&cloud_run), Ok(fixed(5, 5)));
        let k8s = [("JOB_COMPLETION_INDEX", "1"), ("TINKEX_SHARD_COUNT", "3")];
        assert_eq!(auto(&k8s), Ok(fixed(2, 3)));
    }

    #[test]
    fn engines_that_agree_are_fine_and_disagreement_is_refused() {
        let both = [
            ("CLOUD_RUN_TASK_INDEX", "1"),
            ("CLOUD_RUN_TASK_COUNT", "3"),
            ("JOB_COMPLETION_INDEX", "1"),
            ("TINKEX_SHARD_COUNT", "3"),
        ];
        assert_eq!(auto(&both), Ok(fixed(2, 3)));
        let disagree = [
            ("CLOUD_RUN_TASK_INDEX", "1"),
            ("CLOUD_RUN_TASK_COUNT", "3"),
            ("JOB_COMPLETION_INDEX", "1"),
            ("TINKEX_SHARD_COUNT", "4"),
        ];
        assert_eq!(
            auto(&disagree).unwrap_err(),
            "--shard auto: the job-array variables disagree: Cloud Run says shard 2/3, Kubernetes says shard 2/4"
        );
    }

    #[test]
    fn missing_and_bad_variables_are_named() {
        assert_eq!(
            auto(&[]).unwrap_err(),
            "--shard auto: no job-array variables found (looked for SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, AWS_BATCH_JOB_ARRAY_INDEX with AWS_BATCH_JOB_ARRAY_SIZE, CLOUD_RUN_TASK_INDEX with CLOUD_RUN_TASK_COUNT, JOB_COMPLETION_INDEX with TINKEX_SHARD_COUNT)"
        );
        assert_eq!(
            auto(&[("JOB_COMPLETION_INDEX", "2")]).unwrap_err(),
            "--shard auto: found JOB_COMPLETION_INDEX=2 (Kubernetes) but not TINKEX_SHARD_COUNT"
        );
        assert_eq!(
            auto(&[("TINKEX_SHARD_COUNT", "2")]).unwrap_err(),
            "--shard auto: found TINKEX_SHARD_COUNT=2 (Kubernetes) but not JOB_COMPLETION_INDEX"
        );
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(
            auto(&stepped).unwrap_err(),
            "--shard auto: found SLURM_ARRAY_TASK_STEP=2: a stepped array (e.g. --array=1-7:2) cannot be split into shards; use --array=1-N"
        );
        let no_min = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            auto(&no_min).unwrap_err(),
            "--shard auto: found SLURM_ARRAY_TASK_ID=3 (Slurm) but not SLURM_ARRAY_TASK_MIN"
        );
        let past = [("CLOUD_RUN_TASK_INDEX", "3"), ("CLOUD_RUN_TASK_COUNT", "3")];
        assert_eq!(
            auto(&past).unwrap_err(),
            "--shard auto: CLOUD_RUN_TASK_INDEX gives task 3 (0-based), past CLOUD_RUN_TASK_COUNT=3"
        );
        let word = [
            ("AWS_BATCH_JOB_ARRAY_INDEX", "x"),
            ("AWS_BATCH_JOB_ARRAY_SIZE", "3"),
        ];
        assert_eq!(
            auto(&word).unwrap_err(),
            "--shard auto: AWS_BATCH_JOB_ARRAY_INDEX=x is not a whole number ≥ 0"
        );
        let err = resolve(ShardSpec::Auto, &|_| None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
