//! `billing`'s plain output: a headline, then a short table a person reads (cost by model
//! and by kind for usage; per project and user for storage). Server text goes through the
//! table's cell escaping, so a hostile name cannot drive the terminal.

use std::collections::BTreeMap;

use crate::cli::catalog::table::{cell, render, MISSING};
use crate::client::billing::{Storage, Usage, Window};
use crate::client::when;

/// The usage columns after the model: what each event kind is summed under.
const KINDS: [&str; 5] = ["Training", "Prefill", "Sample", "Storage", "Other"];

fn column(kind: Option<&str>) -> usize {
    match kind {
        Some("training") => 0,
        Some("sampling_prefill") => 1,
        Some("sampling_sample") => 2,
        Some("storage") | Some("checkpoint") => 3,
        _ => 4,
    }
}

fn money(usd: f64) -> String {
    format!("${usd:.4}")
}

/// The headline, then cost by model and kind with a total row (the `Other` column only
/// when some event is of a kind tinkex does not know).
pub fn usage(usage: &Usage, window: Window) -> String {
    let mut by_model: BTreeMap<String, [f64; 5]> = BTreeMap::new();
    let mut total = [0.0f64; 5];
    let mut unpriced = 0usize;
    for event in &usage.data {
        let model = event.base_model.as_deref().map_or(MISSING.into(), cell);
        let col = column(event.event_info.kind.as_deref());
        let cost = event.estimated_cost_usd.unwrap_or_else(|| {
            unpriced += 1;
            0.0
        });
        by_model.entry(model).or_default()[col] += cost;
        total[col] += cost;
    }
    let sum: f64 = total.iter().sum();
    let mut out = format!(
        "Usage from {} to {}: {} estimated, {} events\n",
        when::format_utc(window.start),
        when::format_utc(window.end),
        money(sum),
        usage.data.len()
    );
    out.push_str(&match usage.cost_data_through.as_deref() {
        Some(t) => format!("Cost data complete through {}\n", cell(t)),
        None => "Cost data: no invoice-derived prices in this window yet\n".to_string(),
    });
    if unpriced > 0 {
        out.push_str(&format!(
            "{unpriced} events are not priced yet (counted as $0)\n"
        ));
    }
    if usage.data.is_empty() {
        return out;
    }
    let other = total[4] != 0.0
        || usage
            .data
            .iter()
            .any(|e| column(e.event_info.kind.as_deref()) == 4);
    let shown = if other { 5 } else { 4 };
    let row = |name: String, costs: &[f64; 5]| -> Vec<String> {
        let mut cells = vec![name];
        cells.extend(costs[..shown].iter().map(|c| money(*c)));
        cells.push(money(costs.iter().sum()));
        cells
    };
    let mut rows: Vec<Vec<String>> = by_model.iter().map(|(m, c)| row(m.clone(), c)).collect();
    rows.push(row("Total".into(), &total));
    let mut header = vec!["Model"];
    header.extend(&KINDS[..shown]);
    header.push("Total");
    out.push('\n');
    out.push_str(&render(Some(&header), &rows));
    out
}

/// The headline (count, size, monthly estimate, rate), then one row per project and user.
pub fn storage(storage: &Storage) -> String {
    let count: i64 = storage.data.iter().filter_map(|r| r.checkpoint_count).sum();
    let gb: f64 = storage.data.iter().filter_map(|r| r.size_gigabytes).sum();
    let cost: f64 = storage
        .data
        .iter()
        .filter_map(|r| r.estimated_monthly_cost_usd)
        .sum();
    let rate = storage
        .effective_rate_usd_per_gigabyte_month
        .map_or(String::new(), |r| format!(" at {} per GB-month", money(r)));
    let mut out = format!(
        "Checkpoint storage: {count} checkpoints, {gb:.2} GB, about {} a month{rate}\n",
        money(cost)
    );
    if storage.data.is_empty() {
        return out;
    }
    let text = |v: &Option<String>| v.as_deref().map_or(MISSING.into(), cell);
    let rows: Vec<Vec<String>> = storage
        .data
        .iter()
        .map(|r| {
            vec![
                text(&r.project_id),
                text(&r.user_name).replace(MISSING, &text(&r.user_email)),
                r.checkpoint_count.map_or(MISSING.into(), |n| n.to_string()),
                r.size_gigabytes
                    .map_or(MISSING.into(), |g| format!("{g:.2} GB")),
                r.estimated_monthly_cost_usd.map_or(MISSING.into(), money),
            ]
        })
        .collect();
    let header = ["Project", "User", "Checkpoints", "Size", "Monthly cost"];
    out.push('\n');
    out.push_str(&render(Some(&header), &rows));
    out
}
