//! Hostile chat templates: seeded random templates from a small grammar plus the regression
//! cases of the template limits. Each renders or fails as a user error (exit 2), never a panic;
//! through the built binary, the error is one line naming the template and memory stays < 1 GiB.

use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Map;
use tinkex::chat::{self, ChatTemplate, Message, RenderOptions, Renderer, TokenizerConfig};

use crate::support::qwen3_tokenizer;
use crate::support::run::clean_command;

/// xorshift64*: a fixed seed gives the same templates on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn count(rng: &mut Rng) -> &'static str {
    rng.pick(&["0", "3", "-1", "1000", "100000", "70000000", "99999999999"])
}

fn text(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => "'x'".into(),
        1 => "''".into(),
        2 => "messages[0].content".into(),
        3 => "ns.s".into(),
        4 => format!("('ab' * {})", count(rng)),
        _ => "'%s\\n'".into(),
    }
}

/// An expression; `deep` allows `ns.v`, which may hold a deeply nested list.
fn expr(rng: &mut Rng, depth: usize, deep: bool) -> String {
    if depth == 0 {
        return match rng.below(4) {
            0 if deep => "ns.v".into(),
            1 => count(rng).into(),
            _ => text(rng),
        };
    }
    let mut e = || expr(rng, depth - 1, deep);
    let (a, b) = (e(), e());
    match rng.below(18) {
        0 => format!("({a} * {})", count(rng)),
        1 => format!("({a} ~ {b})"),
        2 => format!("[{a}, {b}]"),
        3 => format!("{{'k': {a}}}"),
        4 => format!("({a})|tojson"),
        5 => format!("({a})|tojson(indent={})", count(rng)),
        6 => format!("({a})|tojson(separators=[{}, ': '])", text(rng)),
        7 => format!("({a})|string"),
        8 => format!("({a})|pprint"),
        9 => format!("[{a}, {b}]|join({})", text(rng)),
        10 => format!("({a}|string)|replace('x', {})", text(rng)),
        11 => format!("({a}|string)|indent({})", count(rng)),
        12 => format!("'%s%s'|format({a}, {b})"),
        13 => format!("range({})|list", count(rng)),
        14 => format!("([{a}] * {})", count(rng)),
        15 => format!("({a}|string).replace('x', {})", text(rng)),
        16 => format!("({a})|length"),
        _ => {
            let n = rng.below(200);
            format!("{}{a}{}", "[".repeat(n), "]".repeat(n))
        }
    }
}

/// A statement; only top-level ones (`depth == 2`) may nest `ns.v` deeper in a loop.
fn stmt(rng: &mut Rng, depth: usize) -> String {
    let top = depth == 2;
    let choice = rng.below(if depth == 0 { 3 } else { 8 });
    match choice {
        0 => format!("{{{{ {} }}}}", expr(rng, 2, true)),
        1 => format!("{{% set ns.s = ns.s ~ {} %}}", expr(rng, 1, false)),
        2 => format!("{{% if {} %}}x{{% endif %}}", expr(rng, 1, true)),
        3 => {
            let n = rng.pick(&["2", "100", "100000"]);
            format!(
                "{{% for i in range({n}) %}}{}{{% endfor %}}",
                stmt(rng, depth - 1)
            )
        }
        4 => {
            let n = rng.pick(&["3", "100", "1000"]);
            let body = expr(rng, 1, false);
            format!("{{% macro m(n) %}}{{% if n > 0 %}}{{{{ m(n - 1) }}}}{{% endif %}}{{{{ {body} }}}}{{% endmacro %}}{{{{ m({n}) }}}}")
        }
        5 if top => {
            let n = rng.pick(&["10", "1000", "100000"]);
            format!("{{% for i in range({n}) %}}{{% set ns.v = [ns.v] %}}{{% endfor %}}")
        }
        6 => format!("{{% set ns.v = {} %}}", expr(rng, 2, false)),
        _ => "{{ ns.v|tojson }}{{ ns.v }}".to_string(),
    }
}

fn template(rng: &mut Rng) -> String {
    let mut source = "{% set ns = namespace(v=[], s='') %}".to_string();
    for _ in 0..1 + rng.below(3) {
        source.push_str(&stmt(rng, 2));
    }
    source
}

