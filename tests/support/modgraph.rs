//! The crate's module graph read from source, for the layering test: which module file names
//! which other module, through `use` declarations and `crate::`/`super::`/`self::` paths.
//!
//! A small lexer blanks comments and literals first, so a path quoted in a doc comment or a
//! string is not an import. Test-only modules (`#[cfg(test)] mod …`) are left out: the layers
//! constrain the shipped code.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A module path without the leading `crate`, e.g. `cli::batch::journal`; "" is the crate root.
pub type ModPath = String;

/// Every module file of the library and the modules each names.
#[derive(Debug, Default)]
pub struct Graph {
    /// Module → its file, relative to src/ (for messages).
    pub files: BTreeMap<ModPath, String>,
    /// Module → the modules it names (itself excluded), each with the first path that did.
    pub edges: BTreeMap<ModPath, BTreeMap<ModPath, String>>,
}

impl Graph {
    /// Reads every `.rs` file under `src` (the binary's `main.rs` aside: it sees only the library).
    pub fn from_dir(src: &Path) -> Graph {
        let mut files = Vec::new();
        collect(src, src, &mut files);
        Graph::from_files(&files)
    }

    /// Builds the graph from (path relative to src/, source text) pairs.
    pub fn from_files(files: &[(String, String)]) -> Graph {
        let mut stripped = BTreeMap::new();
        let mut test_only = BTreeSet::new();
        for (file, text) in files {
            let Some(module) = module_of(file) else {
                continue;
            };
            let (code, tests) = drop_test_blocks(&strip(text));
            test_only.extend(tests.into_iter().map(|name| join(&module, &name)));
            stripped.insert(module, (file.clone(), code));
        }
        stripped.retain(|module, _| !test_only.iter().any(|t| within(module, t)));
        let mut graph = Graph::default();
        for (module, (file, _)) in &stripped {
            graph.files.insert(module.clone(), file.clone());
        }
        for (module, (_, code)) in &stripped {
            let mut named = BTreeMap::new();
            for path in references(code) {
                if let Some(target) = graph.resolve(module, &path) {
                    if target != *module {
                        named.entry(target).or_insert(path);
                    }
                }
            }
            graph.edges.insert(module.clone(), named);
        }
        graph
    }

    /// The module a path written in `module` lands in: the longest known prefix, or None
    /// for another crate's path.
    fn resolve(&self, module: &str, path: &str) -> Option<ModPath> {
        let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        let mut base: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
        let mut rest = segments.as_slice();
        match rest.first().copied() {
            Some("crate") | Some("$crate") => {
                base.clear();
                rest = &rest[1..];
            }
            Some("self") => rest = &rest[1..],
            Some("super") => {
                while rest.first() == Some(&"super") {
                    base.pop()?;
                    rest = &rest[1..];
                }
            }
            // A child module named without `self::` (2018 paths); anything else is a crate.
            Some(first) if self.files.contains_key(&join(module, first)) => {}
            _ => return None,
        }
        let mut found = base.join("::");
        for segment in rest {
            base.push(segment);
            let candidate = base.join("::");
            if !self.files.contains_key(&candidate) {
                break;
            }
            found = candidate;
        }
        Some(found)
    }
}

/// `a::b` joined with `c`, where "" is the root.
fn join(module: &str, name: &str) -> ModPath {
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}::{name}")
    }
}

/// Whether `module` is `root` or inside it.
pub fn within(module: &str, root: &str) -> bool {
    root.is_empty() || module == root || module.starts_with(&format!("{root}::"))
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/ is readable")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((
                relative,
                fs::read_to_string(&path).expect("source is UTF-8"),
            ));
        }
    }
}

/// `cli/batch/mod.rs` → `cli::batch`; `lib.rs` → the root; `main.rs` → None.
fn module_of(file: &str) -> Option<ModPath> {
    let stem = file.strip_suffix(".rs")?;
    match stem {
        "main" => None,
        "lib" => Some(String::new()),
        _ => Some(stem.strip_suffix("/mod").unwrap_or(stem).replace('/', "::")),
    }
}

