//! Plain text tables for the read commands: aligned columns, no colours, no truncation.

use crate::client::{Checkpoint, CheckpointInfo, Lenient, SupportedModel, TrainingRun};

/// What a missing optional field prints as.
pub const MISSING: &str = "-";

/// Server text longer than this is cut (a hardening bound, far past any real name or path).
const MAX_CELL: usize = 1000;

/// Columns of `model list`.
pub const MODEL_COLUMNS: [&str; 4] = ["Model", "Max Context", "Trainable", "Sampleable"];
/// Columns of `training-run list`.
pub const RUN_COLUMNS: [&str; 7] = [
    "Run ID",
    "Base Model",
    "Owner",
    "LoRA",
    "Last Update",
    "Status",
    "Last Checkpoint",
];
/// Columns of `checkpoint list`.
pub const CHECKPOINT_COLUMNS: [&str; 6] =
    ["Checkpoint", "Type", "Size", "Public", "Created", "Path"];

/// Lays out `rows` under `header` (none: a key/value listing): columns separated by two
/// spaces, padded to the widest cell, the last column unpadded; one `\n` per line.
pub fn render(header: Option<&[&str]>, rows: &[Vec<String>]) -> String {
    let head: Option<Vec<String>> = header.map(|h| h.iter().map(|s| s.to_string()).collect());
    let lines: Vec<&Vec<String>> = head.iter().chain(rows.iter()).collect();
    let columns = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for line in &lines {
        for (i, cell) in line.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in lines {
        let last = line.len().saturating_sub(1);
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
    out
}

/// Server text made safe for one table cell: control and bidi/format characters escaped (a
/// newline or tab would break the layout, an escape sequence would drive the terminal, a
/// U+202E would show the rest of the line reversed), long text cut.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CELL));
    for (n, c) in text.chars().enumerate() {
        if n == MAX_CELL {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || crate::redact::is_format_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return MISSING.to_string();
    }
    out
}

fn opt(value: Option<&str>) -> String {
    value.map_or_else(|| MISSING.to_string(), cell)
}

fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "Yes".into(),
        Some(false) => "No".into(),
        None => MISSING.into(),
    }
}

/// A size as the official CLI shows it (`512 B`, `1.5 KB`, `12.0 GB`); an odd value as sent.
pub fn human_size(bytes: Option<&Lenient<i64>>) -> String {
    match bytes {
        Some(Lenient::Valid(n)) if *n >= 0 => crate::cli::units::bytes(*n as u64),
        Some(Lenient::Odd(value)) => odd(value),
        _ => MISSING.into(),
    }
}

/// A number field the server sent in an unexpected form, shown as sent.
fn odd(value: &serde_json::Value) -> String {
    cell(&value.to_string())
}

/// One `model list` row.
pub fn model_row(m: &SupportedModel) -> Vec<String> {
    vec![
        opt(m.model_name.as_deref()),
        match &m.max_context_length {
            Some(Lenient::Valid(n)) => n.to_string(),
            Some(Lenient::Odd(value)) => odd(value),
            None => MISSING.into(),
        },
        yes_no(m.trainable),
        yes_no(m.sampleable),
    ]
}

/// The LoRA column: `Rank 32`, `Yes` (no rank given), `No`; an odd rank as sent.
fn lora(is_lora: Option<bool>, rank: Option<&Lenient<u64>>, with_yes: bool) -> String {
    let rank = match rank {
        Some(Lenient::Valid(r)) if *r > 0 => r.to_string(),
        Some(Lenient::Odd(value)) => odd(value),
        _ => return yes_no(is_lora),
    };
    match is_lora {
        Some(true) if with_yes => format!("Yes (Rank {rank})"),
        Some(true) => format!("Rank {rank}"),
        other => yes_no(other),
    }
}

fn status(corrupted: bool) -> String {
    if corrupted { "Failed" } else { "OK" }.into()
}

/// One `training-run list` row.
pub fn run_row(r: &TrainingRun) -> Vec<String> {
    vec![
        opt(r.training_run_id.as_deref()),
        opt(r.base_model.as_deref()),
        opt(r.model_owner.as_deref()),
        lora(r.is_lora, r.lora_rank.as_ref(), false),
        opt(r.last_request_time.as_deref()),
        status(r.corrupted),
        opt(r
            .last_checkpoint
            .as_ref()
            .and_then(|c| c.checkpoint_id.as_deref())),
    ]
}

