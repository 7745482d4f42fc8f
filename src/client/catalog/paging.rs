//! Paging as the official CLI does it: each page asks for exactly what is still needed.

use super::types::{Cursor, Listing};
use crate::error::Result;

/// Page size for training runs.
pub const RUN_PAGE: u64 = 100;
/// Page size for checkpoints (the server's queries are slow; fewer, larger pages).
pub const CHECKPOINT_PAGE: u64 = 1000;
/// The most items one listing collects, whatever `total_count` claims: a bound on memory
/// and requests against a server that never stops sending full pages.
pub const MAX_LISTED: u64 = 100_000;

/// Fetches up to `limit` items (`None` = all) with `page(limit, offset)`: the first page
/// asks for `min(limit, page_size)` at offset 0; while fewer than the target (the limit,
/// capped by the first page's `total_count`) are in hand, the next asks for
/// `min(left, page_size)` at the running offset; a short page ends the listing.
pub(crate) fn fetch<T>(
    limit: Option<u64>,
    page_size: u64,
    mut page: impl FnMut(u64, u64) -> Result<(Vec<T>, Option<Cursor>)>,
) -> Result<Listing<T>> {
    let limit = limit.map(|n| n.min(MAX_LISTED));
    let first_want = limit.map_or(page_size, |n| n.min(page_size));
    let (mut items, cursor) = page(first_want, 0)?;
    items.truncate(first_want as usize);
    let total_count = cursor
        .and_then(|c| c.total_count)
        .unwrap_or(items.len() as u64);
    let target = limit
        .unwrap_or(total_count)
        .min(total_count)
        .min(MAX_LISTED);
    while (items.len() as u64) < target {
        let offset = items.len() as u64;
        let want = page_size.min(target - offset);
        let (mut more, _) = page(want, offset)?;
        let short = (more.len() as u64) < want;
        more.truncate(want as usize);
        items.append(&mut more);
        if short {
            break;
        }
    }
    Ok(Listing { items, total_count })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server holding `total` items; records each (limit, offset) asked for.
    fn listing(limit: Option<u64>, page: u64, total: u64) -> (Vec<(u64, u64)>, usize, u64) {
        let mut asked = Vec::new();
        let got = fetch(limit, page, |want, offset| {
            asked.push((want, offset));
            let n = want.min(total.saturating_sub(offset));
            let cursor = Cursor {
                offset: Some(offset),
                limit: Some(want),
                total_count: Some(total),
            };
            Ok(((0..n).collect::<Vec<u64>>(), Some(cursor)))
        })
        .unwrap();
        (asked, got.items.len(), got.total_count)
    }

    #[test]
    fn asks_for_exactly_what_is_needed() {
        assert_eq!(listing(Some(20), 100, 500), (vec![(20, 0)], 20, 500));
        assert_eq!(
            listing(Some(120), 100, 500),
            (vec![(100, 0), (20, 100)], 120, 500)
        );
        assert_eq!(
            listing(None, 1000, 1050),
            (vec![(1000, 0), (50, 1000)], 1050, 1050)
        );
        assert_eq!(listing(None, 100, 30), (vec![(100, 0)], 30, 30));
        assert_eq!(listing(Some(50), 100, 0), (vec![(50, 0)], 0, 0));
        assert_eq!(
            listing(None, 100, 200),
            (vec![(100, 0), (100, 100)], 200, 200)
        );
    }

    #[test]
    fn a_short_page_or_a_missing_cursor_ends_the_listing() {
        let mut calls = 0;
        let got = fetch(None, 10, |want, _| {
            calls += 1;
            let cursor = Cursor {
                total_count: Some(1000),
                ..Cursor::default()
            };
            Ok((
                vec![0; (want as usize).min(if calls == 1 { 10 } else { 3 })],
                Some(cursor),
            ))
        })
        .unwrap();
        assert_eq!((calls, got.items.len(), got.total_count), (2, 13, 1000));
        let got = fetch(None, 10, |_, _| Ok((vec![0; 4], None))).unwrap();
        assert_eq!((got.items.len(), got.total_count), (4, 4));
    }

    #[test]
    fn a_server_that_never_stops_is_cut_off() {
        let (asked, got, total) = listing(None, 1000, u64::MAX);
        assert_eq!(
            (asked.len(), got as u64, total),
            (100, MAX_LISTED, u64::MAX)
        );
    }

    #[test]
    fn oversized_pages_are_cut_to_the_request() {
        let got = fetch(Some(5), 10, |_, _| Ok((vec![0; 50], None))).unwrap();
        assert_eq!(got.items.len(), 5);
    }
}