/// The source with comments, strings and char literals replaced by spaces (newlines kept).
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, from: &[char]| {
        out.extend(from.iter().map(|&c| if c == '\n' { '\n' } else { ' ' }));
    };
    while i < chars.len() {
        let end = match (chars[i], chars.get(i + 1).copied()) {
            ('/', Some('/')) => chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p),
            ('/', Some('*')) => block_comment_end(&chars, i),
            ('"', _) => string_end(&chars, i + 1),
            ('r', Some('"' | '#')) if !ident_before(&chars, i) => raw_string_end(&chars, i + 1),
            ('\'', _) => char_literal_end(&chars, i),
            _ => {
                out.push(chars[i]);
                i += 1;
                continue;
            }
        };
        blank(&mut out, &chars[i..end]);
        i = end;
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn block_comment_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i) = (0, start);
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => (depth, i) = (depth + 1, i + 2),
            ('*', '/') => {
                (depth, i) = (depth - 1, i + 2);
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the closing quote of a string whose body starts at `i`.
fn string_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// `r#"…"#`: `i` is just after the `r`.
fn raw_string_end(chars: &[char], i: usize) -> usize {
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    if chars.get(i + hashes) != Some(&'"') {
        return i; // `r#ident`, not a string
    }
    let closing: String = std::iter::once('"')
        .chain(std::iter::repeat_n('#', hashes))
        .collect();
    let rest: String = chars[i + hashes + 1..].iter().collect();
    rest.find(&closing).map_or(chars.len(), |p| {
        i + hashes + 1 + rest[..p].chars().count() + closing.chars().count()
    })
}

/// A char literal (`'x'`, `'\n'`, `'\u{1F600}'`) ends after its quote; a lifetime is kept.
fn char_literal_end(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        return chars[i + 2..]
            .iter()
            .position(|&c| c == '\'')
            .map_or(chars.len(), |p| i + 3 + p);
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    i + 1
}

/// Removes `#[cfg(test)] mod name { … }` blocks; returns the code and the names of
/// `#[cfg(test)] mod name;` files.
fn drop_test_blocks(code: &str) -> (String, Vec<String>) {
    let mut out = code.to_string();
    let mut files = Vec::new();
    let mut from = 0;
    while let Some(found) = out[from..].find("#[cfg(test)]") {
        let start = from + found;
        let mut rest = out[start + "#[cfg(test)]".len()..].trim_start();
        while rest.starts_with("#[") {
            rest = rest[rest.find(']').map_or(rest.len(), |p| p + 1)..].trim_start();
        }
        let rest_at = out.len() - rest.len();
        let Some(after_mod) = rest
            .strip_prefix("pub ")
            .unwrap_or(rest)
            .strip_prefix("mod ")
        else {
            from = rest_at;
            continue;
        };
        let name: String = after_mod
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after_name = after_mod.trim_start()[name.len()..].trim_start();
        if after_name.starts_with(';') {
            files.push(name);
            from = rest_at;
        } else if after_name.starts_with('{') {
            let open = out.len() - after_name.len();
            let end = matching_brace(&out, open);
            out.replace_range(start..end, &" ".repeat(end - start));
            from = end;
        } else {
            from = rest_at;
        }
    }
    (out, files)
}

/// The index after the brace closing the one at `open`.
fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (offset, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + offset + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Every path the code names: each leaf of each `use` tree, then every `crate::`, `super::`,
/// `self::` path outside them.
fn references(code: &str) -> Vec<String> {
    let mut rest = code.to_string();
    let mut paths = Vec::new();
    let mut from = 0;
    while let Some(at) = word_at(&rest, "use", from) {
        let Some(end) = rest[at..].find(';').map(|p| at + p) else {
            break;
        };
        expand("", rest[at + 3..end].trim(), &mut paths);
        rest.replace_range(at..end, &" ".repeat(end - at));
        from = end;
    }
    for anchor in ["crate", "super", "self"] {
        let mut from = 0;
        while let Some(at) = word_at(&rest, anchor, from) {
            let tail = &rest[at..];
            let len = tail
                .char_indices()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(tail.len(), |(p, _)| p);
            let path = tail[..len].trim_end_matches(':');
            if path.contains("::") {
                paths.push(path.to_string());
            }
            from = at + len.max(1);
        }
    }
    paths
}

/// The next index of `word` standing alone (not part of a longer identifier), from `from`.
fn word_at(text: &str, word: &str, mut from: usize) -> Option<usize> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    while let Some(found) = text[from..].find(word) {
        let at = from + found;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Expands a `use` tree (`a::{b, c::{d, self}}`) below `prefix` into its leaf paths.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    for item in split_top(tree) {
        let item = item.split(" as ").next().unwrap_or_default().trim();
        let full = format!("{prefix}{item}");
        if let Some(open) = full.find('{') {
            let inner = full[open + 1..full.rfind('}').unwrap_or(full.len())].to_string();
            expand(&full[..open], &inner, out);
        } else if item == "self" || item == "*" {
            out.push(prefix.trim_end_matches(':').to_string());
        } else if !item.is_empty() {
            out.push(full.split_whitespace().collect());
        }
    }
}

/// Splits on commas outside braces.
fn split_top(tree: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in tree.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&tree[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tree[start..]);
    parts
}
