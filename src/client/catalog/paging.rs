//! Paging as the official CLI does it: each page asks for exactly what is still needed.

use super::types::{Cursor, Listing};
use crate::error::{Error, Result};

/// Page size for training runs.
pub const RUN_PAGE: u64 = 100;
/// Page size for checkpoints (the server's queries are slow; fewer, larger pages).
pub const CHECKPOINT_PAGE: u64 = 1000;
/// The most items one listing collects, whatever `total_count` claims: a bound on memory
/// and requests against a server that never stops sending full pages.
pub const MAX_LISTED: u64 = 100_000;
/// The most bytes of listing (the pages' JSON) one read command holds in all: items can be of
/// any size, so a count alone does not bound memory. Past it the command stops (exit 2).
pub const MAX_LISTED_BYTES: u64 = 256 << 20;

/// Fetches up to `limit` items (`None` = all) with `page(limit, offset)`, which answers the
/// items, the cursor and the page's size in bytes: the first page
/// asks for `min(limit, page_size)` at offset 0; while fewer than the target (the limit,
/// capped by the first page's `total_count`) are in hand, the next asks for
/// `min(left, page_size)` at the running offset; a short page ends the listing.
/// `total_count` is the server's word, never trusted: it only lowers the target, and the
/// pages' bytes are counted against [`MAX_LISTED_BYTES`] whatever it says.
pub(crate) fn fetch<T>(
    limit: Option<u64>,
    page_size: u64,
    mut page: impl FnMut(u64, u64) -> Result<(Vec<T>, Option<Cursor>, u64)>,
) -> Result<Listing<T>> {
    let limit = limit.map(|n| n.min(MAX_LISTED));
    let first_want = limit.map_or(page_size, |n| n.min(page_size));
    let (mut items, cursor, mut held) = page(first_want, 0)?;
    check_held(held, 0)?;
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
        let (mut more, _, bytes) = page(want, offset)?;
        held = held.saturating_add(bytes);
        check_held(held, offset)?;
        let short = (more.len() as u64) < want;
        more.truncate(want as usize);
        items.append(&mut more);
        if short {
            break;
        }
    }
    Ok(Listing { items, total_count })
}

/// Stops a listing whose pages passed [`MAX_LISTED_BYTES`] (`had` items were in hand).
fn check_held(held: u64, had: u64) -> Result<()> {
    if held <= MAX_LISTED_BYTES {
        return Ok(());
    }
    Err(Error::Input {
        message: format!(
            "the listing passed {} MiB after {had} items, the most a read command holds",
            MAX_LISTED_BYTES >> 20
        ),
        hint: Some("list fewer with --limit N".into()),
    })
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
            Ok(((0..n).collect::<Vec<u64>>(), Some(cursor), n * 8))
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
                10,
            ))
        })
        .unwrap();
        assert_eq!((calls, got.items.len(), got.total_count), (2, 13, 1000));
        let got = fetch(None, 10, |_, _| Ok((vec![0; 4], None, 4))).unwrap();
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
    fn the_bytes_held_are_bounded_whatever_total_count_claims() {
        // Pages of 1,000 items × 60 KB with a huge total_count: stopped at 256 MiB, not 2.9 GB.
        let mut asked = 0;
        let err = fetch(None, 1000, |want, _| {
            asked += 1;
            let cursor = Cursor {
                total_count: Some(u64::MAX),
                ..Cursor::default()
            };
            Ok((vec![0u8; want as usize], Some(cursor), want * 60_000))
        })
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("256 MiB"), "{err}");
        assert_eq!(asked, 5, "60 MB a page: the fifth passes 256 MiB");
    }

    #[test]
    fn oversized_pages_are_cut_to_the_request() {
        let got = fetch(Some(5), 10, |_, _| Ok((vec![0; 50], None, 50))).unwrap();
        assert_eq!(got.items.len(), 5);
    }
}
