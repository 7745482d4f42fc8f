//! `tinkex run`'s flags validated into its [`Config`]: each shared group by the shared rules,
//! then `run`'s own `--image`.

use std::path::PathBuf;

use super::args::Args;
use crate::cli::settings::{Groups, RunConfig};
use crate::error::{Error, Result};

/// `tinkex run`, validated: the settings `run` shares with `score`.
pub type Config = RunConfig;

/// The most `--image` flags one prompt takes (each image may be up to 32 MiB).
pub const MAX_IMAGE_FLAGS: usize = 16;

impl TryFrom<Args> for Config {
    type Error = Error;

    fn try_from(args: Args) -> Result<Config> {
        let images = image_paths(&args)?;
        let mut chat = args.chat();
        // `--image` puts the images into the user message: it implies chat mode.
        chat.chat |= !images.is_empty();
        let mut config = RunConfig::try_from(Groups {
            model: args.model(),
            prompt: args.prompt(),
            tokenizer: args.tokenizer(),
            sampling: args.sampling(),
            batch: args.batch(),
            chat,
            connection: args.connection(),
            pool: args.pool(),
            output: args.output(),
            render: args.render(),
            verbosity: args.verbosity(),
            session: args.session(),
        })?;
        if let Some(options) = config.chat.as_mut() {
            options.images = images;
        }
        Ok(config)
    }
}

/// `--image` files: none in batch mode (lines give their own), none empty, a bounded count.
fn image_paths(args: &Args) -> Result<Vec<PathBuf>> {
    if args.image.is_empty() {
        return Ok(Vec::new());
    }
    if args.input.is_some() {
        return Err(Error::usage(
            "--image is for one prompt: in batch mode each --input line gives its own \"images\"",
        ));
    }
    if args.image.len() > MAX_IMAGE_FLAGS {
        return Err(Error::usage(format!(
            "--image is given {} times; one prompt takes at most {MAX_IMAGE_FLAGS} images",
            args.image.len()
        )));
    }
    if args.image.iter().any(String::is_empty) {
        return Err(Error::usage("--image is empty"));
    }
    Ok(args.image.iter().map(PathBuf::from).collect())
}
