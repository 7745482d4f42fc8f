//! The layers, kept by a test: reads every file under src/, builds the module graph from the
//! paths each names, and fails on an import circle in src/cli/, a layer importing one above or
//! beside it, a command folder importing another, or a flag struct reaching past the flag
//! layer. docs/architecture.md explains the rules; the lists below are the one place they name
//! modules.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use crate::support::modgraph::{within, Graph, ModPath};

/// Files of src/cli/ still in an import circle, each to be removed by its owner. A file may
/// only leave this list (the test fails while a listed file is no longer in a circle, so the
/// list shrinks as the circle does); a file not listed that joins a circle fails the test.
const KNOWN_CIRCLE_TO_REMOVE: &[&str] = &[];

/// One folder per command (module paths): none may import another.
const COMMAND_FOLDERS: &[&str] = &[
    "cli::commands::auth",
    "cli::commands::billing",
    "cli::commands::cache",
    "cli::commands::checkpoint",
    "cli::commands::merge",
    "cli::commands::model",
    "cli::commands::prefetch",
    "cli::commands::run",
    "cli::commands::score",
    "cli::commands::training_run",
    "cli::commands::version",
];

/// The module that lists the commands (the top-level argh enum and the dispatch), and the
/// only modules that may import it (the entry point).
const COMMAND_LIST: &[&str] = &["cli::commands"];
const COMMAND_LIST_IMPORTERS: &[&str] = &["cli"];

/// The flag structs (each command's `args` module, and a subcommand's in its own folder): they
/// may import the flag layer, and a command's flags may name its subcommands' flag structs.
const FLAG_MODULES: &[&str] = &[
    "cli::commands::auth::args",
    "cli::commands::billing::args",
    "cli::commands::cache::args",
    "cli::commands::checkpoint::args",
    "cli::commands::checkpoint::download::args",
    "cli::commands::merge::args",
    "cli::commands::model::args",
    "cli::commands::prefetch::args",
    "cli::commands::run::args",
    "cli::commands::score::args",
    "cli::commands::training_run::args",
    "cli::commands::version::args",
];

/// The flag layer: typed flag values, the shared flag groups and the macro that appends them.
const FLAG_LAYER: &[&str] = &["cli::flags"];

/// The layers and the layers each may import. Every other top-level module is shared: any
/// layer may import it, and it may import only other shared modules. `download` (checkpoint
/// archives) is a layer of its own on top of `client`: it asks the client for signed URLs.
const LAYERS: &[(&str, &[&str])] = &[
    ("cli", &["client", "tokenizer", "chat", "download"]),
    ("download", &["client"]),
    ("client", &[]),
    ("tokenizer", &[]),
    ("chat", &[]),
];

/// What the rules name; the real test uses the lists above, the self-tests their own.
struct Rules<'a> {
    known_circle: &'a [&'a str],
    command_folders: &'a [&'a str],
    command_list: &'a [&'a str],
    command_list_importers: &'a [&'a str],
    flag_modules: &'a [&'a str],
    flag_layer: &'a [&'a str],
}

const RULES: Rules<'static> = Rules {
    known_circle: KNOWN_CIRCLE_TO_REMOVE,
    command_folders: COMMAND_FOLDERS,
    command_list: COMMAND_LIST,
    command_list_importers: COMMAND_LIST_IMPORTERS,
    flag_modules: FLAG_MODULES,
    flag_layer: FLAG_LAYER,
};

/// Every rule broken, one line each (empty: the layering holds).
fn violations(graph: &Graph, rules: &Rules) -> Vec<String> {
    let mut found = circles(graph, rules);
    found.extend(layer_leaks(graph));
    found.extend(command_leaks(graph, rules));
    found.extend(stale_names(graph, rules));
    found
}

/// The layer a module belongs to: a name from [`LAYERS`], or None for a shared module.
fn layer(module: &str) -> Option<&'static str> {
    let top = module.split("::").next().unwrap_or_default();
    LAYERS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == top)
}

