//! The lifecycle subcommands run: publish, unpublish and set-ttl path by path, delete of the
//! paths given or of a run's selection (dry run, prompt, bounded concurrent deletes), each
//! failure listed and the exit code chosen once at the end.

use std::io::{BufRead, IsTerminal, Read};

use serde_json::json;

use super::config::{DeleteCommand, Target, WriteAction, WriteCommand};
use crate::cli::catalog::table::cell;
use crate::cli::logging::STATUS_TARGET;
use crate::cli::sink;
use crate::client::lifecycle::{self, Visibility, DELETE_CONCURRENCY};
use crate::client::{official, CheckpointPath, Config, LifecycleClient};
use crate::error::{Category, Error, Result};
use crate::Deadline;

/// How many paths the delete prompt shows before "…".
const PROMPT_PATHS: usize = 5;
/// The most bytes read for the prompt's answer.
const MAX_ANSWER: u64 = 256;

/// Runs a validated lifecycle subcommand.
pub fn execute(command: &WriteCommand) -> Result<()> {
    match &command.action {
        WriteAction::Delete(delete) => run_delete(command, delete),
        WriteAction::Publish(paths) => each(command, paths, |c, p| {
            c.publish(p)
                .map(|v| outcome(v, "published", "already public"))
        }),
        WriteAction::Unpublish(paths) => each(command, paths, |c, p| {
            c.unpublish(p)
                .map(|v| outcome(v, "unpublished", "already private"))
        }),
        WriteAction::SetTtl(paths, ttl) => each(command, paths, |c, p| {
            c.set_ttl(p, *ttl).map(|()| match ttl {
                Some(secs) => (true, format!("expires {secs} s from now")),
                None => (true, "never expires".to_string()),
            })
        }),
    }
}

fn outcome(v: Visibility, changed: &str, already: &str) -> (bool, String) {
    match v {
        Visibility::Changed => (true, changed.to_string()),
        Visibility::Already => (false, already.to_string()),
    }
}

fn connect(command: &WriteCommand, pool: usize) -> Result<LifecycleClient> {
    let conn = &command.connection;
    let deadline = Deadline::after(conn.timeout);
    let config = Config::from_env(conn.api_key.clone(), conn.base_url.clone(), deadline, pool)?;
    LifecycleClient::connect(config)
}

