//! The function's settings, read from the environment once at start-up.
//!
//! The names of the existing notifier's deployments are kept (`REGION`, `SUBJECT`, `SENDER`,
//! `SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL`, `CODECOMMIT_REPO`, `SQS_URL`) so that a deployment
//! can switch code without touching its configuration. Everything new has a default.
//!
//! A bad value is an error at init that names the variable: Lambda then reports the init
//! failure and no record is ever touched, instead of every record failing one by one.

use std::time::Duration;

use mailroom_core::feedback::SuppressionPolicy;
use mailroom_core::{Config, ConfigError};
use thiserror::Error;

/// Variable names, in one place for the docs, the SAM template and the tests.
pub mod vars {
    /// AWS region of SES, SQS and CodeCommit. Falls back to `AWS_REGION`, which Lambda sets.
    pub const REGION: &str = "REGION";
    /// The CodeCommit repository that holds the templates.
    pub const CODECOMMIT_REPO: &str = "CODECOMMIT_REPO";
    /// The branch to read templates from. Default `main`.
    pub const CODECOMMIT_BRANCH: &str = "CODECOMMIT_BRANCH";
    /// Path of the routes file in the repository. Default `routes.json`; empty to use the
    /// environment variables alone. A routes file absent from the repository also falls back to
    /// the environment.
    pub const ROUTES_FILE: &str = "ROUTES_FILE";
    /// Folder of the repository whose files are the templates. Default: the repository root.
    /// Template names are paths relative to it.
    pub const TEMPLATE_FOLDER: &str = "TEMPLATE_FOLDER";
    /// How long templates are used before the branch head is checked again. Default 60.
    pub const TEMPLATE_CACHE_SECONDS: &str = "TEMPLATE_CACHE_SECONDS";
    /// The queue of the old function, for the explicit-delete compatibility mode.
    pub const SQS_URL: &str = "SQS_URL";
    /// `true`: delete processed messages explicitly and fail the invocation when any record
    /// must be retried, for event source mappings without `ReportBatchItemFailures`.
    pub const DELETE_PROCESSED: &str = "DELETE_PROCESSED";
    /// The dead-letter queue that rejected records are moved to, with their reason.
    pub const DLQ_URL: &str = "DLQ_URL";
    /// At most this many SES calls at once. Default 10.
    pub const MAX_CONCURRENT_SENDS: &str = "MAX_CONCURRENT_SENDS";
    /// No send starts when less than this much time is left. Default 2000 ms.
    pub const DEADLINE_MARGIN_MS: &str = "DEADLINE_MARGIN_MS";
    /// CloudWatch namespace of the embedded metrics. Default `Mailroom`.
    pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
    /// Bytes of found lookup items kept across warm invocations, for lookups with
    /// `cacheSeconds`. Default 4 MiB; 0 turns the cache off.
    pub const LOOKUP_CACHE_BYTES: &str = "LOOKUP_CACHE_BYTES";
    /// The ARN(s), comma-separated, of the queue(s) that carry SES feedback (event
    /// notifications through SNS); their records are written to the ledger instead of being
    /// decided as events. Unset: the function takes no feedback.
    pub const FEEDBACK_QUEUE_ARN: &str = "FEEDBACK_QUEUE_ARN";
    /// The DynamoDB table of the delivery ledger (it may be the idempotency table: the
    /// ledger's items sit beside the claims). The core reads it too: with it set, recipients
    /// are checked against its suppressions before sending.
    pub const LEDGER_TABLE: &str = mailroom_core::config::vars::LEDGER_TABLE;
    /// How long a ledger entry is kept after its last change. Default 90 days; an address
    /// suppressed for good is kept for good.
    pub const LEDGER_TTL_SECONDS: &str = "LEDGER_TTL_SECONDS";
}

/// A setting that stops the function at init.
#[derive(Debug, Error, PartialEq)]
pub enum SettingsError {
    /// A required variable is unset or empty.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable.
        name: &'static str,
        /// What it should hold.
        hint: &'static str,
    },
    /// A variable holds something unusable.
    #[error("{name} is invalid: {reason} (got {value:?})")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// The value found.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The email settings (`SENDER`, `SUBJECT`, `REPLY_TO`, ...) as the core reads them.
    #[error(transparent)]
    Email(#[from] ConfigError),
}