fn file(graph: &Graph, module: &str) -> String {
    format!(
        "src/{}",
        graph.files.get(module).map_or(module, String::as_str)
    )
}

/// Every edge as (from, to, the path that made it).
fn each_edge(graph: &Graph) -> impl Iterator<Item = (&ModPath, &ModPath, &String)> {
    graph
        .edges
        .iter()
        .flat_map(|(from, targets)| targets.iter().map(move |(to, path)| (from, to, path)))
}

/// Client, tokenizer and chat import no layer; shared modules import no layer; the root
/// (lib.rs only declares modules) is not checked.
fn layer_leaks(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    for (from, to, path) in each_edge(graph).filter(|(from, _, _)| !from.is_empty()) {
        let (Some(target), source) = (layer(to), layer(from)) else {
            continue;
        };
        let allowed = match source {
            Some(source) => {
                source == target
                    || LAYERS
                        .iter()
                        .any(|(l, may)| *l == source && may.contains(&target))
            }
            None => false,
        };
        if !allowed {
            let who =
                source.map_or_else(|| format!("shared module {from}"), |s| format!("layer {s}"));
            found.push(format!(
                "{} names {path}: {who} may not import layer {target} (docs/architecture.md)",
                file(graph, from)
            ));
        }
    }
    found
}

/// Command folders import no other command folder; only the entry point imports the command
/// list; flag structs import only the flag layer.
fn command_leaks(graph: &Graph, rules: &Rules) -> Vec<String> {
    let folder = |m: &str| rules.command_folders.iter().find(|f| within(m, f)).copied();
    let mut found = Vec::new();
    for (from, to, path) in each_edge(graph) {
        let place = file(graph, from);
        if let (Some(a), Some(b)) = (folder(from), folder(to)) {
            if a != b {
                found.push(format!(
                    "{place} names {path}: command folder {a} may not import command folder {b}"
                ));
            }
        }
        let lists = rules
            .command_list
            .iter()
            .any(|l| within(to, l) && !within(from, l));
        if lists && !rules.command_list_importers.contains(&from.as_str()) {
            found.push(format!(
                "{place} names {path}: only the entry point may import the command list"
            ));
        }
        let flags = rules.flag_modules.contains(&from.as_str());
        let allowed = rules.flag_layer.iter().any(|l| within(to, l))
            || rules.flag_modules.contains(&to.as_str());
        if flags && !allowed {
            found.push(format!(
                "{place} names {path}: a flag struct may import only the flag layer ({})",
                rules.flag_layer.join(", ")
            ));
        }
    }
    found
}

/// A module named in the lists must exist, so a list cannot silently stop applying.
fn stale_names(graph: &Graph, rules: &Rules) -> Vec<String> {
    let lists = [
        rules.command_folders,
        rules.command_list,
        rules.flag_modules,
        rules.flag_layer,
    ];
    lists
        .iter()
        .flat_map(|list| list.iter())
        .filter(|name| !graph.files.contains_key(**name))
        .map(|name| {
            format!("tests/layering.rs names module {name}, which no file under src/ defines")
        })
        .collect()
}

/// The modules `from` reaches by following edges (itself only through a circle).
fn reach(graph: &Graph, from: &str) -> BTreeSet<ModPath> {
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([from]);
    while let Some(next) = queue.pop_front() {
        for to in graph.edges.get(next).into_iter().flat_map(|t| t.keys()) {
            if seen.insert(to.clone()) {
                queue.push_back(to);
            }
        }
    }
    seen
}

/// The shortest circle through `start`, as `a → b → a`.
fn circle_through(graph: &Graph, start: &str) -> String {
    let mut back: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue: VecDeque<&str> = VecDeque::from([start]);
    while let Some(next) = queue.pop_front() {
        for to in graph.edges.get(next).into_iter().flat_map(|t| t.keys()) {
            if to == start {
                let mut path = vec![start, next];
                while let Some(prev) = back.get(path[path.len() - 1]) {
                    path.push(prev);
                }
                path.reverse();
                path.insert(0, start);
                path.dedup();
                return path.join(" → ");
            }
            if !back.contains_key(to.as_str()) && to != start {
                back.insert(to, next);
                queue.push_back(to);
            }
        }
    }
    start.to_string()
}

