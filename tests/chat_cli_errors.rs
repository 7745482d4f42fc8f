//! Chat mode's errors end to end: every chat flag error (exit 2, usage hint), bad messages,
//! a template's own refusal, a family without a thinking switch, a tokenizer without a template.

use crate::support::{qwen3_tokenizer, small_tokenizer, tinkex, usage_error};

#[test]
fn chat_flag_errors_are_usage_errors() {
    let base = ["run", "--base-model", "Qwen/Qwen3-8B", "--prompt", "hi"];
    let cases: &[(&[&str], &str)] = &[
        (&["--template-arg", "a=1"], "--template-arg is for chat mode: add --chat (or --system/--messages)"),
        (&["--no-think"], "--no-think is for chat mode: add --chat (or --system/--messages)"),
        (&["--renderer", "hf"], "--renderer is for chat mode: add --chat (or --system/--messages)"),
        (&["--chat-template", "t.jinja"], "--chat-template is for chat mode: add --chat (or --system/--messages)"),
        (&["--chat", "--think", "--no-think"], "give either --think or --no-think, not both"),
        (&["--chat", "--template-arg", "enable_thinking"], "--template-arg takes KEY=JSON (e.g. enable_thinking=false), got 'enable_thinking'"),
        (&["--chat", "--template-arg", "effort=high"], "--template-arg effort: 'high' is not valid JSON (expected value at line 1 column 1); text needs quotes: effort='\"high\"'"),
        (&["--chat", "--template-arg", "1x=1"], "--template-arg: '1x' is not a template variable name"),
        (&["--chat", "--template-arg", "messages=[]"], "--template-arg: messages come from --messages, not a template argument"),
        (&["--chat", "--template-arg", "a=1", "--template-arg", "a=2"], "--template-arg a is given twice"),
        (&["--chat", "--renderer", "chatml"], "--renderer: unknown renderer \"chatml\"; expected one of role_colon, llama3, gpt_oss_no_sysprompt, hf"),
        (&["--chat", "--messages", ""], "--messages is empty"),
        (&["--chat", "--tokens-only"], "--tokens-only sends token ids as they are: it cannot be used with chat mode"),
    ];
    for (extra, message) in cases {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        usage_error(&args, message);
    }
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--messages",
            "-",
            "--prompt-file",
            "-",
        ],
        "--messages - and --prompt-file - cannot both read stdin",
    );
    usage_error(
        &["run", "--base-model", "m", "--messages", "m.json", "--input", "in.jsonl"],
        "--messages is one conversation: in batch mode each --input line gives its own \"messages\"",
    );
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--no-think",
            "--input",
            "in.jsonl",
        ],
        "--no-think is for chat mode: add --chat (or --system)",
    );
    usage_error(
        &["run", "--model-path", "tinker://r/sampler_weights/x", "--prompt", "hi", "--print-prompt"],
        "--print-prompt with --model-path needs --base-model or --tokenizer (it asks no server for the base model)",
    );
    usage_error(
        &[
            "run",
            "--base-model",
            "m",
            "--input",
            "in.jsonl",
            "--print-prompt",
        ],
        "--print-prompt shows one prompt: it cannot be used with --input",
    );
    usage_error(&["run", "--base-model", "m", "--chat"], "no prompt given: pass --prompt TEXT or --prompt-file PATH ('-' for stdin), or --input FILE for a batch");
}

fn input_error(args: &[&str], stdin: Option<&[u8]>, message: &str, hint: &str) {
    let mut run = tinkex(args);
    if let Some(bytes) = stdin {
        run = run.stdin(bytes);
    }
    let out = run.run();
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("tinkex: error: {message}\ntinkex: hint: {hint}\n")
    );
}

#[test]
fn bad_messages_and_templates_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let tok = qwen3_tokenizer();
    let messages_hint =
        "--messages takes a JSON array such as [{\"role\": \"user\", \"content\": \"Hi\"}]";
    let base = [
        "run",
        "--base-model",
        "Qwen/Qwen3-8B",
        "--print-prompt",
        "--tokenizer",
        &tok,
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let args = with(&["--messages", "-"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    input_error(
        &args,
        Some(br#"[{"role": "user", "content": "hi"}, {"role": "bot", "content": "x"}]"#),
        "--messages - (stdin): message 1 has role \"bot\"; expected one of system, user, assistant, tool",
        messages_hint,
    );
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"role": "user"}]"#).unwrap();
    let bad = bad.display().to_string();
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--messages", &bad]);
    input_error(
        &args,
        None,
        &format!("--messages {bad}: message 0 has no \"content\""),
        messages_hint,
    );

    let template = dir.path().join("strict.jinja");
    std::fs::write(
        &template,
        "{{ raise_exception('Conversation must start with a system message') }}",
    )
    .unwrap();
    let template = template.display().to_string();
    let mut args: Vec<&str> = base.to_vec();
    args.extend(["--chat", "--prompt", "hi", "--chat-template", &template]);
    input_error(
        &args,
        None,
        &format!("chat template {template} refused the conversation: Conversation must start with a system message"),
        "the template's own rule; change the messages or pass --chat-template FILE",
    );
    let mut args: Vec<&str> = vec![
        "run",
        "--base-model",
        "meta-llama/Llama-3.1-8B-Instruct",
        "--print-prompt",
        "--tokenizer",
        &tok,
    ];
    args.extend(["--chat", "--prompt", "hi", "--no-think"]);
    input_error(
        &args,
        None,
        "--no-think: meta-llama/Llama-3.1-8B-Instruct has no thinking switch tinkex knows",
        "it works for Qwen3, Qwen3.5, Nemotron and DeepSeek-V3.1; for other templates pass --template-arg NAME=true|false",
    );
}

#[test]
fn a_tokenizer_without_a_template_needs_one_given() {
    let small = small_tokenizer();
    let args = [
        "run",
        "--base-model",
        "acme/chat-model",
        "--chat",
        "--prompt",
        "hi",
        "--print-prompt",
        "--tokenizer",
        &small,
    ];
    input_error(
        &args,
        None,
        "the tokenizer has no chat template (no chat_template.jinja, and no chat_template in tokenizer_config.json)",
        "pass --chat-template FILE, or sample a raw prompt without --chat",
    );
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.jinja");
    std::fs::write(
        &template,
        "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}> ",
    )
    .unwrap();
    let template = template.display().to_string();
    let mut args = args.to_vec();
    args.extend(["--chat-template", &template]);
    let out = tinkex(&args).run();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""), "{out:?}");
    assert!(out.stdout.starts_with("[user] hi\n> \n"), "{}", out.stdout);
}