/// Everything the function reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// AWS region.
    pub region: String,
    /// CodeCommit repository name.
    pub repository: String,
    /// CodeCommit branch.
    pub branch: String,
    /// Routes file path in the repository, if routes come from a file.
    pub routes_file: Option<String>,
    /// Template folder in the repository, without leading or trailing `/` (empty: the root).
    pub template_folder: String,
    /// How long a loaded template set is used before the branch head is checked again.
    pub template_cache: Duration,
    /// The old function's queue URL.
    pub sqs_url: Option<String>,
    /// Explicit-delete compatibility mode.
    pub delete_processed: bool,
    /// Dead-letter queue for rejected records.
    pub dlq_url: Option<String>,
    /// Bound on concurrent SES calls.
    pub max_concurrent_sends: usize,
    /// Sends stop starting when less than this is left before the Lambda deadline.
    pub deadline_margin: Duration,
    /// Embedded metrics namespace.
    pub metrics_namespace: String,
    /// Bound of the lookup cache, in bytes (0: no cache).
    pub lookup_cache_bytes: usize,
    /// The delivery ledger, when `LEDGER_TABLE` is set: the feedback intake writes it, a
    /// takeover of an expired claim reads it.
    pub ledger: Option<LedgerSettings>,
    /// When soft bounces suppress an address (`SUPPRESSION_*`, read by the core).
    pub suppression: SuppressionPolicy,
    /// The queues whose records are SES feedback (`FEEDBACK_QUEUE_ARN`; needs the ledger).
    pub feedback_queue_arns: Vec<String>,
}

/// The delivery ledger's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The table.
    pub table: String,
    /// How long entries are kept after their last change.
    pub retention: Duration,
}

/// The lookup cache's default bound: thousands of typical items (a course, an instructor) in a
/// small share of a 128 MB function.
pub const DEFAULT_LOOKUP_CACHE_BYTES: u64 = 4 * 1024 * 1024;

