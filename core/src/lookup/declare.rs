//! The routes file's lookups, validated: names, tables, key templates and what they read, and
//! the order that lets a key read an earlier lookup's result.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    KeyKind, KeyPart, LOOKUP_NAME, Lookup, MAX_CACHE_SECONDS, MAX_LOOKUPS_PER_ROUTE, OnMissing,
};
use crate::error::ConfigError;

/// A lookup as the routes file writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LookupEntry {
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    table_variable: Option<String>,
    key: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    on_missing: OnMissing,
    #[serde(default = "yes")]
    consistent_read: bool,
    #[serde(default)]
    cache_seconds: u32,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum KeyEntry {
    String(String),
    Typed(TypedKey),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
enum TypedKey {
    S(String),
    N(String),
}

/// Validates a route's lookups and orders them so that every lookup comes after the ones its
/// key reads. `at` names a field in errors (`routes[0].lookups.student.key.PK`).
pub(crate) fn validate(
    entries: BTreeMap<String, LookupEntry>,
    env: &dyn Fn(&str) -> Option<String>,
    at: &dyn Fn(&str) -> String,
) -> Result<Vec<Lookup>, ConfigError> {
    if entries.len() > MAX_LOOKUPS_PER_ROUTE {
        return Err(invalid(
            &at("lookups"),
            format!("at most {MAX_LOOKUPS_PER_ROUTE} lookups per route"),
        ));
    }
    let names: Vec<String> = entries.keys().cloned().collect();
    let mut lookups = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        let field = |rest: &str| at(&format!("lookups.{name}{rest}"));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(invalid(
                &field(""),
                "a lookup's name is letters, digits and _, so templates can read lookup.<name>",
            ));
        }
        let from_variable = entry
            .table_variable
            .as_deref()
            .and_then(|variable| env(variable).filter(|value| !value.trim().is_empty()));
        let table = match (from_variable, entry.table, entry.table_variable) {
            (Some(table), _, _) => table.trim().to_owned(),
            (None, Some(table), _) if !table.trim().is_empty() => table.trim().to_owned(),
            (None, _, Some(variable)) => {
                return Err(ConfigError::Missing {
                    name: variable,
                    hint: "the DynamoDB table a lookup reads (or give the lookup a table)",
                });
            }
            (None, _, None) => {
                return Err(invalid(
                    &field(".table"),
                    "name the DynamoDB table, or a tableVariable that holds it",
                ));
            }
        };
        if entry.key.is_empty() {
            return Err(invalid(
                &field(".key"),
                "give the key's attributes (the partition key, and the sort key if any)",
            ));
        }
        if entry.cache_seconds > MAX_CACHE_SECONDS {
            return Err(invalid(
                &field(".cacheSeconds"),
                format!("at most {MAX_CACHE_SECONDS} (a day)"),
            ));
        }
        let mut key = Vec::with_capacity(entry.key.len());
        let mut depends_on = Vec::new();
        for (attribute, part) in entry.key {
            let at_part = field(&format!(".key.{attribute}"));
            let (kind, template) = match part {
                KeyEntry::String(template) | KeyEntry::Typed(TypedKey::S(template)) => {
                    (KeyKind::String, template)
                }
                KeyEntry::Typed(TypedKey::N(template)) => (KeyKind::Number, template),
            };
            let reads = template_reads(&template)
                .map_err(|reason| invalid(&at_part, format!("does not compile: {reason}")))?;
            for path in &reads {
                if let Some(rest) = path.strip_prefix(LOOKUP_NAME) {
                    let Some(other) = rest.strip_prefix('.').map(|r| r.split('.').next()) else {
                        return Err(invalid(
                            &at_part,
                            "read another lookup's result as lookup.<name>.<field>",
                        ));
                    };
                    let other = other.unwrap_or_default();
                    match names.iter().position(|n| n == other) {
                        Some(index) => depends_on.push(index),
                        None => {
                            return Err(invalid(
                                &at_part,
                                format!(
                                    "reads lookup {other:?}, which this route does not declare"
                                ),
                            ));
                        }
                    }
                }
            }
            key.push(KeyPart {
                attribute,
                kind,
                template,
                reads,
            });
        }
        depends_on.sort_unstable();
        depends_on.dedup();
        lookups.push(Lookup {
            name,
            table,
            key,
            on_missing: entry.on_missing,
            consistent_read: entry.consistent_read,
            cache_seconds: entry.cache_seconds,
            depends_on,
        });
    }
    order(lookups, at)
}

/// Orders lookups so each comes after those it depends on (their positions are rewritten to
/// the new order); a cycle is a configuration error naming the lookups in it.
fn order(lookups: Vec<Lookup>, at: &dyn Fn(&str) -> String) -> Result<Vec<Lookup>, ConfigError> {
    let count = lookups.len();
    let mut placed: Vec<Option<usize>> = vec![None; count];
    let mut sequence = Vec::with_capacity(count);
    while sequence.len() < count {
        let ready = (0..count).find(|&i| {
            placed[i].is_none() && lookups[i].depends_on.iter().all(|&d| placed[d].is_some())
        });
        let Some(next) = ready else {
            let stuck: Vec<&str> = (0..count)
                .filter(|&i| placed[i].is_none())
                .map(|i| lookups[i].name.as_str())
                .collect();
            return Err(invalid(
                &at("lookups"),
                format!(
                    "the keys of {} read each other's results in a cycle",
                    stuck.join(", ")
                ),
            ));
        };
        placed[next] = Some(sequence.len());
        sequence.push(next);
    }
    let mut slots: Vec<Option<Lookup>> = lookups.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(count);
    for index in sequence {
        if let Some(mut lookup) = slots.get_mut(index).and_then(Option::take) {
            for dependency in &mut lookup.depends_on {
                *dependency = placed[*dependency].unwrap_or(*dependency);
            }
            ordered.push(lookup);
        }
    }
    Ok(ordered)
}

/// The variables a key template reads, as dotted paths.
fn template_reads(template: &str) -> Result<Vec<String>, String> {
    let env = minijinja::Environment::new();
    let compiled = env
        .template_from_str(template)
        .map_err(|error| error.to_string())?;
    Ok(compiled.undeclared_variables(true).into_iter().collect())
}

/// Checks that a recipient path into lookup results names a declared lookup.
pub(crate) fn check_recipient_path(
    path: &str,
    lookups: &[Lookup],
    at: &str,
) -> Result<(), ConfigError> {
    let Some(rest) = path
        .strip_prefix(LOOKUP_NAME)
        .and_then(|r| r.strip_prefix('.'))
    else {
        return Ok(());
    };
    let name = rest.split('.').next().unwrap_or_default();
    if lookups.iter().any(|lookup| lookup.name == name) {
        Ok(())
    } else {
        Err(invalid(
            at,
            format!("{path:?} reads lookup {name:?}, which this route does not declare"),
        ))
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        reason: reason.into(),
    }
}
