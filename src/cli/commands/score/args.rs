//! `tinkex score`'s flags as argh sees them: its own (what to score) and the shared ones.

use std::path::PathBuf;

use argh::FromArgs;

use crate::cli::flags::command_args;

command_args! {
#[derive(FromArgs, Debug, Default)]
/// Score text: log P(continuation | context), multiple choice, or a whole text's per-token logprobs.
#[argh(
    subcommand,
    name = "score",
    example = "How likely is this continuation?\n  $ tinkex score --base-model Qwen/Qwen3-8B --context \"The capital of France is\" --continuation \" Paris\"",
    example = "Which choice does the model prefer?\n  $ tinkex score --base-model Qwen/Qwen3-8B --context \"2 + 2 =\" --choice \" 4\" --choice \" 5\" --choice \" 22\" --json",
    example = "Every token of a text:\n  $ tinkex score --base-model Qwen/Qwen3-8B --prompt-file text.txt --per-token",
    example = "A batch, 16 lines at a time, resumable:\n  $ tinkex score --base-model Qwen/Qwen3-8B --input items.jsonl --output scores.jsonl --parallel 16 --resume",
    note = "The context is encoded as 'tinkex run' encodes a prompt (special tokens such as a BOS added as the tokenizer adds them); each continuation is encoded on its own, without special tokens, and the ids are joined: the boundary is exactly where you put it, so put the space that separates them at the start of the continuation (\" Paris\"). Each continuation is one request that scores only its own tokens (prompt_logprobs_last_n). Plain output is one line per continuation, tab-separated: the total logprob, the token count, the mean logprob per token, the perplexity, and the continuation (JSON-quoted); with --choice each line starts with '*' (the best choice) or '-', then the choice's probability among the choices; --per-token adds a line per token (id, logprob, text). The credential, base URL, logging and exit codes are those of 'tinkex run' (see 'tinkex run --help').",
    error_code(0, "success"),
    error_code(1, "unexpected failure"),
    error_code(2, "usage or input error"),
    error_code(3, "authentication or permission error"),
    error_code(4, "server or network failure after retries"),
    error_code(5, "timeout (--timeout passed)")
)]
pub struct Args {
    /// base model to score with, e.g. Qwen/Qwen3-8B
    shared base_model,

    /// saved weights to score with: a tinker://… path
    shared model_path,

    /// the context text (encoded as 'run' encodes a prompt)
    #[argh(option)]
    pub context: Option<String>,

    /// the continuation to score after the context (encoded alone, no special tokens)
    #[argh(option)]
    pub continuation: Option<String>,

    /// a choice to score after the context (repeatable; the best is marked)
    #[argh(option)]
    pub choice: Vec<String>,

    /// the context as token ids: a JSON file holding [ids] or {"tokens": [ids]}
    #[argh(option)]
    pub context_tokens: Option<PathBuf>,

    /// a continuation as token ids, a JSON file like --context-tokens (repeatable: choices)
    #[argh(option)]
    pub continuation_tokens: Vec<PathBuf>,

    /// score every token of this text ('-' = stdin; text or token ids, as 'run --prompt-file')
    shared prompt_file,

    /// add a line per token (id, logprob, text) after each result
    #[argh(switch)]
    pub per_token: bool,

    /// tokenizer to use: a tokenizer.json file, a directory holding one, or a Hugging Face repo id
    shared tokenizer,

    /// never touch the network for the tokenizer (as HF_HUB_OFFLINE=1)
    shared offline,

    /// do not use or write tinkex's tokenizer cache
    shared no_tokenizer_cache,

    /// chat mode: the context is a user message in the model's chat format, with the generation prompt
    shared chat,

    /// chat mode: a system message to put first (implies --chat)
    shared system,

    /// chat mode: a JSON array of {"role", "content"} messages ('-' = stdin); --context is appended as the last user message
    shared messages,

    /// chat mode: render with this Jinja template instead of the model's
    shared chat_template,

    /// chat mode: a template variable as KEY=JSON (repeatable)
    shared template_arg,

    /// chat mode: turn the model's thinking on
    shared think,

    /// chat mode: turn the model's thinking off
    shared no_think,

    /// chat mode: role_colon, llama3, gpt_oss_no_sysprompt, or hf; default: by model
    shared renderer,

    /// batch mode: a JSONL file ('-' = stdin) of {"id"?, "context" | "messages", "continuation" | "choices"}
    shared input,

    /// batch mode: lines scored at once, 1–1024 (default: 8)
    shared parallel,

    /// batch mode: continue an interrupted --output journal, retrying failed lines
    shared resume,

    /// batch mode: stop at the first failed line
    shared fail_fast,

    /// batch mode: print progress to stderr even when it is not a terminal
    shared progress,

    /// batch mode: deadline for the whole batch, in seconds (default: none)
    shared batch_timeout,

    /// batch mode: score only shard K of N (K is 1-based: 1/N … N/N), the input lines whose number ≡ K (mod N); 'auto' reads a Slurm, AWS Batch, Cloud Run or Kubernetes job array's variables
    shared shard,

    /// name the session after its job (its display name in the console)
    shared session_name,

    /// session metadata as KEY=VALUE (repeatable); 'billing usage --json' shows it per session
    shared meta,

    /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
    shared api_key,

    /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
    shared base_url,

    /// deadline in seconds: the whole run, or each line in batch mode (default: 600)
    shared timeout,

    /// HTTP connections to keep open, 1–1024 (default: 8)
    shared http_pool,

    /// print one JSON document instead of plain text
    shared json,

    /// write the output to this file (atomically; in batch mode, a journal) instead of stdout
    shared output,

    /// print nothing on stderr but errors
    shared quiet,

    /// more detail on stderr: -v requests, -vv debug, -vvv trace
    shared verbose,
}
groups(model, tokenizer, chat, batch, connection, pool, output, verbosity, session)
}
