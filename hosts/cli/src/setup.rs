//! What every command needs before the core can work: the clock, the templates and the
//! configuration, read from the places the Lambda reads them (environment variables, a routes
//! file, a folder standing in for the CodeCommit repository).
//!
//! This is IO only. Every command finds the routes file and the lookups file the same way
//! ([`beside_templates`]) and hands the routes file's text and the environment to
//! [`Config::resolve`], which alone decides what they mean (see the precedence in
//! `mailroom_core::config`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mailroom_core::config::{ROUTES_FILE, vars};
use mailroom_core::render::is_template_path;
use mailroom_core::{Config, ConfigError, SqsEvent, TemplateSet, Timestamp};

use crate::error::InputError;

/// The configuration and where it came from (shown in reports and errors).
pub struct Resolved {
    /// The validated configuration.
    pub config: Config,
    /// A short description of the source, e.g. `examples/templates/routes.json`.
    pub origin: String,
}

/// The folder with the shipped examples: `./examples` when run from the repository root,
/// otherwise the one of the source tree this binary was built from (so `cargo run` works from
/// any folder of the clone).
#[must_use]
pub fn examples_dir() -> PathBuf {
    let local = PathBuf::from("examples");
    if local.join("templates").join(ROUTES_FILE).is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The templates folder: the one given, else the shipped examples.
#[must_use]
pub fn templates_dir(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| examples_dir().join("templates"), Path::to_path_buf)
}

pub use mailroom_core::lookup::LOOKUPS_FILE;

/// Where a file that configures the templates is, the same rule for every command and every
/// such file: the one given on the command line, else `name` in the templates folder when there
/// is one, else none (the Lambda reads its routes file from beside the templates the same way).
#[must_use]
pub fn beside_templates(given: Option<&Path>, templates: &Path, name: &str) -> Option<PathBuf> {
    match given {
        Some(file) => Some(file.to_path_buf()),
        None => Some(templates.join(name)).filter(|file| file.is_file()),
    }
}

/// Where the routes file is: `--routes FILE`, else [`ROUTES_FILE`] beside the templates.
#[must_use]
pub fn routes_path(given: Option<&Path>, templates: &Path) -> Option<PathBuf> {
    beside_templates(given, templates, ROUTES_FILE)
}

/// Where the lookup fixtures are: `--lookups FILE`, else [`LOOKUPS_FILE`] beside the templates.
#[must_use]
pub fn lookups_path(given: Option<&Path>, templates: &Path) -> Option<PathBuf> {
    beside_templates(given, templates, LOOKUPS_FILE)
}

/// A variable of this process's environment.
#[must_use]
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The configuration: the routes file found by [`routes_path`] (read here) and the environment,
/// resolved by the core. Each variable the core reports as set but unused gets one warning line
/// on `warn`.
///
/// `Ok(None)` when nothing configures routes: no routes file, and the core reports the default
/// route's template variable missing. Commands decide what that means (`process` stops, `render`
/// and `check` render templates on their own).
pub fn resolve_config(
    routes: Option<&Path>,
    templates: &Path,
    warn: &mut dyn Write,
) -> Result<Option<Resolved>, InputError> {
    let file = routes_path(routes, templates);
    let text = file.as_deref().map(read_text).transpose()?;
    let origin = file.as_ref().map_or_else(
        || "the environment".to_owned(),
        |file| file.display().to_string(),
    );
    match Config::resolve(text.as_deref(), env_lookup) {
        Ok(config) => {
            for name in config.ignored_variables() {
                // A warning that cannot be written is no reason to stop.
                let _ = writeln!(
                    warn,
                    "mailroom: warning: {name} is set but not used: {origin} takes precedence"
                );
            }
            Ok(Some(Resolved { config, origin }))
        }
        Err(ConfigError::Missing { name, .. }) if file.is_none() && name == vars::TEMPLATE => {
            Ok(None)
        }
        Err(source) => Err(InputError::Config {
            origin: match &file {
                Some(_) => format!("{origin} and the environment"),
                None => origin,
            },
            source,
        }),
    }
}

/// The configuration of a command that cannot work without routes (`process`, `ledger show
/// --event`): as [`resolve_config`], and nothing configuring routes is an input error that says
/// where the configuration goes.
pub fn require_config(
    routes: Option<&Path>,
    templates: &Path,
    warn: &mut dyn Write,
) -> Result<Resolved, InputError> {
    resolve_config(routes, templates, warn)?.ok_or_else(|| InputError::NoConfig {
        templates: templates.to_path_buf(),
    })
}

