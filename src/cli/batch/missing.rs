//! The input lines no journal holds, as ranges for `tinkex merge`'s messages: the first few
//! named, all counted, in constant memory.

/// How many missing ranges are listed by name; the rest are counted.
const SHOWN_RANGES: usize = 10;

/// Missing input lines as ranges: the first few named, all counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Missing {
    /// The first [`SHOWN_RANGES`] ranges, inclusive.
    pub shown: Vec<(usize, usize)>,
    /// How many ranges in all.
    pub ranges: usize,
    /// How many lines in all.
    pub lines: usize,
    open: Option<(usize, usize)>,
}

impl Missing {
    /// Counts `line` as missing, extending the open range.
    pub(super) fn note(&mut self, line: usize) {
        self.lines += 1;
        self.open = Some(self.open.map_or((line, line), |(first, _)| (first, line)));
    }

    /// Ends the current range: a record came, or the input ended.
    pub(super) fn close(&mut self) {
        if let Some(range) = self.open.take() {
            self.ranges += 1;
            if self.shown.len() < SHOWN_RANGES {
                self.shown.push(range);
            }
        }
    }

    /// `lines 5-9, 12, …`: the ranges for a message.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .shown
            .iter()
            .map(|&(a, b)| match a == b {
                true => a.to_string(),
                false => format!("{a}-{b}"),
            })
            .collect();
        if self.ranges > self.shown.len() {
            parts.push(format!(
                "… and {} more ranges",
                self.ranges - self.shown.len()
            ));
        }
        let plural = if self.lines == 1 { "line" } else { "lines" };
        format!("{plural} {}", parts.join(", "))
    }
}
