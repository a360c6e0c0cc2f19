//! How lists print: aligned columns for people, JSON (`--json`) for scripts.

use anyhow::Result;
use serde::Serialize;
use tessera_model::Timestamp;

/// Prints `items` as pretty JSON.
pub fn json<T: Serialize>(items: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(items)?);
    Ok(())
}

/// Prints rows under a header, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// `yes`/`no` for boolean columns.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// An instant as RFC 3339 in UTC to the second (`2026-11-30T16:42:26Z`);
/// the milliseconds when it is out of range.
pub fn time(t: Timestamp) -> String {
    match chrono::DateTime::from_timestamp_millis(t.millis()) {
        Some(at) => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => t.millis().to_string(),
    }
}