/// `--now`: RFC 3339 or Unix milliseconds; the system clock when absent.
pub fn clock(now: Option<&str>) -> Result<Timestamp, InputError> {
    let Some(value) = now else {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
            });
        return Ok(Timestamp::from_millis(millis));
    };
    let value = value.trim();
    value
        .parse::<i64>()
        .ok()
        .map(Timestamp::from_millis)
        .or_else(|| Timestamp::parse_rfc3339(value))
        .ok_or_else(|| InputError::Time {
            value: value.to_owned(),
        })
}

/// Every template under `dir`, keyed by its path relative to `dir` with `/` separators, as the
/// Lambda keys files of the repository.
///
/// Which files are templates is the core's one rule ([`is_template_path`]): the routes file,
/// sample events, READMEs and images beside the templates are neither read nor compiled.
/// Hidden folders (`.git`) are not walked, since no path under them is a template.
pub fn load_templates(dir: &Path) -> Result<TemplateSet, InputError> {
    let unreadable = |path: &Path, source| InputError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut set = TemplateSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| unreadable(&current, e))?;
        for entry in entries {
            let path = entry.map_err(|e| unreadable(&current, e))?.path();
            let key = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if path.is_dir() {
                if !key.split('/').any(|part| part.starts_with('.')) {
                    pending.push(path);
                }
                continue;
            }
            if !is_template_path(&key) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
            let source =
                String::from_utf8(bytes).map_err(|_| InputError::NotText { path: path.clone() })?;
            set.insert(key, source);
        }
    }
    Ok(set)
}

/// A file named on the command line, as text.
pub fn read_text(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|source| InputError::Unreadable {
        path: path.to_path_buf(),
        source,
    })
}

/// A Lambda SQS event file.
pub fn read_event(path: &Path) -> Result<SqsEvent, InputError> {
    let text = read_text(path)?;
    SqsEvent::from_json(&text).map_err(|source| InputError::Event {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_takes_rfc3339_or_unix_millis() {
        assert_eq!(
            clock(Some("1795428000000")).unwrap().as_millis(),
            1_795_428_000_000
        );
        assert_eq!(
            clock(Some("2026-11-23T10:00:00Z")).unwrap().as_millis(),
            1_795_428_000_000
        );
        assert!(matches!(
            clock(Some("tomorrow")),
            Err(InputError::Time { .. })
        ));
        assert!(clock(None).unwrap().as_millis() > 1_700_000_000_000);
    }

    #[test]
    fn only_the_cores_template_paths_are_loaded_and_nothing_else_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, bytes) in [
            ("orders/confirmation.html", &b"<p>{{ name }}</p>"[..]),
            ("orders/confirmation.txt", b"{{ name }}"),
            ("README.md", b"# Templates"),
            ("routes.json", b"{}"),
            // Not UTF-8: reading it would fail the load.
            ("logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe"),
            (".git/HEAD.html", b"\xff"),
            ("drafts/.wip.html", b"\xff"),
        ] {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, bytes).unwrap();
        }
        let set = load_templates(root).unwrap();
        let paths: Vec<&str> = set.iter().map(|(path, _)| path).collect();
        assert_eq!(
            paths,
            ["orders/confirmation.html", "orders/confirmation.txt"]
        );
    }

    #[test]
    fn the_routes_file_is_the_one_given_else_the_one_beside_the_templates() {
        let dir = tempfile::tempdir().unwrap();
        let given = Path::new("elsewhere/routes.json");
        assert_eq!(routes_path(Some(given), dir.path()).as_deref(), Some(given));
        assert_eq!(routes_path(None, dir.path()), None);
        std::fs::write(dir.path().join(ROUTES_FILE), "{}").unwrap();
        assert_eq!(
            routes_path(None, dir.path()),
            Some(dir.path().join(ROUTES_FILE))
        );
        assert_eq!(routes_path(Some(given), dir.path()).as_deref(), Some(given));
    }

    #[test]
    fn the_lookups_file_is_found_by_the_same_rule() {
        let dir = tempfile::tempdir().unwrap();
        let given = Path::new("elsewhere/fixtures.json");
        assert_eq!(lookups_path(None, dir.path()), None);
        // A routes file is not a lookups file.
        std::fs::write(dir.path().join(ROUTES_FILE), "{}").unwrap();
        assert_eq!(lookups_path(None, dir.path()), None);
        std::fs::write(dir.path().join(LOOKUPS_FILE), "{}").unwrap();
        assert_eq!(
            lookups_path(None, dir.path()),
            Some(dir.path().join(LOOKUPS_FILE))
        );
        assert_eq!(
            lookups_path(Some(given), dir.path()).as_deref(),
            Some(given)
        );
    }
}