/// One `checkpoint list` row.
pub fn checkpoint_row(c: &Checkpoint) -> Vec<String> {
    vec![
        opt(c.checkpoint_id.as_deref()),
        opt(c.checkpoint_type.as_deref()),
        human_size(c.size_bytes.as_ref()),
        yes_no(Some(c.public)),
        opt(c.time.as_deref()),
        opt(c.tinker_path.as_deref()),
    ]
}

fn pair(key: &str, value: String) -> Vec<String> {
    vec![key.to_string(), value]
}

fn metadata_rows(
    rows: &mut Vec<Vec<String>>,
    metadata: Option<&serde_json::Map<String, serde_json::Value>>,
) {
    let Some(map) = metadata.filter(|m| !m.is_empty()) else {
        return;
    };
    rows.push(pair("Metadata", String::new()));
    for (key, value) in map {
        let text = match value {
            serde_json::Value::String(s) => cell(s),
            other => cell(&other.to_string()),
        };
        rows.push(pair(&format!("  - {}", cell(key)), text));
    }
}

fn checkpoint_rows(rows: &mut Vec<Vec<String>>, title: &str, c: Option<&Checkpoint>) {
    let Some(c) = c else { return };
    rows.push(pair(title, opt(c.checkpoint_id.as_deref())));
    rows.push(pair("  - Time", opt(c.time.as_deref())));
    rows.push(pair("  - Path", opt(c.tinker_path.as_deref())));
}

/// The key/value rows of `training-run info`.
pub fn run_info(r: &TrainingRun) -> Vec<Vec<String>> {
    let mut rows = vec![
        pair("Run ID", opt(r.training_run_id.as_deref())),
        pair("Base Model", opt(r.base_model.as_deref())),
        pair("Owner", opt(r.model_owner.as_deref())),
        pair("LoRA", lora(r.is_lora, r.lora_rank.as_ref(), true)),
        pair("Last Update", opt(r.last_request_time.as_deref())),
        pair("Status", status(r.corrupted)),
    ];
    let last = r.last_checkpoint.as_ref();
    checkpoint_rows(&mut rows, "Last Training Checkpoint", last);
    let sampler = r.last_sampler_checkpoint.as_ref();
    checkpoint_rows(&mut rows, "Last Sampler Checkpoint", sampler);
    metadata_rows(&mut rows, r.user_metadata.as_ref());
    rows
}

/// The key/value rows of `checkpoint info`.
pub fn checkpoint_info(info: &CheckpointInfo, run_id: &str) -> Vec<Vec<String>> {
    let c = &info.checkpoint;
    let mut rows = vec![
        pair("Checkpoint ID", opt(c.checkpoint_id.as_deref())),
        pair("Type", opt(c.checkpoint_type.as_deref())),
        pair("Tinker Path", opt(c.tinker_path.as_deref())),
        pair("Size", human_size(c.size_bytes.as_ref())),
        pair("Public", yes_no(Some(c.public))),
        pair("Created", opt(c.time.as_deref())),
        pair(
            "Expires",
            c.expires_at.as_deref().map_or_else(|| "Never".into(), cell),
        ),
        pair("Training Run ID", cell(run_id)),
        pair("LoRA", lora(info.is_lora, info.lora_rank.as_ref(), true)),
    ];
    metadata_rows(&mut rows, c.user_metadata.as_ref());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_spaces() {
        let rows = vec![
            vec!["a".to_string(), "long value".into(), "x".into()],
            vec!["longer".to_string(), "-".into(), "".into()],
        ];
        assert_eq!(
            render(Some(&["H1", "H2", "H3"]), &rows),
            "H1      H2          H3\na       long value  x\nlonger  -\n"
        );
        assert_eq!(render(None, &[]), "");
    }

    #[test]
    fn sizes_read_like_the_official_cli() {
        let size = |n: i64| human_size(Some(&Lenient::Valid(n)));
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(5_000_000_000), "4.7 GB");
        assert_eq!(size(-1), "-");
        assert_eq!(human_size(None), "-");
        assert_eq!(size(i64::MAX), "8.0 EB");
        let float = Lenient::Odd(serde_json::json!(1.5));
        assert_eq!(human_size(Some(&float)), "1.5");
    }

    #[test]
    fn cells_cannot_break_the_layout() {
        assert_eq!(cell("a\tb\nc\u{1b}[31m"), "a\\tb\\nc\\u{1b}[31m");
        assert_eq!(cell("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(cell("a\u{2066}b\u{200f}c"), "a\\u{2066}b\\u{200f}c");
        assert_eq!(cell(""), "-");
        assert_eq!(cell(&"x".repeat(2000)).chars().count(), MAX_CELL + 1);
    }
}
