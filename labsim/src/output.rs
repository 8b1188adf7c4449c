//! Output files named on the command line (`--html`, `--trace`,
//! `--history`, `--json`, `--junit`). Each is checked before any work
//! starts: it must be a regular file (or a link, which is replaced) or a new
//! name in an existing directory, never a device, a directory or a pipe. It
//! is written through a temporary file beside it, renamed over it once
//! complete, so a failed write leaves what was there; a failed write is
//! reported and changes the exit code.

use std::io::Write;
use std::path::{Path, PathBuf};

/// An output path that passed the checks.
#[derive(Debug)]
pub struct OutputFile {
    flag: &'static str,
    path: PathBuf,
}

impl OutputFile {
    /// Checks `path`, given with `flag` (for messages), before the work.
    pub fn check(flag: &'static str, path: PathBuf) -> Result<OutputFile, String> {
        let shown = format!("{flag} {}", path.display());
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => {}
            Ok(meta) => {
                let kind = if meta.is_dir() { "a directory" } else { "not a regular file (a device, pipe or socket)" };
                return Err(format!("{shown}: it exists and is {kind}; give a file path"));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if path.as_os_str().to_string_lossy().ends_with('/') {
                    return Err(format!("{shown}: a directory name; give a file path"));
                }
                let parent = parent_of(&path);
                if !parent.is_dir() {
                    return Err(format!("{shown}: there is no directory {}", parent.display()));
                }
            }
            Err(e) => return Err(format!("{shown}: {e}")),
        }
        Ok(OutputFile { flag, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` whole, replacing the file.
    pub fn write(&self, contents: &[u8]) -> Result<(), String> {
        let mut partial = self.create_partial()?;
        partial.file.write_all(contents).and_then(|()| partial.file.flush()).map_err(|e| self.cannot(e))?;
        self.finish(partial)
    }

    /// A temporary file beside the output, to stream into; [`finish`]
    /// renames it over the output.
    ///
    /// [`finish`]: OutputFile::finish
    pub fn create_partial(&self) -> Result<Partial, String> {
        let name = self.path.file_name().map_or("out".into(), |n| n.to_string_lossy().into_owned());
        let path = self.path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        let file = std::fs::File::create(&path).map_err(|e| self.cannot(e))?;
        Ok(Partial { path, file: std::io::BufWriter::new(file) })
    }

    /// Makes a complete temporary file the output.
    pub fn finish(&self, mut partial: Partial) -> Result<(), String> {
        let done = partial.file.flush().and_then(|()| std::fs::rename(&partial.path, &self.path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&partial.path);
            return Err(self.cannot(e));
        }
        Ok(())
    }

    /// Drops a temporary file that will not become the output.
    pub fn abandon(&self, partial: Partial) {
        drop(partial.file);
        let _ = std::fs::remove_file(&partial.path);
    }

    fn cannot(&self, e: std::io::Error) -> String {
        format!("cannot write {} {}: {e}", self.flag, self.path.display())
    }
}

/// A temporary file being written beside an output.
pub struct Partial {
    path: PathBuf,
    pub file: std::io::BufWriter<std::fs::File>,
}

/// The directory a path names a file in ("." for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_missing_directories_are_refused_before_any_work() {
        let dir = std::env::temp_dir();
        let err = OutputFile::check("--html", "/dev/null".into()).unwrap_err();
        assert!(err.contains("not a regular file"), "{err}");
        let err = OutputFile::check("--json", dir.clone()).unwrap_err();
        assert!(err.contains("a directory"), "{err}");
        let err = OutputFile::check("--trace", dir.join("no-such-dir-labsim/x.jsonl")).unwrap_err();
        assert!(err.contains("there is no directory"), "{err}");
        OutputFile::check("--html", dir.join("labsim-output-test-new.html")).expect("a new name is fine");
    }

    #[test]
    fn a_file_is_replaced_whole() {
        let path = std::env::temp_dir().join(format!("labsim-output-test-{}.txt", std::process::id()));
        std::fs::write(&path, "old").unwrap();
        let out = OutputFile::check("--html", path.clone()).expect("a regular file");
        out.write(b"new").expect("written");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        std::fs::remove_file(&path).unwrap();
    }
}
