//! A project of one compose file, `/p/compose.yaml`, loaded from its text: what unit tests
//! outside the loader start from.

use std::path::Path;

use super::{Files, LoadOptions, load};
use crate::compose::model::ComposeProject;

/// `/p/compose.yaml` with the given text, and no other file.
struct Text<'a>(&'a str);

impl Files for Text<'_> {
    fn read(&self, _: &Path) -> std::io::Result<String> {
        Ok(self.0.to_owned())
    }
    fn is_file(&self, path: &Path) -> bool {
        path.ends_with("compose.yaml")
    }
}

/// The project `/p/compose.yaml` holding `text` describes (working in `/p`).
pub(crate) fn project(text: &str) -> ComposeProject {
    let options = LoadOptions {
        files: vec!["/p/compose.yaml".into()],
        working_dir: "/p".into(),
        ..LoadOptions::default()
    };
    load(&options, &Text(text)).expect("compose loads")
}