/// No module of src/cli/ is in a circle, except those still listed as known; a listed module
/// no longer in a circle must leave the list.
fn circles(graph: &Graph, rules: &Rules) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_circle = BTreeSet::new();
    for module in graph.files.keys().filter(|m| layer(m) == Some("cli")) {
        if !reach(graph, module).contains(module) {
            continue;
        }
        in_circle.insert(module.as_str());
        if !rules.known_circle.contains(&module.as_str()) {
            found.push(format!(
                "{} is in an import circle: {} (src/cli/ has no circles; docs/architecture.md)",
                file(graph, module),
                circle_through(graph, module)
            ));
        }
    }
    for known in rules
        .known_circle
        .iter()
        .filter(|k| !in_circle.contains(**k))
    {
        found.push(format!(
            "{known} is no longer in a circle: remove it from KNOWN_CIRCLE_TO_REMOVE"
        ));
    }
    found
}

#[test]
fn the_source_tree_keeps_its_layers() {
    let graph = Graph::from_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph.files.len() > 50,
        "read only {} modules",
        graph.files.len()
    );
    let found = violations(&graph, &RULES);
    assert!(
        found.is_empty(),
        "the layering is broken:\n{}",
        found.join("\n")
    );
}

/// A command folder missing from the lists would escape the rules: every folder under
/// src/cli/commands/ must be listed, with its flag struct.
#[test]
fn every_command_folder_is_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/commands");
    let entries = std::fs::read_dir(&dir).expect("src/cli/commands is readable");
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let folder = format!("cli::commands::{name}");
        assert!(
            COMMAND_FOLDERS.contains(&folder.as_str()),
            "{folder} is not in COMMAND_FOLDERS (tests/layering.rs)"
        );
        let args = format!("{folder}::args");
        assert!(
            FLAG_MODULES.contains(&args.as_str()),
            "{args} is not in FLAG_MODULES (tests/layering.rs)"
        );
    }
}

/// A graph from (file, source) pairs, for the rules' self-tests.
fn graph_of(files: &[(&str, &str)]) -> Graph {
    let owned: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    Graph::from_files(&owned)
}

const NO_LISTS: Rules<'static> = Rules {
    known_circle: &[],
    command_folders: &[],
    command_list: &[],
    command_list_importers: &["cli"],
    flag_modules: &[],
    flag_layer: &[],
};

#[test]
fn a_circle_in_cli_is_found_through_use_super_and_crate_paths() {
    let graph = graph_of(&[
        ("lib.rs", "pub mod cli;"),
        ("cli/mod.rs", "mod a; mod b; mod c;"),
        ("cli/a.rs", "use super::b::Thing;"),
        ("cli/b.rs", "fn f() { crate::cli::c::go() }"),
        ("cli/c.rs", "use crate::cli::{a::{self}, b as _};"),
    ]);
    let found = violations(&graph, &NO_LISTS);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].contains("src/cli/a.rs is in an import circle: cli::a → cli::b → cli::c → cli::a"),
        "{found:#?}"
    );
    let known = Rules {
        known_circle: &["cli::a", "cli::b", "cli::c"],
        ..NO_LISTS
    };
    assert_eq!(violations(&graph, &known), Vec::<String>::new());
    let stale = Rules {
        known_circle: &["cli::a", "cli::b", "cli::c", "cli"],
        ..NO_LISTS
    };
    assert_eq!(
        violations(&graph, &stale),
        ["cli is no longer in a circle: remove it from KNOWN_CIRCLE_TO_REMOVE"]
    );
}