impl Settings {
    /// Reads and validates every setting. `lookup` is `std::env::var(..).ok()` in the function.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let region =
            get(vars::REGION)
                .or_else(|| get("AWS_REGION"))
                .ok_or(SettingsError::Missing {
                    name: vars::REGION,
                    hint: "the AWS region of SES, SQS and CodeCommit, e.g. us-east-1",
                })?;
        let repository = get(vars::CODECOMMIT_REPO).ok_or(SettingsError::Missing {
            name: vars::CODECOMMIT_REPO,
            hint: "the CodeCommit repository that holds the templates",
        })?;
        let routes_file = match lookup(vars::ROUTES_FILE) {
            None => Some("routes.json".to_owned()),
            Some(path) => Some(repository_path(&path)).filter(|p| !p.is_empty()),
        };
        // The email settings are the core's, checked now so that a bad variable stops the
        // function at init; the routes file, read later from the repository, may supply what
        // the variables leave out.
        Config::check_variables(&lookup, routes_file.is_some())?;
        let sqs_url = get(vars::SQS_URL)
            .map(|url| queue_url(vars::SQS_URL, url))
            .transpose()?;
        let delete_processed = flag(vars::DELETE_PROCESSED, get(vars::DELETE_PROCESSED))?;
        if delete_processed && sqs_url.is_none() {
            return Err(SettingsError::Missing {
                name: vars::SQS_URL,
                hint: "the queue URL, needed when DELETE_PROCESSED=true",
            });
        }
        let ledger = get(vars::LEDGER_TABLE)
            .map(|table| {
                Ok::<_, SettingsError>(LedgerSettings {
                    table,
                    retention: Duration::from_secs(number(
                        vars::LEDGER_TTL_SECONDS,
                        get,
                        90 * 24 * 3600,
                        60..=10 * 365 * 24 * 3600,
                    )?),
                })
            })
            .transpose()?;
        let feedback_queue_arns: Vec<String> = get(vars::FEEDBACK_QUEUE_ARN)
            .unwrap_or_default()
            .split(',')
            .map(|arn| arn.trim().to_owned())
            .filter(|arn| !arn.is_empty())
            .collect();
        if let Some(bad) = feedback_queue_arns
            .iter()
            .find(|arn| !arn.starts_with("arn:"))
        {
            return Err(SettingsError::Invalid {
                name: vars::FEEDBACK_QUEUE_ARN,
                value: bad.clone(),
                reason:
                    "expected SQS queue ARNs (arn:aws:sqs:REGION:ACCOUNT:NAME), comma-separated"
                        .to_owned(),
            });
        }
        if !feedback_queue_arns.is_empty() && ledger.is_none() {
            return Err(SettingsError::Missing {
                name: vars::LEDGER_TABLE,
                hint: "the DynamoDB table of the delivery ledger (it may be IDEMPOTENCY_TABLE's), needed with FEEDBACK_QUEUE_ARN",
            });
        }
        // Read whether or not this function takes in feedback, so a bad value is found when
        // it is deployed, not when the first bounce arrives.
        let suppression =
            SuppressionPolicy::from_variables(&lookup).map_err(|error| SettingsError::Invalid {
                name: error.name,
                value: error.value,
                reason: format!("expected {}", error.expected),
            })?;
        Ok(Self {
            ledger,
            suppression,
            feedback_queue_arns,
            region,
            repository,
            branch: get(vars::CODECOMMIT_BRANCH).unwrap_or_else(|| "main".to_owned()),
            routes_file,
            template_folder: get(vars::TEMPLATE_FOLDER)
                .map(|f| repository_path(&f))
                .unwrap_or_default(),
            template_cache: Duration::from_secs(number(
                vars::TEMPLATE_CACHE_SECONDS,
                get,
                60,
                0..=86_400,
            )?),
            sqs_url,
            delete_processed,
            dlq_url: get(vars::DLQ_URL)
                .map(|url| queue_url(vars::DLQ_URL, url))
                .transpose()?,
            max_concurrent_sends: usize::try_from(number(
                vars::MAX_CONCURRENT_SENDS,
                get,
                10,
                1..=100,
            )?)
            .unwrap_or(10),
            deadline_margin: Duration::from_millis(number(
                vars::DEADLINE_MARGIN_MS,
                get,
                2000,
                0..=600_000,
            )?),
            metrics_namespace: get(vars::METRICS_NAMESPACE)
                .unwrap_or_else(|| "Mailroom".to_owned()),
            lookup_cache_bytes: usize::try_from(number(
                vars::LOOKUP_CACHE_BYTES,
                get,
                DEFAULT_LOOKUP_CACHE_BYTES,
                0..=256 * 1024 * 1024,
            )?)
            .unwrap_or(0),
        })
    }
}

/// `/templates/` and `templates` name the same folder.
fn repository_path(path: &str) -> String {
    path.trim().trim_matches('/').to_owned()
}

