//! Tokenizer layer placeholder.