fn render(source: &str, fuel: Option<u64>) -> tinkex::Result<String> {
    let template = ChatTemplate {
        origin: "hostile.jinja".into(),
        source: source.into(),
    };
    let messages = [Message::text("user", "hi"), Message::text("assistant", "x")];
    let opts = RenderOptions {
        add_generation_prompt: true,
        now: Some("2025-03-14T09:26:53".parse().unwrap()),
        fuel,
    };
    let config = TokenizerConfig::default();
    let prompt = chat::render(
        Renderer::Hf,
        &config,
        Some(&template),
        &messages,
        &Map::new(),
        &opts,
    )?;
    Ok(prompt.text())
}

/// Renders `source`; a panic or an error other than the user's fails with the template shown.
fn render_or_user_error(source: &str, fuel: Option<u64>) -> Result<usize, String> {
    match catch_unwind(AssertUnwindSafe(|| render(source, fuel))) {
        Err(_) => panic!("panicked on template {source}"),
        Ok(Ok(text)) => {
            assert!(text.len() <= chat::limits::MAX_BYTES, "{source}");
            Ok(text.len())
        }
        Ok(Err(e)) => {
            assert_eq!(e.exit_code(), 2, "{e} on template {source}");
            assert!(e.to_string().contains("hostile.jinja"), "{e}");
            Err(e.to_string())
        }
    }
}

#[test]
fn random_templates_render_or_fail_as_user_errors() {
    let mut rng = Rng(0x5EED_7E3B_1A7E_0013);
    let started = std::time::Instant::now();
    let (mut rendered, mut refused) = (0, 0);
    for case in 0..300 {
        let source = template(&mut rng);
        // Most cases run on a small budget for speed; every 25th gets the full default one.
        let fuel = if case % 25 == 0 { None } else { Some(150_000) };
        match render_or_user_error(&source, fuel) {
            Ok(_) => rendered += 1,
            Err(_) => refused += 1,
        }
    }
    println!(
        "hostile templates: {rendered} rendered, {refused} refused as user errors, in {:?}",
        started.elapsed()
    );
    assert!(rendered > 20 && refused > 20, "{rendered} / {refused}");
}

const DEEP: &str =
    "{% set ns = namespace(v=[]) %}{% for i in range(100000) %}{% set ns.v = [ns.v] %}{% endfor %}";

fn refused(source: &str) -> String {
    render_or_user_error(source, None).expect_err(source)
}

#[test]
fn regressions_fail_with_the_limit_named() {
    let huge_separator = "{{ [1, 2]|tojson(separators=['x' * 70000000, ': ']) }}";
    assert!(refused(huge_separator).ends_with(
        "failed (line 1): invalid operation: tojson's result would be larger than 64 MiB, the limit for a template value"
    ));
    // The size-checked join and format still take their keyword arguments.
    let fine = "{{ [{'a': 1}, {'a': 2}]|join(', ', attribute='a') }} {{ '%s-%d'|format('a', 3) }}";
    assert_eq!(render(fine, None).unwrap(), "1, 2 a-3");
    let joined = "{{ ['x' * 40000000, 'y' * 40000000]|join(', ') }}";
    assert!(refused(joined).contains("the join filter's result would be larger than 64 MiB"));
    let formatted = "{{ '%s%s'|format('x' * 40000000, 'y' * 40000000) }}";
    assert!(refused(formatted).contains("the format filter's result would be larger"));
    let lazy = "{{ ([1] * 100000000)|tojson }}";
    assert!(refused(lazy).contains("larger than 64 MiB"));
    for print in [
        "{{ ns.v|tojson }}",
        "{{ ns.v }}",
        "{{ ns.v|string }}",
        "{{ ns.v|pprint }}",
    ] {
        let err = refused(&format!("{DEEP}{print}"));
        assert!(err.ends_with("is nested deeper than 128 levels"), "{err}");
    }
    assert!(refused("{{ 'x' * 70000000 }}").contains("a printed value would be larger than 64 MiB"));
    let loop_ = "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}";
    assert_eq!(
        refused(loop_),
        "chat template hostile.jinja renders a prompt larger than 64 MiB"
    );
    let doubling = "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
    assert_eq!(
        refused(doubling),
        "chat template hostile.jinja used more than its work budget"
    );
    // Building and dropping the deep value is fine too, even from a small-stack caller.
    let worker = std::thread::Builder::new().stack_size(256 << 10);
    let out = worker
        .spawn(|| render(DEEP, None).map(|t| t.len()))
        .unwrap();
    assert_eq!(out.join().unwrap().unwrap(), 0);
}

