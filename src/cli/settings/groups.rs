//! The flag groups `run` and `score` hand to validation, in one value; a file of its own so
//! the validation modules beside it read it without importing their parent.

use crate::cli::flags::groups::{
    BatchFlags, ChatFlags, ConnectionFlags, ModelFlags, OutputFlags, PoolFlags, PromptFlags,
    RenderFlags, SamplingFlags, SessionFlags, TokenizerFlags, VerbosityFlags,
};

/// The shared flag groups `run` and `score` validate by the same rules (`score` passes its
/// context as the prompt, and the sampling and rendering defaults).
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub model: ModelFlags,
    pub prompt: PromptFlags,
    pub tokenizer: TokenizerFlags,
    pub sampling: SamplingFlags,
    pub batch: BatchFlags,
    pub chat: ChatFlags,
    pub connection: ConnectionFlags,
    pub pool: PoolFlags,
    pub output: OutputFlags,
    pub render: RenderFlags,
    pub verbosity: VerbosityFlags,
    pub session: SessionFlags,
}
