//! Times and durations from the command line and the server, as pure functions: UTC
//! instants (RFC 3339 or `YYYY-MM-DD`), `7d`/`36h` durations, and hour formatting.

/// Nanoseconds since the Unix epoch, UTC (an `i128` holds any year a server may send).
pub type Nanos = i128;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM[:SS[.frac]][Z|±HH:MM]` (no zone
/// means UTC, as the official CLI assumes). `None` when it is neither.
pub fn parse_instant(text: &str) -> Option<Nanos> {
    let text = text.trim();
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let rest = &text[10..];
    if rest.is_empty() {
        return Some(secs as i128 * NANOS_PER_SEC);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, offset) = split_zone(rest)?;
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (clock, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let field = |i: usize, max: i64| -> Option<i64> {
        let v = digits(parts.get(i)?.as_bytes()).filter(|_| parts[i].len() == 2)?;
        (v <= max).then_some(v)
    };
    let (h, m) = (field(0, 23)?, field(1, 59)?);
    let s = match parts.len() {
        2 if frac.is_none() => 0,
        3 => field(2, 60)?,
        _ => return None,
    };
    secs += h * 3600 + m * 60 + s - offset;
    let mut nanos = secs as i128 * NANOS_PER_SEC;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let padded = format!("{frac:0<9}");
        nanos += padded.parse::<i128>().ok()?;
    }
    Some(nanos)
}

/// Splits a zone suffix (`Z`, `±HH:MM`, `±HHMM`) off a clock; the offset in seconds.
fn split_zone(clock: &str) -> Option<(&str, i64)> {
    if let Some(c) = clock.strip_suffix(['Z', 'z']) {
        return Some((c, 0));
    }
    if let Some(pos) = clock.rfind(['+', '-']) {
        let (c, zone) = clock.split_at(pos);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let z = zone[1..].replace(':', "");
        if z.len() != 4 {
            return None;
        }
        let (h, m) = (digits(&z.as_bytes()[..2])?, digits(&z.as_bytes()[2..])?);
        if h > 23 || m > 59 {
            return None;
        }
        return Some((c, sign * (h * 3600 + m * 60)));
    }
    Some((clock, 0))
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the form the billing endpoint takes).
pub fn format_utc(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Whole seconds of an instant, rounded down.
pub fn secs_of(n: Nanos) -> i64 {
    n.div_euclid(NANOS_PER_SEC) as i64
}

/// Parses a duration: plain seconds, or a number with `s`, `m`, `h`, `d` or `w`
/// (`7d`, `36h`). `None` for anything else, zero included, or past 100 years.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    if number.is_empty() || !number.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = number.parse().ok()?;
    let secs = n.checked_mul(scale)?;
    (secs > 0 && secs <= 100 * 366 * 86_400).then_some(secs)
}

/// The current time, for callers that do not inject one.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        secs_of(parse_instant(text).unwrap())
    }

    #[test]
    fn instants_in_every_accepted_form() {
        assert_eq!(at("1970-01-01"), 0);
        assert_eq!(at("2026-07-13"), 1_783_900_800);
        assert_eq!(at("2026-07-13T00:00:00Z"), 1_783_900_800);
        assert_eq!(at("2026-07-13T02:00:00+02:00"), 1_783_900_800);
        assert_eq!(at("2026-07-12T22:00-02:00"), 1_783_900_800);
        assert_eq!(at("2026-07-13T00:00:00"), 1_783_900_800);
        assert_eq!(
            parse_instant("2026-01-09T10:00:00.250Z").unwrap() % NANOS_PER_SEC,
            250_000_000
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-02-30",
            "2026-07-13T24:00:00Z",
            "2026-07-13T1:00Z",
            "yesterday",
            "2026-07-13T00:00:00+5",
            "2026-07-13T00:00:00.Z",
            "２０２６-07-13",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-07-13T05:00:00Z",
            "2000-02-29T23:59:59Z",
        ] {
            assert_eq!(format_utc(at(s)), s);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("36h"), Some(129_600));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("2w"), Some(1_209_600));
        assert_eq!(parse_duration("90m"), Some(5400));
        for bad in [
            "",
            "0",
            "d",
            "-1h",
            "1.5h",
            "7x",
            "99999999999999999999",
            "1y",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
