//! A streaming reader of tar archives (plain or gzip, told apart by magic bytes) that writes
//! regular files and directories only, each name checked before anything is written.
//!
//! Headers are parsed by hand: 512-byte ustar/GNU blocks, GNU `L` long names and pax `x`
//! `path` records. Links, devices, FIFOs and unknown kinds are refused as hostile.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

const BLOCK: usize = 512;
/// Longest GNU long-name or pax header read into memory.
const MAX_META: u64 = 64 * 1024;
/// Members accepted in one archive.
const MAX_MEMBERS: u64 = 100_000;
/// Extracted bytes allowed per archive byte (past a floor), against decompression bombs.
const MAX_RATIO: u64 = 100;
/// Extracted bytes always allowed, whatever the ratio.
const MIN_BUDGET: u64 = 1 << 30;

/// What an archive held: regular files written, and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    /// Regular files written.
    pub files: u64,
    /// Their total size.
    pub bytes: u64,
}

/// Extracts the archive at `archive` (tar or tar.gz) into `into`, which must exist.
pub fn extract(archive: &Path, into: &Path) -> Result<Extracted> {
    let file = File::open(archive).map_err(|e| Error::io("reading the downloaded archive", e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut input = BufReader::with_capacity(256 * 1024, file);
    let mut magic = [0u8; 2];
    let peeked = read_full(&mut input, &mut magic)?;
    let head = std::io::Cursor::new(magic[..peeked].to_vec()).chain(input);
    let budget = MIN_BUDGET.max(size.saturating_mul(MAX_RATIO));
    if peeked == 2 && magic == [0x1f, 0x8b] {
        let gz = flate2::read::MultiGzDecoder::new(head);
        Reader::new(gz, into, budget).run()
    } else {
        Reader::new(head, into, budget).run()
    }
}

/// One pass over the member headers.
struct Reader<'a, R: Read> {
    input: R,
    into: &'a Path,
    budget: u64,
    done: Extracted,
}

/// A member's header, with any long name applied.
struct Header {
    name: String,
    size: u64,
    kind: u8,
}

impl<'a, R: Read> Reader<'a, R> {
    fn new(input: R, into: &'a Path, budget: u64) -> Self {
        Reader {
            input,
            into,
            budget,
            done: Extracted::default(),
        }
    }

    fn run(mut self) -> Result<Extracted> {
        let mut long_name: Option<String> = None;
        let mut members = 0u64;
        while let Some(header) = self.next_header()? {
            members += 1;
            if members > MAX_MEMBERS {
                return Err(hostile(&format!("more than {MAX_MEMBERS} members")));
            }
            match header.kind {
                b'L' => long_name = Some(self.meta(header.size)?),
                b'x' => {
                    let records = self.meta(header.size)?;
                    long_name = pax_path(&records).or(long_name);
                }
                b'g' | b'K' => self.skip(header.size)?,
                b'0' | 0 | b'7' | b'5' => {
                    let name = long_name.take().unwrap_or(header.name);
                    let rel = crate::download::names::relative(&name).map_err(|what| {
                        hostile(&format!("member {:?} has {what}", shown(&name)))
                    })?;
                    if header.kind == b'5' || name.ends_with('/') {
                        self.skip(header.size)?;
                        make_dir(&self.into.join(rel))?;
                    } else {
                        self.write_member(&rel, header.size)?;
                    }
                }
                other => {
                    let name = long_name.take().unwrap_or(header.name);
                    return Err(hostile(&format!(
                        "member {:?} is a {}",
                        shown(&name),
                        kind_name(other)
                    )));
                }
            }
        }
        Ok(self.done)
    }

    /// The next header, or None at the end (a zero block or the end of the input).
    fn next_header(&mut self) -> Result<Option<Header>> {
        let mut block = [0u8; BLOCK];
        let got = read_full(&mut self.input, &mut block)?;
        if got == 0 || block.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        if got < BLOCK {
            return Err(hostile("the archive ends inside a header"));
        }
        let stored =
            octal(&block[148..156]).ok_or_else(|| hostile("a header has a bad checksum field"))?;
        let sum: u64 = block
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    b as u64
                }
            })
            .sum();
        if stored != sum {
            return Err(hostile("a header's checksum does not match"));
        }
        let size = number(&block[124..136]).ok_or_else(|| hostile("a header has a bad size"))?;
        let mut name = text(&block[0..100]);
        if &block[257..262] == b"ustar" && block[345] != 0 {
            name = format!("{}/{name}", text(&block[345..500]));
        }
        Ok(Some(Header {
            name,
            size,
            kind: block[156],
        }))
    }

    /// Streams a regular member's data into its file inside `into`.
    fn write_member(&mut self, rel: &Path, size: u64) -> Result<()> {
        if self.done.bytes.saturating_add(size) > self.budget {
            return Err(hostile("the archive unpacks to far more than its own size"));
        }
        let path = self.into.join(rel);
        if let Some(parent) = path.parent() {
            make_dir(parent)?;
        }
        let mut out = File::create(&path)
            .map_err(|e| hostile(&format!("member {} cannot be written ({e})", rel.display())))?;
        let mut left = size;
        let mut buf = vec![0u8; 256 * 1024];
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let got = read_full(&mut self.input, &mut buf[..want])?;
            if got < want {
                return Err(hostile("the archive ends inside a member"));
            }
            out.write_all(&buf[..got])
                .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
            left -= got as u64;
        }
        out.sync_all()
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        self.done.files += 1;
        self.done.bytes += size;
        self.skip_padding(size)
    }

    /// A long name or pax block, bounded, as text.
    fn meta(&mut self, size: u64) -> Result<String> {
        if size > MAX_META {
            return Err(hostile(&format!("a {size}-byte long-name header")));
        }
        let mut data = vec![0u8; size as usize];
        if read_full(&mut self.input, &mut data)? < data.len() {
            return Err(hostile("the archive ends inside a header"));
        }
        self.skip_padding(size)?;
        Ok(text(&data))
    }

    /// Skips a member's data and its padding.
    fn skip(&mut self, size: u64) -> Result<()> {
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let copied = std::io::copy(&mut (&mut self.input).take(padded), &mut std::io::sink())
            .map_err(|e| hostile(&format!("the archive cannot be read ({e})")))?;
        if copied < padded {
            return Err(hostile("the archive ends inside a member"));
        }
        Ok(())
    }

    fn skip_padding(&mut self, size: u64) -> Result<()> {
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let mut buf = [0u8; BLOCK];
        if read_full(&mut self.input, &mut buf[..pad as usize])? < pad as usize {
            return Err(hostile("the archive ends inside a member"));
        }
        Ok(())
    }
}

