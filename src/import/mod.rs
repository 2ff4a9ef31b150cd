//! `rinit import supervisord FILE…`: a supervisord configuration (its `[include]`s too)
//! printed as rinit TOML, each line either mapped or repeated as a comment with the
//! reason. The modules: [`ini`] reads supervisord's INI dialect, [`sources`] the files
//! and includes, [`expand`] its `%(name)s` values, [`words`] its command and environment
//! syntax, [`values`] its scalars, [`supervisord`] the mapping, [`reasons`] why a line has
//! no equivalent, [`toml_out`] the writing. All but `sources`' disk access are pure and
//! unit-tested; `tests/import.rs` converts real configurations.

pub mod expand;
pub mod ini;
pub mod reasons;
pub mod sources;
pub mod supervisord;
pub mod toml_out;
pub mod values;
pub mod words;

use std::path::{Path, PathBuf};

/// Read `paths` (and their includes) and convert them. `cwd` makes `%(here)s` absolute;
/// `environ` answers `%(ENV_X)s` where rinit needs the value now (`numprocs`, `user`).
pub fn supervisord(
    paths: &[PathBuf],
    files: &dyn sources::Files,
    cwd: &Path,
    environ: &supervisord::Environ,
) -> Result<String, String> {
    let sources = sources::load(paths, files, cwd)?;
    supervisord::convert(&sources, cwd, environ)
}
