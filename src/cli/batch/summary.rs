//! The end of a batch in words: the stderr summary line and the error whose category sets the exit code.

use std::time::Instant;

use super::shard::Shard;
use crate::cli::logging::STATUS_TARGET;
use crate::error::{Category, Error};
use crate::pipeline::Tally;

/// The stderr summary: `tinkex: 997/1000 ok, 3 failed (2 user, 1 server)`, after `shard 2/8: `
/// when sharded; `counts` is the prompts to do and those a resumed journal already held.
pub(crate) fn summarize(
    tally: &Tally,
    counts: (usize, usize),
    shard: Option<Shard>,
    started: Instant,
) {
    let (total, skipped) = counts;
    let ok = tally.ok + skipped;
    let seconds = started.elapsed().as_secs_f64();
    let prefix = shard_prefix(shard);
    let tokens = crate::cli::token_totals::BATCH.words();
    if tally.failures() == 0 {
        log::info!(target: STATUS_TARGET, "{prefix}{ok}/{total} ok in {seconds:.1} s; {tokens}");
    } else {
        log::info!(target: STATUS_TARGET, "{prefix}{ok}/{total} ok, {} failed ({}) in {seconds:.1} s; {tokens}", tally.failures(), breakdown(tally));
    }
}

/// `shard 2/8: ` before a status line of a sharded run.
pub(crate) fn shard_prefix(shard: Option<Shard>) -> String {
    shard.map_or(String::new(), |s| format!("shard {s}: "))
}

pub(super) fn breakdown(tally: &Tally) -> String {
    tally
        .failed
        .iter()
        .map(|(category, count)| format!("{count} {category}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Severity for the exit code, most severe first: unexpected, auth, server, timeout, user.
fn severity(category: Category) -> u8 {
    match category {
        Category::Unexpected => 4,
        Category::Auth => 3,
        Category::Server => 2,
        Category::Timeout => 1,
        Category::User => 0,
    }
}

pub(super) fn failure(tally: &Tally, (noun, done): (&str, &str)) -> Error {
    let timed_out = tally.timed_out.then_some(Category::Timeout);
    let category = tally
        .failed
        .keys()
        .copied()
        .chain(timed_out)
        .max_by_key(|c| severity(*c))
        .unwrap_or(Category::Unexpected);
    let plural = if tally.failures() == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if tally.failures() > 0 {
        parts.push(format!(
            "{} {noun}{plural} failed ({}); their lines in the output hold the errors",
            tally.failures(),
            breakdown(tally)
        ));
    }
    if tally.timed_out {
        parts.push(format!("--batch-timeout passed before the batch was done; {noun}s without a line in the output were not {done}"));
    }
    Error::Api {
        category,
        status: None,
        message: parts.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: (&str, &str) = ("prompt", "sampled");

    #[test]
    fn the_most_severe_category_decides_the_exit_code() {
        let mut tally = Tally::default();
        tally.failed.insert(Category::User, 5);
        tally.failed.insert(Category::Timeout, 1);
        assert_eq!(failure(&tally, NAMES).exit_code(), 5);
        tally.failed.insert(Category::Server, 1);
        assert_eq!(failure(&tally, NAMES).exit_code(), 4);
        tally.failed.insert(Category::Auth, 1);
        assert_eq!(failure(&tally, NAMES).exit_code(), 3);
        assert_eq!(
            failure(&tally, NAMES).to_string(),
            "8 prompts failed (5 user, 1 auth, 1 server, 1 timeout); their lines in the output hold the errors"
        );
    }
}
