//! Names of files in a model repository that more than one layer reads.
//!
//! The chat layer reads the template from them and the tokenizer layer prefetches them; the
//! two layers may not import each other, so the names live here, below both.

/// The file a repository's chat template lives in on its own.
pub const TEMPLATE_FILE: &str = "chat_template.jinja";
/// The file holding special tokens, and the template in older repositories.
pub const CONFIG_FILE: &str = "tokenizer_config.json";
/// The processor's template file of vision repositories: `{"chat_template": "…"}`.
pub const TEMPLATE_JSON_FILE: &str = "chat_template.json";
