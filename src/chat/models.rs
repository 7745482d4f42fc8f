//! The model table: which format a model is prompted in, its default stop tokens, and its
//! thinking switch. Small and data-driven on purpose; docs/chat.md shows the same table.

use serde_json::Value;

use super::profiles::Profile;
use crate::error::{Error, Result};

/// How a chat prompt is built: a cookbook profile, or the repository's own template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    /// The cookbook's `role_colon` (base models).
    RoleColon,
    /// The cookbook's `llama3` (Llama 3 Instruct).
    Llama3,
    /// The cookbook's `gpt_oss_no_sysprompt` (gpt-oss).
    GptOssNoSysprompt,
    /// The tokenizer repository's chat template, as transformers renders it.
    Hf,
}

/// The names `--renderer` accepts, in the cookbook's spelling.
pub const RENDERER_NAMES: [&str; 4] = ["role_colon", "llama3", "gpt_oss_no_sysprompt", "hf"];

impl Renderer {
    /// Parses a `--renderer` value.
    pub fn from_name(name: &str) -> Result<Renderer> {
        match name {
            "role_colon" => Ok(Renderer::RoleColon),
            "llama3" => Ok(Renderer::Llama3),
            "gpt_oss_no_sysprompt" => Ok(Renderer::GptOssNoSysprompt),
            "hf" => Ok(Renderer::Hf),
            other => Err(Error::Usage(format!(
                "--renderer: unknown renderer {other:?}; expected one of {}",
                RENDERER_NAMES.join(", ")
            ))),
        }
    }

    /// The cookbook's name for this renderer.
    pub fn name(self) -> &'static str {
        match self {
            Renderer::RoleColon => "role_colon",
            Renderer::Llama3 => "llama3",
            Renderer::GptOssNoSysprompt => "gpt_oss_no_sysprompt",
            Renderer::Hf => "hf",
        }
    }

    /// The built-in profile, or `None` for the repository's template.
    pub fn profile(self) -> Option<Profile> {
        match self {
            Renderer::RoleColon => Some(Profile::RoleColon),
            Renderer::Llama3 => Some(Profile::Llama3),
            Renderer::GptOssNoSysprompt => Some(Profile::GptOssNoSysprompt),
            Renderer::Hf => None,
        }
    }
}

/// A default stop: a string the server matches, or a special token sent by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A stop string (`role_colon`'s `"\n\nUser:"`).
    Text(String),
    /// A stop token, looked up in the tokenizer.
    Token {
        /// The token's text, e.g. `<|im_end|>`.
        text: String,
        /// Its id in this tokenizer.
        id: u32,
    },
}

/// One row of the model table.
struct Family {
    /// Matches the model name (org/name, checkpoint suffix removed).
    matches: fn(&str) -> bool,
    renderer: Renderer,
    stop_tokens: &'static [&'static str],
    /// The template variable `--think`/`--no-think` set, if the family has one.
    think_arg: Option<&'static str>,
}

const ROLE_COLON_BASES: [&str; 4] = [
    "meta-llama/Llama-3.1-8B",
    "meta-llama/Llama-3.1-70B",
    "meta-llama/Llama-3.2-1B",
    "meta-llama/Llama-3.2-3B",
];

/// First match wins; an unknown model renders its HF template and stops at its `eos_token`.
const FAMILIES: &[Family] = &[
    Family {
        matches: |m| m.ends_with("-Base") || ROLE_COLON_BASES.contains(&m),
        renderer: Renderer::RoleColon,
        stop_tokens: &[],
        think_arg: None,
    },
    Family {
        matches: |m| {
            m.starts_with("meta-llama/Llama-3") || m.starts_with("meta-llama/Meta-Llama-3")
        },
        renderer: Renderer::Llama3,
        stop_tokens: &["<|eot_id|>"],
        think_arg: None,
    },
    Family {
        matches: |m| m.starts_with("openai/gpt-oss"),
        renderer: Renderer::GptOssNoSysprompt,
        stop_tokens: &["<|return|>", "<|call|>"],
        think_arg: None,
    },
    Family {
        matches: |m| m.starts_with("Qwen/Qwen3") && !m.contains("Instruct"),
        renderer: Renderer::Hf,
        stop_tokens: &["<|im_end|>"],
        think_arg: Some("enable_thinking"),
    },
    Family {
        matches: |m| m.starts_with("Qwen/"),
        renderer: Renderer::Hf,
        stop_tokens: &["<|im_end|>"],
        think_arg: None,
    },
    Family {
        matches: |m| m.starts_with("nvidia/") && m.contains("Nemotron"),
        renderer: Renderer::Hf,
        stop_tokens: &["<|im_end|>"],
        think_arg: Some("enable_thinking"),
    },
    Family {
        matches: |m| m.starts_with("deepseek-ai/DeepSeek-V3.1"),
        renderer: Renderer::Hf,
        stop_tokens: &["<｜end▁of▁sentence｜>"],
        think_arg: Some("thinking"),
    },
    Family {
        matches: |m| m.starts_with("deepseek-ai/"),
        renderer: Renderer::Hf,
        stop_tokens: &["<｜end▁of▁sentence｜>"],
        think_arg: None,
    },
    Family {
        matches: |m| m.starts_with("moonshotai/Kimi"),
        renderer: Renderer::Hf,
        stop_tokens: &["<|im_end|>"],
        think_arg: None,
    },
];

