//! Typed flag values: each parses from text and says what range it allows.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// `--shard K/N` or `auto`: parsed where shards are resolved, named here with the other values.
pub use crate::cli::batch::shard::ShardSpec;

/// `--max-tokens`: how many tokens each sample may have (≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxTokens(pub u32);

/// `--temperature`: a finite number ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Temperature(pub f64);

/// `--top-k`: -1 (off) or ≥ 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopK(pub i64);

/// `--top-p`: 0 < P ≤ 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopP(pub f64);

/// A count that must be at least 1 (`--num-samples`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positive(pub u32);

/// `--parallel` and `--http-pool`: 1 to [`Concurrency::MAX`]. Each worker is a thread and
/// each connection a socket, so a huge value would exhaust the process before any work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency(pub u32);

/// `--timeout`: seconds, a finite number > 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeoutSecs(pub Duration);

/// `--stop-token` and token ids: a non-negative integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenId(pub u32);

fn parse_number<T: FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.trim()
        .parse::<T>()
        .map_err(|_| format!("expected {what}, got '{text}'"))
}

impl MaxTokens {
    /// Checks the range.
    pub fn new(value: u64) -> Result<Self, String> {
        match value {
            0 => Err("must be at least 1".into()),
            n => u32::try_from(n)
                .map(MaxTokens)
                .map_err(|_| format!("must be at most {}", u32::MAX)),
        }
    }
}

impl Temperature {
    /// Checks the range.
    pub fn new(value: f64) -> Result<Self, String> {
        if !value.is_finite() || value < 0.0 {
            return Err("must be a finite number ≥ 0".into());
        }
        Ok(Temperature(value))
    }
}

impl TopK {
    /// Checks the range.
    pub fn new(value: i64) -> Result<Self, String> {
        if value == -1 || value >= 1 {
            Ok(TopK(value))
        } else {
            Err("must be -1 (off) or at least 1".into())
        }
    }
}

impl TopP {
    /// Checks the range.
    pub fn new(value: f64) -> Result<Self, String> {
        if !(value > 0.0 && value <= 1.0) {
            return Err("must be greater than 0 and at most 1".into());
        }
        Ok(TopP(value))
    }
}

impl Positive {
    /// Checks the range.
    pub fn new(value: u64) -> Result<Self, String> {
        match value {
            0 => Err("must be at least 1".into()),
            n => u32::try_from(n)
                .map(Positive)
                .map_err(|_| format!("must be at most {}", u32::MAX)),
        }
    }
}

impl Concurrency {
    /// The most workers or connections allowed.
    pub const MAX: u32 = 1024;

    /// Checks the range.
    pub fn new(value: u64) -> Result<Self, String> {
        match u32::try_from(value) {
            Ok(n @ 1..=Concurrency::MAX) => Ok(Concurrency(n)),
            _ => Err(format!("must be from 1 to {}", Concurrency::MAX)),
        }
    }
}

impl FromStr for MaxTokens {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        MaxTokens::new(parse_number::<u64>(text, "a whole number ≥ 1")?)
    }
}

impl FromStr for Temperature {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Temperature::new(parse_number::<f64>(text, "a number ≥ 0")?)
    }
}

impl FromStr for TopK {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        TopK::new(parse_number::<i64>(text, "-1 or a whole number ≥ 1")?)
    }
}

impl FromStr for TopP {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        TopP::new(parse_number::<f64>(text, "a number in (0, 1]")?)
    }
}

impl FromStr for Positive {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Positive::new(parse_number::<u64>(text, "a whole number ≥ 1")?)
    }
}

impl FromStr for Concurrency {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let what = format!("a whole number from 1 to {}", Concurrency::MAX);
        Concurrency::new(parse_number::<u64>(text, &what)?)
    }
}

impl FromStr for TimeoutSecs {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let seconds = parse_number::<f64>(text, "a number of seconds")?;
        // Duration::from_secs_f64 panics past ~584 billion years; a year is plenty.
        if !seconds.is_finite() || seconds <= 0.0 || seconds > 31_536_000.0 {
            return Err("must be a number of seconds greater than 0 (at most one year)".into());
        }
        Ok(TimeoutSecs(Duration::from_secs_f64(seconds)))
    }
}

impl FromStr for TokenId {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        parse_number::<u32>(text, "a token id (a whole number ≥ 0)").map(TokenId)
    }
}

impl fmt::Display for MaxTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_range() {
        assert_eq!("128".parse::<MaxTokens>(), Ok(MaxTokens(128)));
        assert_eq!("0".parse::<MaxTokens>().unwrap_err(), "must be at least 1");
        assert!("-3"
            .parse::<MaxTokens>()
            .unwrap_err()
            .contains("whole number"));
        assert!("99999999999"
            .parse::<MaxTokens>()
            .unwrap_err()
            .contains("at most"));
    }

    #[test]
    fn temperature_range() {
        assert_eq!("0".parse::<Temperature>(), Ok(Temperature(0.0)));
        assert_eq!("0.7".parse::<Temperature>(), Ok(Temperature(0.7)));
        assert!("-0.1".parse::<Temperature>().is_err());
        assert!("NaN".parse::<Temperature>().is_err());
        assert!("inf".parse::<Temperature>().is_err());
    }

    #[test]
    fn top_k_accepts_minus_one_and_positive() {
        assert_eq!("-1".parse::<TopK>(), Ok(TopK(-1)));
        assert_eq!("40".parse::<TopK>(), Ok(TopK(40)));
        assert_eq!(
            "0".parse::<TopK>().unwrap_err(),
            "must be -1 (off) or at least 1"
        );
        assert!("-2".parse::<TopK>().is_err());
    }

    #[test]
    fn top_p_range() {
        assert_eq!("1".parse::<TopP>(), Ok(TopP(1.0)));
        assert_eq!("0.95".parse::<TopP>(), Ok(TopP(0.95)));
        assert!("0".parse::<TopP>().is_err());
        assert!("1.01".parse::<TopP>().is_err());
        assert!("nan".parse::<TopP>().is_err());
    }

    #[test]
    fn timeout_range() {
        assert_eq!(
            "1.5".parse::<TimeoutSecs>(),
            Ok(TimeoutSecs(Duration::from_millis(1500)))
        );
        assert!("0".parse::<TimeoutSecs>().is_err());
        assert!("1e300".parse::<TimeoutSecs>().is_err());
        assert!("abc".parse::<TimeoutSecs>().is_err());
    }

    #[test]
    fn concurrency_range() {
        assert_eq!("1".parse::<Concurrency>(), Ok(Concurrency(1)));
        assert_eq!("1024".parse::<Concurrency>(), Ok(Concurrency(1024)));
        for bad in ["0", "1025", "100000", "4000000000", "99999999999999999999"] {
            assert!(
                bad.parse::<Concurrency>()
                    .unwrap_err()
                    .contains("1 to 1024"),
                "{bad}"
            );
        }
    }

    #[test]
    fn positive_and_token_ids() {
        assert_eq!("3".parse::<Positive>(), Ok(Positive(3)));
        assert!("0".parse::<Positive>().is_err());
        assert_eq!("151645".parse::<TokenId>(), Ok(TokenId(151645)));
        assert!("-1".parse::<TokenId>().is_err());
    }
}
