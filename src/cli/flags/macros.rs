//! `command_args!`: an argh struct with shared flags appended by name (argh cannot flatten).
//!
//! A command writes `/// its own help line` then `shared NAME,` where a shared flag goes; the
//! flag's type and argh kind are declared once here, so every command parses it the same
//! way. The help line stays the command's own (argh prints the struct's doc comments), and
//! the field order is the command's (argh prints flags in that order). After the struct,
//! `groups(model, chat, …)` implements each named group's accessor (see `super::groups`),
//! which is what the shared validation reads.

/// Declares a command's argh struct with shared flags and group accessors; see the module doc.
macro_rules! command_args {
    (
        $(#[$($attr:tt)*])*
        pub struct $name:ident { $($body:tt)* }
        groups($($group:ident),* $(,)?)
    ) => {
        $crate::cli::flags::macros::command_args!(@munch [[$(#[$($attr)*])*] $name [$($group)*]] [] $($body)*);
    };
    // The end: the struct, then one accessor per group.
    (@munch [[$($attr:tt)*] $name:ident [$($group:ident)*]] [$($acc:tt)*]) => {
        $($attr)*
        pub struct $name { $($acc)* }
        $($crate::cli::flags::macros::command_args!(@group $name $group);)*
    };
    // The read commands' connection and verbosity flags, with the help lines they all share.
    (@munch $h:tt [$($a:tt)*] shared read_connection, $($r:tt)*) => {
        $crate::cli::flags::macros::command_args!(@munch $h [$($a)*]
            /// the Tinker API key (default: TINKER_API_KEY); prefer the variable, flags show in `ps`
            shared api_key,
            /// the Tinker API base URL (default: TINKER_BASE_URL, else the production service)
            shared base_url,
            /// deadline for the whole command, in seconds (default: 600)
            shared timeout,
            /// print nothing on stderr but errors
            shared quiet,
            /// more detail on stderr: -v requests, -vv debug, -vvv trace
            shared verbose,
            $($r)*);
    };
    // A shared flag: its doc comments, then its one declaration (one arm per flag).
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared base_model, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub base_model: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared model_path, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub model_path: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared prompt, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub prompt: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared prompt_file, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub prompt_file: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared tokenizer, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub tokenizer: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared offline, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub offline: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared no_tokenizer_cache, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub no_tokenizer_cache: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared max_tokens, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub max_tokens: Option<$crate::cli::flags::values::MaxTokens>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared temperature, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub temperature: Option<$crate::cli::flags::values::Temperature>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared top_k, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub top_k: Option<$crate::cli::flags::values::TopK>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared top_p, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub top_p: Option<$crate::cli::flags::values::TopP>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared num_samples, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub num_samples: Option<$crate::cli::flags::values::Positive>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared seed, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub seed: Option<i64>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared stop, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub stop: Vec<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared stop_token, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub stop_token: Vec<$crate::cli::flags::values::TokenId>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared prompt_logprobs, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub prompt_logprobs: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared topk_prompt_logprobs, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub topk_prompt_logprobs: Option<u32>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared topk_logprobs, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub topk_logprobs: Option<$crate::cli::flags::values::Positive>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared input, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub input: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared parallel, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub parallel: Option<$crate::cli::flags::values::Concurrency>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared resume, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub resume: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared shard, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub shard: Option<$crate::cli::flags::values::ShardSpec>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared fail_fast, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub fail_fast: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared progress, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub progress: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared batch_timeout, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub batch_timeout: Option<$crate::cli::flags::values::TimeoutSecs>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared chat, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub chat: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared system, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub system: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared messages, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub messages: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared chat_template, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub chat_template: Option<::std::path::PathBuf>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared template_arg, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub template_arg: Vec<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared think, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub think: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared no_think, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub no_think: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared renderer, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub renderer: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared api_key, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub api_key: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared base_url, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub base_url: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared timeout, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub timeout: Option<$crate::cli::flags::values::TimeoutSecs>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared http_pool, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub http_pool: Option<$crate::cli::flags::values::Concurrency>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared json, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub json: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared output, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub output: Option<::std::path::PathBuf>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared print_prompt, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub print_prompt: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared logprobs, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub logprobs: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared tokens_only, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch)] pub tokens_only: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared quiet, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch, short = 'q')] pub quiet: bool,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared verbose, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(switch, short = 'v')] pub verbose: u8,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared session_name, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub session_name: Option<String>,] $($r)*); };
    (@munch $h:tt [$($a:tt)*] $(#[$($d:tt)*])* shared meta, $($r:tt)*) => { $crate::cli::flags::macros::command_args!(@munch $h [$($a)* $(#[$($d)*])* #[argh(option)] pub meta: Vec<String>,] $($r)*); };
    // A command's own field: its attributes and name, then its type token by token.
    (@munch $head:tt [$($acc:tt)*] $(#[$($doc:tt)*])* pub $field:ident : $($rest:tt)*) => {
        $crate::cli::flags::macros::command_args!(@munch $head [$($acc)* $(#[$($doc)*])* pub $field :] $($rest)*);
    };
    (@munch $head:tt [$($acc:tt)*] $token:tt $($rest:tt)*) => {
        $crate::cli::flags::macros::command_args!(@munch $head [$($acc)* $token] $($rest)*);
    };
    // A group's accessor: its flags copied into the group's struct.
    (@group $n:ident session) => { $crate::cli::flags::macros::command_args!(@access $n session SessionFlags [session_name meta]); };
    (@group $n:ident model) => { $crate::cli::flags::macros::command_args!(@access $n model ModelFlags [base_model model_path]); };
    (@group $n:ident prompt) => { $crate::cli::flags::macros::command_args!(@access $n prompt PromptFlags [prompt prompt_file]); };
    (@group $n:ident tokenizer) => { $crate::cli::flags::macros::command_args!(@access $n tokenizer TokenizerFlags [tokenizer offline no_tokenizer_cache]); };
    (@group $n:ident sampling) => { $crate::cli::flags::macros::command_args!(@access $n sampling SamplingFlags [max_tokens temperature top_k top_p num_samples seed stop stop_token prompt_logprobs topk_prompt_logprobs topk_logprobs]); };
    (@group $n:ident batch) => { $crate::cli::flags::macros::command_args!(@access $n batch BatchFlags [input parallel resume shard fail_fast progress batch_timeout]); };
    (@group $n:ident chat) => { $crate::cli::flags::macros::command_args!(@access $n chat ChatFlags [chat system messages chat_template template_arg think no_think renderer]); };
    (@group $n:ident connection) => { $crate::cli::flags::macros::command_args!(@access $n connection ConnectionFlags [api_key base_url timeout]); };
    (@group $n:ident pool) => { $crate::cli::flags::macros::command_args!(@access $n pool PoolFlags [http_pool]); };
    (@group $n:ident output) => { $crate::cli::flags::macros::command_args!(@access $n output OutputFlags [json output]); };
    (@group $n:ident render) => { $crate::cli::flags::macros::command_args!(@access $n render RenderFlags [print_prompt logprobs tokens_only]); };
    (@group $n:ident verbosity) => { $crate::cli::flags::macros::command_args!(@access $n verbosity VerbosityFlags [quiet verbose]); };
    (@access $n:ident $fn:ident $ty:ident [$($f:ident)*]) => {
        impl $n {
            #[doc = concat!("The ", stringify!($fn), " flags, as one group.")]
            pub fn $fn(&self) -> $crate::cli::flags::groups::$ty {
                $crate::cli::flags::groups::$ty { $($f: ::std::clone::Clone::clone(&self.$f),)* }
            }
        }
    };
}

/// Makes `command_args!` usable by path from the command folders.
pub(crate) use command_args;