#[test]
fn deep_input_is_refused_before_rendering() {
    let mut deep = serde_json::json!("x");
    for _ in 0..200 {
        deep = serde_json::json!([deep]);
    }
    let messages = [Message {
        role: "user".into(),
        content: deep,
        extra: Map::new(),
    }];
    let template = ChatTemplate {
        origin: "t.jinja".into(),
        source: "{{ messages }}".into(),
    };
    let err = chat::render_template(
        &template,
        &Map::new(),
        &messages,
        &Map::new(),
        &RenderOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("deeper than 128 levels"), "{err}");
}

/// Runs `tinkex --print-prompt` with `source` as `--chat-template`; returns the exit code,
/// stderr and the child's peak resident memory in KiB. The peak is polled from VmHWM in
/// /proc/<pid>/status: `wait4`'s `ru_maxrss` would also count this test process, which the
/// child was forked from.
fn print_prompt(source: &str) -> (Option<i32>, String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.jinja");
    std::fs::write(&file, source).unwrap();
    let tok = qwen3_tokenizer();
    let file = file.display().to_string();
    let args = [
        "run",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--chat",
        "--prompt",
        "hi",
        "--print-prompt",
        "--tokenizer",
        &tok,
        "--chat-template",
        &file,
    ];
    let mut child = clean_command(&args, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let hwm = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm_kib(&s));
        peak_kib = peak_kib.max(hwm.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(2));
    };
    (status.code(), reader.join().unwrap(), peak_kib)
}

/// The `VmHWM:` (peak resident set) line of a /proc status file, in KiB.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn the_binary_exits_2_naming_the_template_within_1_gib() {
    let cases = [
        "{{ [1, 2]|tojson(separators=['x' * 70000000, ': ']) }}",
        &format!("{DEEP}{{{{ ns.v|tojson }}}}"),
        "{{ 'x' * 70000000 }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{{ (range(100000)|list * 1000)|list|length }}",
    ];
    for source in cases {
        let (code, stderr, peak_kib) = print_prompt(source);
        println!("hostile template via the binary: exit {code:?}, peak {peak_kib} KiB");
        assert_eq!(code, Some(2), "{source}: {stderr}");
        assert!(peak_kib > 0, "no memory reading for {source}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("tinkex: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains("hostile.jinja"), "{stderr}");
        assert!(peak_kib < 1 << 20, "{source}: peak {peak_kib} KiB");
    }
}

#[test]
fn values_that_contain_themselves_exit_2_not_crash() {
    // minijinja prints and compares these without a depth limit; the render thread's stack
    // runs out and the guard turns that into the template's error.
    let ns = "{% set ns = namespace(a=1) %}";
    let cases = [
        format!("{ns}{{% set ns.s = ns %}}{{{{ ns ~ '' }}}}"),
        format!("{ns}{{% set ns.s = [ns] %}}{{{{ ns ~ '' }}}}"),
        format!("{ns}{{% set y = ns %}}{{% set ns.s = {{'k': y}} %}}{{{{ 'x' ~ y }}}}"),
        "{% set a = namespace() %}{% set a.s = a %}{% set b = namespace() %}{% set b.s = b %}{{ a == b }}".into(),
    ];
    for source in &cases {
        let (code, stderr, _) = print_prompt(source);
        assert_eq!(code, Some(2), "{source}: {stderr}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("tinkex: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("hostile.jinja ran out of stack"),
            "{stderr}"
        );
        assert!(!stderr.contains("overflowed"), "{stderr}");
    }
    // Printing it our way is refused by our own depth limit, and rendering goes on working.
    let printed = format!("{ns}{{% set ns.s = ns %}}{{{{ ns }}}}");
    assert!(refused(&printed).ends_with("is nested deeper than 128 levels"));
    assert_eq!(render("{{ 1 ~ 2 }}", None).unwrap(), "12");
}