/// Reads until `buf` is full or the input ends; how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut at = 0;
    while at < buf.len() {
        match input.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(hostile(&format!("the archive cannot be read ({e})"))),
        }
    }
    Ok(at)
}

/// Makes a directory (and its parents) inside the staging directory.
fn make_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| {
        hostile(&format!(
            "directory {} cannot be made ({e})",
            path.display()
        ))
    })
}

/// The `path` record of pax extended-header records (`LEN key=value\n` …).
fn pax_path(records: &str) -> Option<String> {
    records.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_string)
    })
}

/// A NUL-ended header field as text.
fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// An octal header field (spaces and NULs around it allowed).
fn octal(field: &[u8]) -> Option<u64> {
    let digits = text(field);
    let digits = digits.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// A size field: octal, or GNU base-256 when the high bit is set.
fn number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 == 0 {
        return octal(field);
    }
    let mut value: u64 = (field[0] & 0x7f) as u64;
    for &b in &field[1..] {
        value = value.checked_mul(256)?.checked_add(b as u64)?;
    }
    Some(value)
}

/// A member kind in words.
fn kind_name(kind: u8) -> &'static str {
    match kind {
        b'1' => "hard link",
        b'2' => "symbolic link",
        b'3' => "character device",
        b'4' => "block device",
        b'6' => "FIFO",
        _ => "member of an unknown kind",
    }
}

/// A name as shown in an error: server text, cut short.
fn shown(name: &str) -> String {
    let cut: String = name.chars().take(200).collect();
    crate::redact::server_text(&cut)
}

/// A refusal of hostile archive content (exit 4).
fn hostile(what: &str) -> Error {
    Error::Protocol(format!("refusing the checkpoint archive: {what}"))
}

/// The members' paths below `into`, for tests and reports.
pub fn listed(into: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![into.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(into) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    out
}