fn number(
    name: &'static str,
    get: impl Fn(&str) -> Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, SettingsError> {
    let Some(value) = get(name) else {
        return Ok(default);
    };
    match value.parse::<u64>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(SettingsError::Invalid {
            name,
            value,
            reason: format!(
                "expected a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        }),
    }
}

fn flag(name: &'static str, value: Option<String>) -> Result<bool, SettingsError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => Ok(false),
        Some("true" | "1" | "yes") => Ok(true),
        Some(_) => Err(SettingsError::Invalid {
            name,
            value: value.unwrap_or_default(),
            reason: "expected true or false".to_owned(),
        }),
    }
}

fn queue_url(name: &'static str, url: String) -> Result<String, SettingsError> {
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .is_some_and(|queue| !queue.contains(':'))
        && url.matches('/').count() >= 4;
    if valid {
        Ok(url)
    } else {
        Err(SettingsError::Invalid {
            name,
            value: url,
            reason:
                "expected a queue URL like https://sqs.us-east-1.amazonaws.com/123456789012/queue"
                    .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    const LEGACY: [(&str, &str); 6] = [
        ("REGION", "eu-west-1"),
        ("SUBJECT", "New enrollment"),
        ("SENDER", "Courses <courses@example.com>"),
        (
            "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL",
            "enrollment.html",
        ),
        ("CODECOMMIT_REPO", "email-templates"),
        (
            "SQS_URL",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollments",
        ),
    ];

    #[test]
    fn the_old_functions_variables_are_enough() {
        let settings = settings(&LEGACY).unwrap();
        assert_eq!(settings.region, "eu-west-1");
        assert_eq!(settings.repository, "email-templates");
        assert_eq!(settings.branch, "main");
        assert_eq!(settings.routes_file.as_deref(), Some("routes.json"));
        assert_eq!(settings.template_folder, "");
        assert_eq!(settings.template_cache, Duration::from_secs(60));
        assert_eq!(settings.max_concurrent_sends, 10);
        assert_eq!(settings.lookup_cache_bytes, 4 * 1024 * 1024);
        assert!(!settings.delete_processed && settings.dlq_url.is_none());
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases: [(&str, &str, &str); 8] = [
            ("LOOKUP_CACHE_BYTES", "4MB", "LOOKUP_CACHE_BYTES is invalid"),
            (
                "MAX_CONCURRENT_SENDS",
                "0",
                "MAX_CONCURRENT_SENDS is invalid",
            ),
            (
                "MAX_CONCURRENT_SENDS",
                "ten",
                "MAX_CONCURRENT_SENDS is invalid",
            ),
            (
                "TEMPLATE_CACHE_SECONDS",
                "-1",
                "TEMPLATE_CACHE_SECONDS is invalid",
            ),
            ("DELETE_PROCESSED", "maybe", "DELETE_PROCESSED is invalid"),
            (
                "DLQ_URL",
                "arn:aws:sqs:eu-west-1:1:dlq",
                "DLQ_URL is invalid",
            ),
            ("SENDER", "not an address", "SENDER is invalid"),
            (
                "SANDBOX_RECIPIENT",
                "nobody",
                "SANDBOX_RECIPIENT is invalid",
            ),
        ];
        for (name, value, expected) in cases {
            let mut pairs: Vec<(&str, &str)> =
                LEGACY.iter().filter(|(k, _)| *k != name).copied().collect();
            pairs.push((name, value));
            let error = settings(&pairs).unwrap_err().to_string();
            assert!(error.starts_with(expected), "{name}={value}: {error}");
        }
    }

    #[test]
    fn missing_email_settings_are_fatal_only_without_a_routes_file() {
        let without_subject: Vec<(&str, &str)> = LEGACY
            .iter()
            .filter(|(k, _)| *k != "SUBJECT")
            .copied()
            .collect();
        assert!(
            settings(&without_subject).is_ok(),
            "the routes file may supply the subject"
        );
        let mut no_routes = without_subject.clone();
        no_routes.push(("ROUTES_FILE", ""));
        let error = settings(&no_routes).unwrap_err().to_string();
        assert!(error.starts_with("SUBJECT is not set"), "{error}");
        let no_repo: Vec<(&str, &str)> = LEGACY
            .iter()
            .filter(|(k, _)| *k != "CODECOMMIT_REPO")
            .copied()
            .collect();
        assert!(
            settings(&no_repo)
                .unwrap_err()
                .to_string()
                .starts_with("CODECOMMIT_REPO is not set")
        );
    }

    #[test]
    fn compatibility_mode_needs_the_queue_url() {
        let mut pairs: Vec<(&str, &str)> = LEGACY
            .iter()
            .filter(|(k, _)| *k != "SQS_URL")
            .copied()
            .collect();
        pairs.push(("DELETE_PROCESSED", "true"));
        assert!(
            settings(&pairs)
                .unwrap_err()
                .to_string()
                .starts_with("SQS_URL is not set")
        );
        let mut pairs = LEGACY.to_vec();
        pairs.push(("DELETE_PROCESSED", "TRUE"));
        pairs.push(("TEMPLATE_FOLDER", "/templates/"));
        let settings = settings(&pairs).unwrap();
        assert!(settings.delete_processed);
        assert_eq!(settings.template_folder, "templates");
    }
}
