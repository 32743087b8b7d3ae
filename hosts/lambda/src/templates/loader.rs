//! Loads one commit: the routes file, if the repository has one, and every template under the
//! template folder (by the core's rule for which paths are templates), compiled into a
//! [`Mailroom`] whose configuration the core resolves from that file and the environment.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, stream};
use mailroom_core::render::is_template_path;
use mailroom_core::{Config, ConfigError, Mailroom, TemplateSet};
use thiserror::Error;

use super::source::{SourceError, TemplateSource};

/// Concurrent GetFile / GetFolder calls while loading.
const FETCH_CONCURRENCY: usize = 8;

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Routes file path in the repository; `None` uses the environment's single route.
    pub routes_file: Option<String>,
    /// Template folder in the repository (empty: the root). Template names are relative to it.
    pub template_folder: String,
    /// The environment snapshot taken at init: the core's fallback settings (`SENDER`, ...).
    pub vars: Arc<BTreeMap<String, String>>,
}

/// A commit could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// Our side: CodeCommit could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The repository's content: the routes file (or the variables it falls back to) is wrong.
    #[error("the configuration at commit {commit} is unusable: {source}")]
    Config {
        /// The commit that was read.
        commit: String,
        /// What the core said.
        source: ConfigError,
    },
    /// The repository's content: a template is not UTF-8.
    #[error("{path} at commit {commit} is not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
        /// The commit that was read.
        commit: String,
    },
}

/// One loaded commit.
pub struct Loaded {
    /// The commit the templates come from.
    pub commit: String,
    /// Configuration and compiled templates.
    pub mailroom: Arc<Mailroom>,
    /// How many templates were loaded.
    pub templates: usize,
    /// CodeCommit calls made.
    pub calls: u32,
}

/// Loads `commit` from `source`.
pub async fn load<S: TemplateSource>(
    source: &S,
    options: &LoadOptions,
    commit: &str,
) -> Result<Loaded, LoadError> {
    let mut calls = 0u32;
    let lookup = |name: &str| options.vars.get(name).cloned();
    let routes_file = match &options.routes_file {
        Some(path) => {
            calls += 1;
            match source.file(commit, path).await? {
                Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| LoadError::NotText {
                    path: path.clone(),
                    commit: commit.to_owned(),
                })?),
                None => None,
            }
        }
        None => None,
    };
    let config_error = |source| LoadError::Config {
        commit: commit.to_owned(),
        source,
    };
    let config = Config::resolve(routes_file.as_deref(), lookup).map_err(config_error)?;
    for variable in config.ignored_variables() {
        tracing::warn!(
            commit,
            variable,
            "the routes file decides this setting; the variable is not used"
        );
    }

    let (paths, listing_calls) = template_paths(source, commit, &options.template_folder).await?;
    calls += listing_calls;
    calls += u32::try_from(paths.len()).unwrap_or(u32::MAX);
    let files: Vec<(String, Option<Vec<u8>>)> = stream::iter(paths)
        .map(|path| async move { source.file(commit, &path).await.map(|bytes| (path, bytes)) })
        .buffer_unordered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    let prefix = if options.template_folder.is_empty() {
        String::new()
    } else {
        format!("{}/", options.template_folder)
    };
    let mut templates = TemplateSet::new();
    for (path, bytes) in files {
        // A file listed and then gone means the commit is not what was listed: never happens
        // for a commit id, so skipping it is enough.
        let Some(bytes) = bytes else { continue };
        let text = String::from_utf8(bytes).map_err(|_| LoadError::NotText {
            path: path.clone(),
            commit: commit.to_owned(),
        })?;
        let name = path.strip_prefix(&prefix).unwrap_or(&path).to_owned();
        templates.insert(name, text);
    }
    let count = templates.len();
    let mailroom = Mailroom::new(config, &templates).map_err(config_error)?;
    Ok(Loaded {
        commit: commit.to_owned(),
        mailroom: Arc::new(mailroom),
        templates: count,
        calls,
    })
}

/// Every template file under `folder`, breadth first, each level's folders listed concurrently.
async fn template_paths<S: TemplateSource>(
    source: &S,
    commit: &str,
    folder: &str,
) -> Result<(Vec<String>, u32), SourceError> {
    let mut files = Vec::new();
    let mut level = vec![folder.to_owned()];
    let mut calls = 0u32;
    while !level.is_empty() {
        calls += u32::try_from(level.len()).unwrap_or(u32::MAX);
        let listings: Vec<_> = stream::iter(level)
            .map(|folder| async move { source.list(commit, &folder).await })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        level = Vec::new();
        for listing in listings.into_iter().flatten() {
            files.extend(
                listing
                    .files
                    .into_iter()
                    .filter(|path| is_template_path(path)),
            );
            level.extend(listing.folders);
        }
    }
    files.sort();
    Ok((files, calls))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::source::tests::FakeSource;

    fn options(routes: Option<&str>, folder: &str) -> LoadOptions {
        let vars = [
            ("SENDER", "Env <env@example.com>"),
            ("SUBJECT", "Hi"),
            ("SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL", "legacy.html"),
        ];
        LoadOptions {
            routes_file: routes.map(str::to_owned),
            template_folder: folder.to_owned(),
            vars: Arc::new(
                vars.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
        }
    }

    #[tokio::test]
    async fn loads_the_routes_file_and_every_template_under_the_folder() {
        let source = FakeSource::with_files(&[
            (
                "routes.json",
                r#"{"routes":[{"name":"r","events":["*"],"template":"a/page.html","subject":"S","recipient":"to"}]}"#,
            ),
            ("templates/a/page.html", "{% include 'partials/f.html' %}"),
            ("templates/partials/f.html", "footer"),
            ("templates/README.md", "not a template"),
            ("other.html", "outside the folder"),
        ]);
        let loaded = load(&source, &options(Some("routes.json"), "templates"), "c1")
            .await
            .unwrap();
        assert_eq!(loaded.templates, 2);
        assert_eq!(loaded.mailroom.config().routes()[0].name(), "r");
        assert_eq!(
            loaded.mailroom.config().sender().address(),
            "env@example.com"
        );
        // routes file + 3 folder listings (templates, templates/a, templates/partials) + 2 files
        assert_eq!(loaded.calls, 6);
    }

    #[tokio::test]
    async fn without_a_routes_file_the_environment_route_is_used() {
        let source = FakeSource::with_files(&[("legacy.html", "<p>hi</p>")]);
        let loaded = load(&source, &options(Some("routes.json"), ""), "c1")
            .await
            .unwrap();
        assert_eq!(
            loaded.mailroom.config().routes()[0].template(),
            "legacy.html"
        );
        assert_eq!(loaded.templates, 1);
    }

    #[tokio::test]
    async fn a_broken_routes_file_is_the_repositorys_fault() {
        let source = FakeSource::with_files(&[("routes.json", "{\"routes\": [")]);
        let error = load(&source, &options(Some("routes.json"), ""), "c9")
            .await
            .err()
            .unwrap();
        assert!(matches!(error, LoadError::Config { .. }), "{error}");
        assert!(error.to_string().contains("commit c9"), "{error}");
    }
}