fn family(model: &str) -> Option<&'static Family> {
    let model = model.split(':').next().unwrap_or(model);
    FAMILIES.iter().find(|f| (f.matches)(model))
}

/// The renderer a model uses by default (the cookbook's choice; `Hf` for everything else).
pub fn renderer_for_model(model: &str) -> Renderer {
    family(model).map_or(Renderer::Hf, |f| f.renderer)
}

/// The renderer to use: `--renderer` if given; the HF template when `--chat-template` is
/// given or gpt-oss gets a `reasoning_effort` (the profile has no system block to put it in);
/// else the model's default.
pub fn choose_renderer(
    model: &str,
    explicit: Option<Renderer>,
    has_chat_template: bool,
    template_args: &serde_json::Map<String, Value>,
) -> Renderer {
    if let Some(r) = explicit {
        return r;
    }
    if has_chat_template {
        return Renderer::Hf;
    }
    match renderer_for_model(model) {
        Renderer::GptOssNoSysprompt if template_args.contains_key("reasoning_effort") => {
            Renderer::Hf
        }
        r => r,
    }
}

/// The stops sent when the user gives none: the family's tokens (ids from `token_to_id`),
/// `"\n\nUser:"` for `role_colon`, else the tokenizer's `eos` token.
pub fn default_stops(
    model: &str,
    renderer: Renderer,
    token_to_id: &dyn Fn(&str) -> Option<u32>,
    eos: Option<&str>,
) -> Vec<Stop> {
    if renderer == Renderer::RoleColon {
        return vec![Stop::Text("\n\nUser:".into())];
    }
    let names: Vec<&str> = match family(model) {
        Some(f) if !f.stop_tokens.is_empty() => f.stop_tokens.to_vec(),
        _ => eos.into_iter().collect(),
    };
    let mut stops: Vec<Stop> = names
        .iter()
        .filter_map(|name| match token_to_id(name) {
            Some(id) => Some(Stop::Token {
                text: name.to_string(),
                id,
            }),
            None => {
                log::warn!("stop token {name} is not in the tokenizer; not using it");
                None
            }
        })
        .collect();
    if stops.is_empty() {
        if let Some((eos, id)) = eos.and_then(|e| token_to_id(e).map(|id| (e, id))) {
            stops.push(Stop::Token {
                text: eos.to_string(),
                id,
            });
        }
    }
    stops
}

/// The thinking switch a template reads: `enable_thinking`, else a variable named `thinking`
/// (not a message field such as `message.thinking` or `message['thinking']`).
pub fn template_switch(source: &str) -> Option<&'static str> {
    ["enable_thinking", "thinking"]
        .into_iter()
        .find(|name| reads_variable(source, name))
}

/// Whether `name` occurs in `source` as a whole identifier that is not an attribute or key.
fn reads_variable(source: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    source.match_indices(name).any(|(at, _)| {
        let before = source[..at].chars().next_back();
        let after = source[at + name.len()..].chars().next();
        !before.is_some_and(|c| word(c) || matches!(c, '.' | '\'' | '"'))
            && !after.is_some_and(|c| word(c) || matches!(c, '\'' | '"'))
    })
}

/// The template argument `--think` (`true`) or `--no-think` (`false`) sets for `model`.
pub fn think_arg(model: &str, think: bool) -> Result<(String, Value)> {
    think_arg_in(model, think, None)
}

/// [`think_arg`], and when the family is unknown, the switch the chat template (its source
/// `template`) reads, if any.
pub fn think_arg_in(model: &str, think: bool, template: Option<&str>) -> Result<(String, Value)> {
    let flag = if think { "--think" } else { "--no-think" };
    // A family tinkex knows is trusted (Llama 3 has no switch whatever its template says).
    let switch = match family(model) {
        Some(family) => family.think_arg,
        None => template.and_then(template_switch),
    };
    match switch {
        Some(name) => Ok((name.to_string(), Value::Bool(think))),
        None => Err(Error::Input {
            message: format!("{flag}: {model} has no thinking switch tinkex knows"),
            hint: Some(
                "it works for Qwen3, Qwen3.5, Nemotron and DeepSeek-V3.1; for other templates pass --template-arg NAME=true|false".into(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_names_its_thinking_switch() {
        let qwen_like = "{%- if enable_thinking is defined and enable_thinking is false %}";
        assert_eq!(template_switch(qwen_like), Some("enable_thinking"));
        assert_eq!(
            template_switch("{% if thinking %}<think>{% endif %}"),
            Some("thinking")
        );
        // Message fields are not switches.
        let fields = "{{ message.thinking }}{{ m['thinking'] }}{{ m[\"thinking\"] }}";
        assert_eq!(template_switch(fields), None);
        assert_eq!(template_switch("{{ thinking_budget }}"), None);
    }

    #[test]
    fn an_unknown_family_uses_the_templates_switch() {
        let template = Some("{% if enable_thinking %}x{% endif %}");
        let (name, value) = think_arg_in("acme/new-model", false, template).unwrap();
        assert_eq!(
            (name.as_str(), value),
            ("enable_thinking", Value::Bool(false))
        );
        assert!(think_arg_in("acme/new-model", true, Some("{{ messages }}")).is_err());
    }
}