#[test]
fn comments_strings_and_test_modules_are_not_imports() {
    let graph = graph_of(&[
        ("lib.rs", "pub mod cli; pub mod chat;"),
        ("cli/mod.rs", "mod a;"),
        ("cli/a.rs", "fn f() {}"),
        (
            "chat/mod.rs",
            "//! Uses crate::cli::a.\n/* crate::cli */ const S: &str = \"crate::cli::a\";\n\
             const R: &str = r#\"use crate::cli;\"#; fn g<'a>(c: &'a char) -> bool { *c == '\"' }\n\
             #[cfg(test)]\nmod tests { use crate::cli::a; }\n#[cfg(test)]\nmod more;",
        ),
        ("chat/more.rs", "use crate::cli::a;"),
    ]);
    assert_eq!(violations(&graph, &NO_LISTS), Vec::<String>::new());
}

#[test]
fn each_layer_rule_fires() {
    let graph = graph_of(&[
        (
            "lib.rs",
            "pub mod cli; pub mod client; pub mod tokenizer; pub mod chat; pub mod download; \
             pub mod error;",
        ),
        (
            "download/mod.rs",
            "use crate::client::Export; use crate::tokenizer::Tokenizer;",
        ),
        (
            "cli/mod.rs",
            "use crate::client::Client; use crate::error::Error;",
        ),
        (
            "client/mod.rs",
            "use crate::tokenizer::Tokenizer; use crate::error::Error;",
        ),
        ("tokenizer/mod.rs", "fn f() { crate::chat::render(); }"),
        ("cli/other.rs", ""),
        ("chat/mod.rs", "use crate::cli::other::report;"),
        ("error.rs", "use crate::client;"),
    ]);
    let found = violations(&graph, &NO_LISTS);
    let expected = [
        "src/chat/mod.rs names crate::cli::other::report: layer chat may not import layer cli",
        "src/client/mod.rs names crate::tokenizer::Tokenizer: layer client may not import layer tokenizer",
        "src/download/mod.rs names crate::tokenizer::Tokenizer: layer download may not import layer tokenizer",
        "src/error.rs names crate::client: shared module error may not import layer client",
        "src/tokenizer/mod.rs names crate::chat::render: layer tokenizer may not import layer chat",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (line, want) in found.iter().zip(expected) {
        assert!(line.starts_with(want), "{line}");
    }
}

#[test]
fn command_folders_and_flag_structs_keep_to_themselves() {
    let graph = graph_of(&[
        ("lib.rs", "pub mod cli; pub mod client;"),
        (
            "cli/mod.rs",
            "mod commands; mod flags; use commands::Command;",
        ),
        ("cli/flags.rs", ""),
        ("client/mod.rs", ""),
        ("cli/commands/mod.rs", "mod run; mod score;"),
        ("cli/commands/run/mod.rs", "mod args;"),
        (
            "cli/commands/run/args.rs",
            "use crate::cli::flags::Connection; use crate::client::Config;",
        ),
        (
            "cli/commands/score/mod.rs",
            "use crate::cli::commands::run::args::RunArgs;",
        ),
        ("cli/other.rs", "use super::commands::Command;"),
    ]);
    let rules = Rules {
        command_folders: &["cli::commands::run", "cli::commands::score"],
        command_list: &["cli::commands"],
        flag_modules: &["cli::commands::run::args"],
        flag_layer: &["cli::flags"],
        ..NO_LISTS
    };
    let found = violations(&graph, &rules);
    let expected = [
        "src/cli/commands/run/args.rs names crate::client::Config: a flag struct may import only the flag layer",
        "src/cli/commands/score/mod.rs names crate::cli::commands::run::args::RunArgs: command folder cli::commands::score may not import command folder cli::commands::run",
        "src/cli/other.rs names super::commands::Command: only the entry point may import the command list",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (line, want) in found.iter().zip(expected) {
        assert!(line.starts_with(want), "{line}");
    }
    let missing = Rules {
        flag_layer: &["cli::flag_groups"],
        ..rules
    };
    assert!(violations(&graph, &missing)
        .iter()
        .any(|l| l.contains("names module cli::flag_groups, which no file")));
}
