//! What every command needs before the core can work: the clock, the templates and the
//! configuration, read from the places the Lambda reads them (environment variables, a routes
//! file, a folder standing in for the CodeCommit repository).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use mailroom_core::config::vars;
use mailroom_core::{Config, SqsEvent, TemplateSet, Timestamp};

use crate::error::InputError;

/// The configuration and where it came from (shown in reports and errors).
pub struct Resolved {
    /// The validated configuration.
    pub config: Config,
    /// A short description of the source, e.g. `examples/routes.json`.
    pub origin: String,
}

/// The folder with the shipped examples: `./examples` when run from the repository root,
/// otherwise the one of the source tree this binary was built from (so `cargo run` works from
/// any folder of the clone).
#[must_use]
pub fn examples_dir() -> PathBuf {
    let local = PathBuf::from("examples");
    if local.join("routes.json").is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The templates folder: the one given, else the shipped examples.
#[must_use]
pub fn templates_dir(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| examples_dir().join("templates"), Path::to_path_buf)
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
/// Hidden entries (`.git`), JSON files (routes, sample data) and Markdown (READMEs) are not
/// templates and are left out, so a template repository can hold them beside the templates.
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
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if !is_template_file(&name) {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
            let source =
                String::from_utf8(bytes).map_err(|_| InputError::NotText { path: path.clone() })?;
            let key = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            set.insert(key, source);
        }
    }
    Ok(set)
}

fn is_template_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower.ends_with(".json") || lower.ends_with(".md"))
}

/// Whether the environment configures the Lambda's single default route.
fn environment_configures() -> bool {
    [vars::TEMPLATE, vars::SUBJECT]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The configuration, first found wins: `--routes FILE`; the Lambda's environment variables;
/// `routes.json` in the templates folder; the shipped example routes when the templates are the
/// shipped ones. `None` when nothing configures routes.
pub fn resolve_config(
    routes: Option<&Path>,
    templates: &Path,
    default_templates: bool,
) -> Result<Option<Resolved>, InputError> {
    if let Some(routes) = routes {
        return routes_file(routes).map(Some);
    }
    if environment_configures() {
        let origin = format!(
            "the environment ({}, {}, {})",
            vars::SENDER,
            vars::SUBJECT,
            vars::TEMPLATE
        );
        return Config::from_vars(env_lookup)
            .map(|config| {
                Some(Resolved {
                    config,
                    origin: origin.clone(),
                })
            })
            .map_err(|source| InputError::Config { origin, source });
    }
    let beside = templates.join("routes.json");
    if beside.is_file() {
        return routes_file(&beside).map(Some);
    }
    if default_templates {
        return routes_file(&examples_dir().join("routes.json")).map(Some);
    }
    Ok(None)
}

/// A routes file, with the environment filling what it leaves out (`SENDER`, `REPLY_TO`).
pub fn routes_file(path: &Path) -> Result<Resolved, InputError> {
    let json = read_text(path)?;
    let origin = path.display().to_string();
    Config::from_routes_json(&json, env_lookup)
        .map(|config| Resolved {
            config,
            origin: origin.clone(),
        })
        .map_err(|source| InputError::Config { origin, source })
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
    fn json_and_markdown_are_not_templates() {
        assert!(is_template_file("confirmation.html"));
        assert!(is_template_file("confirmation.txt"));
        assert!(!is_template_file("routes.json"));
        assert!(!is_template_file("README.md"));
    }
}
