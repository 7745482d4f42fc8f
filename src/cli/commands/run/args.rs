//! `tinkex run`'s flags as argh sees them: every one a shared flag, in `run --help`'s order.

use argh::FromArgs;

use crate::cli::flags::command_args;

command_args! {
#[derive(FromArgs, Debug, Default)]
/// Sample from a base model or saved weights and print the result.
#[argh(
    subcommand,
    name = "run",
    example = "Sample from a base model:\n  $ tinkex run --base-model Qwen/Qwen3-8B --prompt \"Hello\" --max-tokens 64",
    example = "Three samples as JSON, written atomically to a file:\n  $ tinkex run --base-model Qwen/Qwen3-8B --prompt-file prompt.txt --num-samples 3 --json --output out.json",
    example = "A batch of prompts, 32 at a time, resumable after an interruption:\n  $ tinkex run --base-model Qwen/Qwen3-8B --input prompts.jsonl --output results.jsonl --parallel 32 --resume",
    example = "Saved weights, a token-id prompt from stdin, no tokenizer:\n  $ echo '[9707, 11]' | tinkex run --model-path tinker://RUN/sampler_weights/final --base-model Qwen/Qwen3-8B --prompt-file - --tokens-only",
    example = "Chat with an instruct model in its own format, thinking off:\n  $ tinkex run --base-model Qwen/Qwen3-8B --chat --no-think --system \"Be brief.\" --prompt \"Write a haiku\"",
    example = "Show the chat prompt and its token count, without sampling (no API key needed):\n  $ tinkex run --base-model Qwen/Qwen3-8B --messages chat.json --print-prompt",
    note = "The credential comes from --api-key, else TINKER_API_KEY, else the output of TINKER_CREDENTIAL_CMD (a shell command, run for each token exchange), else the default key 'tinker auth login' stored in ~/.tinker/credentials.json. The base URL from --base-url, else TINKER_BASE_URL. Progress and errors go to stderr; stdout holds only the samples. RUST_LOG overrides -q/-v. TINKEX_RETRY_SCALE multiplies every retry back-off (0 = retry at once).",
    error_code(0, "success"),
    error_code(1, "unexpected failure"),
    error_code(
        2,
        "usage or input error (bad flag, prompt, tokenizer; request refused as invalid)"
    ),
    error_code(3, "authentication or permission error"),
    error_code(4, "server or network failure after retries"),
    error_code(5, "timeout (--timeout passed)")
)]
pub struct Args {
    /// base model to sample from, e.g. Qwen/Qwen3-8B
    shared base_model,

    /// saved weights to sample from: a tinker://… path
    shared model_path,

    /// the prompt text
    shared prompt,

    /// read the prompt from a file ('-' = stdin): text, a JSON array of token ids, or {"tokens": [...]}
    shared prompt_file,

    /// tokenizer to use: a tokenizer.json file, a directory holding one, or a Hugging Face repo id
    shared tokenizer,

    /// never touch the network for the tokenizer (as HF_HUB_OFFLINE=1)
    shared offline,

    /// do not use or write tinkex's tokenizer cache (~/.cache/tinkex/tokenizers)
    shared no_tokenizer_cache,

    /// most tokens per sample, at least 1 (default: 128)
    shared max_tokens,

    /// sampling temperature, a finite number ≥ 0 (default: 1.0)
    shared temperature,

    /// sample among the K likeliest tokens: -1 = off (default), or ≥ 1
    shared top_k,

    /// nucleus sampling: 0 < P ≤ 1 (default: 1.0)
    shared top_p,

    /// how many samples to draw, at least 1 (default: 1)
    shared num_samples,

    /// random seed, for reproducible samples
    shared seed,

    /// stop when this string is generated (repeatable)
    shared stop,

    /// stop when this token id is generated (repeatable; not with --stop)
    shared stop_token,

    /// also return the prompt's per-token logprobs
    shared prompt_logprobs,

    /// also return the K most likely tokens at each prompt position
    shared topk_prompt_logprobs,

    /// also return the K most likely tokens at each sampled position (JSON "topk_logprobs"; with --logprobs, "alt" lines)
    shared topk_logprobs,

    /// batch mode: a JSONL file of prompts ('-' = stdin), one JSON object per line
    shared input,

    /// batch mode: prompts sampled at once, 1 to 1024 (default: 8)
    shared parallel,

    /// batch mode: continue an interrupted --output journal, retrying failed lines
    shared resume,

    /// batch mode: sample only shard K of N (K is 1-based: 1/N … N/N), the input lines whose number ≡ K (mod N); 'auto' reads a Slurm, AWS Batch, Cloud Run or Kubernetes job array's variables
    shared shard,

    /// batch mode: stop at the first failed prompt
    shared fail_fast,

    /// batch mode: print progress to stderr even when it is not a terminal
    shared progress,

    /// batch mode: deadline for the whole batch, in seconds (default: none)
    shared batch_timeout,

    /// chat mode: send the prompt as a user message in the model's chat format
    shared chat,

    /// chat mode: a system message to put first (implies --chat)
    shared system,

    /// chat mode: a JSON array of {"role", "content"} messages ('-' = stdin); a prompt is appended as the last user message
    shared messages,

    /// chat mode: a PNG or JPEG image to put before the prompt in the user message (repeatable; implies --chat; the model must take images)
    #[argh(option)]
    pub image: Vec<String>,

    /// chat mode: render with this Jinja template instead of the model's
    shared chat_template,

    /// chat mode: a template variable as KEY=JSON, e.g. enable_thinking=false (repeatable)
    shared template_arg,

    /// chat mode: turn the model's thinking on (Qwen3, Qwen3.5, Nemotron, DeepSeek-V3.1)
    shared think,

    /// chat mode: turn the model's thinking off (Qwen3, Qwen3.5, Nemotron, DeepSeek-V3.1)
    shared no_think,

    /// chat mode: role_colon, llama3, gpt_oss_no_sysprompt, or hf (the model's own template); default: by model
    shared renderer,

    /// print the prompt as it would be sent (text, then its token count) and exit; needs no API key
    shared print_prompt,

    /// name the session after its job (its display name in the console)
    shared session_name,

    /// session metadata as KEY=VALUE (repeatable); 'billing usage --json' shows it per session
    shared meta,

    /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
    shared api_key,

    /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
    shared base_url,

    /// deadline for the whole run, in seconds (default: 600)
    shared timeout,

    /// HTTP connections to keep open, 1 to 1024 (default: 8)
    shared http_pool,

    /// print one JSON document instead of plain text (batch output is always JSON lines: there --json is accepted and changes nothing)
    shared json,

    /// write the output to this file (atomically) instead of stdout
    shared output,

    /// print per-token logprobs after each sample's text
    shared logprobs,

    /// no tokenizer: the prompt must be token ids; print sampled ids, not text
    shared tokens_only,

    /// print nothing on stderr but errors
    shared quiet,

    /// more detail on stderr: -v requests, -vv debug, -vvv trace
    shared verbose,
}
groups(model, prompt, tokenizer, sampling, batch, chat, connection, pool, output, render, verbosity, session)
}
