//! Fuzzes `rinit import supervisord` (`rinit::import::supervisord`: the INI reader,
//! includes, `%(name)s` expansion, command and environment splitting, the mapping) on
//! one file. Must hold: no panic and no hang on any bytes; what it prints is read by
//! rinit's configuration loader without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io;
use std::path::{Path, PathBuf};

/// The input as the only file, `/etc/s/fuzz.conf`: its `[include]`s find it again.
struct One<'a>(&'a [u8]);

impl rinit::import::sources::Files for One<'_> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match path == Path::new("/etc/s/fuzz.conf") {
            true => Ok(self.0.to_vec()),
            false => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
    fn list(&self, _dir: &Path) -> io::Result<Vec<String>> {
        Ok(vec!["fuzz.conf".into()])
    }
}

fuzz_target!(|data: &[u8]| {
    let environ = |name: &str| (name.len() < 4).then(|| "1".to_string());
    let files = [PathBuf::from("/etc/s/fuzz.conf")];
    let converted = rinit::import::supervisord(&files, &One(data), Path::new("/"), &environ);
    if let Ok(toml) = converted {
        let _ = rinit::config::load_str("imported.toml", &toml);
    }
});