/// One call per path, in order; a line per path (or one JSON document), failures at the end.
fn each(
    command: &WriteCommand,
    paths: &[CheckpointPath],
    call: impl Fn(&LifecycleClient, &CheckpointPath) -> Result<(bool, String)>,
) -> Result<()> {
    let client = connect(command, 2)?;
    let (mut changed, mut unchanged, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    let mut text = String::new();
    for path in paths {
        match call(&client, path) {
            Ok((true, what)) => {
                text.push_str(&format!("{}: {what}\n", cell(&path.path)));
                changed.push(path.path.clone());
            }
            Ok((false, what)) => {
                text.push_str(&format!("{}: {what}, nothing to do\n", cell(&path.path)));
                unchanged.push(path.path.clone());
            }
            Err(err) => failed.push((path.path.clone(), err)),
        }
    }
    if command.json {
        let doc = json!({
            "changed": changed,
            "unchanged": unchanged,
            "failed": failures(&failed),
        });
        text = format!("{}\n", official::python_json(&doc, None));
    }
    print(&text)?;
    finish(paths.len(), failed)
}

fn failures(failed: &[(String, Error)]) -> Vec<serde_json::Value> {
    failed
        .iter()
        .map(|(p, e)| json!({"tinker_path": p, "error": lifecycle::failure_text(e)}))
        .collect()
}

fn print(text: &str) -> Result<()> {
    sink::to_stdout(crate::redact::scrub(text).as_bytes()).map(drop)
}

/// The exit: 0 when nothing failed; a lone path's own error (unknown checkpoint: exit 2);
/// otherwise every failure as a line, then auth (3), timeout (5) or server (4) for the lot.
fn finish(total: usize, mut failed: Vec<(String, Error)>) -> Result<()> {
    if failed.is_empty() {
        return Ok(());
    }
    if total == 1 {
        return Err(failed.remove(0).1);
    }
    for (path, err) in &failed {
        log::error!("{}: {err}", cell(path));
    }
    let has = |c: Category| failed.iter().any(|(_, e)| e.category() == c);
    let category = [Category::Auth, Category::Timeout]
        .into_iter()
        .find(|c| has(*c))
        .unwrap_or(Category::Server);
    Err(Error::Api {
        category,
        status: None,
        message: format!(
            "{} of {total} checkpoints failed (listed above); the others were done",
            failed.len()
        ),
    })
}

fn run_delete(command: &WriteCommand, delete: &DeleteCommand) -> Result<()> {
    let (client, paths) = match &delete.target {
        // A dry run of explicit paths needs no server: the paths are the answer.
        Target::Paths(paths) if delete.dry_run => (None, paths.clone()),
        Target::Paths(paths) => (Some(connect(command, DELETE_CONCURRENCY)?), paths.clone()),
        Target::Run(run_id, selection) => {
            let client = connect(command, DELETE_CONCURRENCY)?;
            let picked = selection.pick(&client.run_checkpoints(run_id)?);
            (Some(client), own_paths(run_id, &picked))
        }
    };
    if delete.dry_run {
        return dry_run(command, &paths);
    }
    let Some(client) = client.filter(|_| !paths.is_empty()) else {
        log::info!(target: STATUS_TARGET, "no checkpoint matches: nothing to delete");
        return delete_output(command, 0, &[]);
    };
    if !delete.yes && !confirm(&paths)? {
        log::info!(target: STATUS_TARGET, "nothing deleted");
        return Ok(());
    }
    let report = client.delete_all(&paths);
    delete_output(command, report.deleted.len(), &report.failed)?;
    if !command.json {
        log::info!(
            target: STATUS_TARGET,
            "deleted {} of {} checkpoints",
            report.deleted.len(),
            paths.len()
        );
    }
    finish(paths.len(), report.failed)
}

/// The selection's paths, keeping only well-formed paths of the run asked for: a server
/// cannot steer a delete to another run's checkpoints.
fn own_paths(run_id: &str, picked: &[crate::client::Checkpoint]) -> Vec<CheckpointPath> {
    let mut paths = Vec::new();
    for checkpoint in picked {
        let text = checkpoint.tinker_path.as_deref().unwrap_or_default();
        match CheckpointPath::parse(text) {
            Some(p) if p.training_run_id == run_id => paths.push(p),
            _ => log::warn!(
                "skipping a listed checkpoint whose path is not of run {}: '{}'",
                cell(run_id),
                cell(text)
            ),
        }
    }
    paths
}

fn dry_run(command: &WriteCommand, paths: &[CheckpointPath]) -> Result<()> {
    let names: Vec<&str> = paths.iter().map(|p| p.path.as_str()).collect();
    let text = if command.json {
        format!(
            "{}\n",
            official::python_json(&json!({ "would_delete": names }), None)
        )
    } else {
        names.iter().map(|p| format!("{}\n", cell(p))).collect()
    };
    log::info!(
        target: STATUS_TARGET,
        "dry run: {} checkpoints would be deleted; nothing was sent",
        paths.len()
    );
    print(&text)
}

fn delete_output(command: &WriteCommand, deleted: usize, failed: &[(String, Error)]) -> Result<()> {
    if !command.json {
        return Ok(());
    }
    let failed: Vec<(String, String)> = failed
        .iter()
        .map(|(p, e)| (p.clone(), lifecycle::failure_text(e)))
        .collect();
    let doc = official::delete_document(deleted, &failed);
    print(&format!("{}\n", official::python_json(&doc, None)))
}

/// Asks once on the terminal (config refused already when stdin is not one).
fn confirm(paths: &[CheckpointPath]) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    let mut prompt = format!(
        "Delete {} checkpoints? This cannot be undone.\n",
        paths.len()
    );
    for p in paths.iter().take(PROMPT_PATHS) {
        prompt.push_str(&format!("  {}\n", cell(&p.path)));
    }
    if paths.len() > PROMPT_PATHS {
        prompt.push_str(&format!("  … and {} more\n", paths.len() - PROMPT_PATHS));
    }
    prompt.push_str("Delete? [y/N] ");
    eprint!("{}", crate::redact::scrub(&prompt));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .take(MAX_ANSWER)
        .read_line(&mut answer)
        .map_err(|e| Error::io("cannot read the answer from stdin", e))?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
