//! Lookups without DynamoDB: every read a route declares is answered from a fixtures file in
//! the core's format (`mailroom_core::lookup::fixtures`), found as the routes file is found
//! (`--lookups FILE`, else `lookups.json` beside the templates, else none).
//!
//! Without a file, every read fails, as the core's `NoLookups` has it: a record that needs data
//! is retried (`lookup_failed`), never rendered without it, and the failure says where the file
//! belongs. The wording of what to add to which file lives here too, for `check` and `render`.

use std::path::{Path, PathBuf};

use mailroom_core::config::Route;
use mailroom_core::lookup::Lookup;
use mailroom_core::{LookupAnswer, LookupFailure, LookupFixtures, LookupRequest, LookupSource};

use crate::error::InputError;
use crate::setup;

/// What answers lookups: a fixtures file, or nothing.
#[derive(Debug, Clone)]
pub enum Fixtures {
    /// The fixtures of a file.
    File {
        /// The file, as found.
        path: PathBuf,
        /// Its entries.
        fixtures: LookupFixtures,
    },
    /// No file: every read fails.
    None {
        /// Where the file would be found, for messages.
        expected: PathBuf,
    },
}

impl Fixtures {
    /// The fixtures file found for `given` (`--lookups`) and the templates folder, read and
    /// parsed: a file named but missing, or one the core cannot read, is an input error, so a
    /// typo never turns into lookups that fail record after record.
    pub fn load(given: Option<&Path>, templates: &Path) -> Result<Self, InputError> {
        let Some(path) = setup::lookups_path(given, templates) else {
            return Ok(Self::None {
                expected: templates.join(setup::LOOKUPS_FILE),
            });
        };
        let text = setup::read_text(&path)?;
        let fixtures = Self::parse(&path, &text)?;
        Ok(Self::File { path, fixtures })
    }

    /// Parses the text of the fixtures file `path`.
    pub fn parse(path: &Path, text: &str) -> Result<LookupFixtures, InputError> {
        LookupFixtures::parse(text).map_err(|source| InputError::Lookups {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The file, when there is one.
    #[must_use]
    pub fn file(&self) -> Option<&Path> {
        match self {
            Self::File { path, .. } => Some(path),
            Self::None { .. } => None,
        }
    }

    /// The answer to `request`: its fixture, "not found" when no entry has its key, a failure
    /// saying where the file goes when there is no file.
    #[must_use]
    pub fn answer(&self, request: &LookupRequest) -> LookupAnswer {
        match self {
            Self::File { fixtures, .. } => fixtures.answer_to(request),
            Self::None { expected } => LookupAnswer::Failed(LookupFailure::Unavailable(format!(
                "no lookups file answers {} {}; put {} beside the templates ({}) or pass \
                 --lookups FILE",
                request.table,
                request.key_text(),
                setup::LOOKUPS_FILE,
                expected.display()
            ))),
        }
    }

    /// Whether an entry of the file answers `request` (with an item or a failure).
    #[must_use]
    pub fn answers(&self, request: &LookupRequest) -> bool {
        match self {
            Self::File { fixtures, .. } => fixtures.answers(request),
            Self::None { .. } => false,
        }
    }

    /// What to add to which file so that `request` is answered, as a line a user can act on.
    #[must_use]
    pub fn help_for(&self, request: &LookupRequest) -> String {
        let entry = entry_for(request);
        match self {
            Self::File { path, .. } => format!(
                "add {entry} to \"{}\" in {}, with the item's fields in \"item\"",
                request.table,
                path.display()
            ),
            Self::None { expected } => format!(
                "create {} (or pass --lookups FILE) holding {}, with the item's fields \
                 in \"item\"",
                expected.display(),
                serde_json::to_string(&request.table)
                    .map(|table| format!("{{{table}: [{entry}]}}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The lookups `route` declares, for messages: `student, course` or `none`.
#[must_use]
pub fn declared(route: &Route) -> String {
    let names: Vec<&str> = route.lookups().iter().map(Lookup::name).collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

impl LookupSource for &Fixtures {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        Fixtures::answer(self, request)
    }
}

/// A fixtures entry for `request` with an empty item, as JSON text: the key exactly as the
/// lookup asks it (every attribute as text, as fixtures write keys), then the item.
fn entry_for(request: &LookupRequest) -> String {
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_default();
    let key = request
        .key_as_text()
        .iter()
        .map(|(name, text)| format!("{}: {}", quoted(name), quoted(text)))
        .collect::<Vec<_>>()
        .join(", ");
    format!(r#"{{"key": {{{key}}}, "item": {{}}}}"#)
}

/// A lookup source that remembers what it was asked: which reads a sample needed that the
/// fixtures do not answer, for `check`'s and `render`'s help.
pub struct Recorder<'a> {
    fixtures: &'a Fixtures,
    asked: Vec<LookupRequest>,
}

impl<'a> Recorder<'a> {
    /// Answers from `fixtures`, remembering every request.
    #[must_use]
    pub fn new(fixtures: &'a Fixtures) -> Self {
        Self {
            fixtures,
            asked: Vec::new(),
        }
    }

    /// The requests asked so far that no entry answers, in the order they were asked.
    pub fn unanswered(&self) -> impl Iterator<Item = &LookupRequest> {
        self.asked
            .iter()
            .filter(|request| !self.fixtures.answers(request))
    }
}

impl LookupSource for Recorder<'_> {
    fn answer(&mut self, request: &LookupRequest) -> LookupAnswer {
        self.asked.push(request.clone());
        self.fixtures.answer(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_core::{Config, Mailroom, SqsEvent, TemplateSet, Timestamp};

    const ROUTES: &str = r#"{"sender": "a@example.com", "routes": [{
        "name": "welcome", "events": ["*"], "template": "w.html", "subject": "Hi",
        "recipient": "lookup.student.email",
        "lookups": {"student": {"table": "people", "key": {"PK": "S#{{ id }}", "n": {"N": "{{ n }}"}}}}
    }]}"#;

    /// The requests a batch of one record with `body` asks.
    fn requests(body: &str) -> Vec<LookupRequest> {
        let config = Config::resolve(Some(ROUTES), |_| None).unwrap();
        let templates: TemplateSet = [("w.html", "<p>{{ lookup.student.name }}</p>")]
            .into_iter()
            .collect();
        let mailroom = Mailroom::new(config, &templates).unwrap();
        let event = SqsEvent::from_json(&format!(
            r#"{{"Records": [{{"messageId": "m-1", "body": {}}}]}}"#,
            serde_json::to_string(body).unwrap()
        ))
        .unwrap();
        let mut batch = mailroom
            .start_batch(event, Timestamp::from_millis(0), 0)
            .unwrap();
        batch.lookups()
    }

    #[test]
    fn a_file_answers_its_entries_and_finds_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(setup::LOOKUPS_FILE),
            r#"{"people": [{"key": {"PK": "S#1", "n": 7}, "item": {"name": "Ada"}}]}"#,
        )
        .unwrap();
        let fixtures = Fixtures::load(None, dir.path()).unwrap();
        assert_eq!(
            fixtures.file(),
            Some(dir.path().join(setup::LOOKUPS_FILE).as_path())
        );
        let found = &requests(r#"{"id": "1", "n": 7}"#)[0];
        assert!(fixtures.answers(found));
        let LookupAnswer::Found(item) = fixtures.answer(found) else {
            panic!("the entry answers");
        };
        assert_eq!(item.to_json(), r#"{"name":"Ada"}"#);
        let other = &requests(r#"{"id": "2", "n": 7}"#)[0];
        assert!(!fixtures.answers(other));
        assert!(matches!(fixtures.answer(other), LookupAnswer::NotFound));
        assert_eq!(
            fixtures.help_for(other),
            format!(
                "add {{\"key\": {{\"PK\": \"S#2\", \"n\": \"7\"}}, \"item\": {{}}}} to \
                 \"people\" in {}, with the item's fields in \"item\"",
                dir.path().join(setup::LOOKUPS_FILE).display()
            )
        );
    }

    #[test]
    fn without_a_file_every_read_fails_and_says_where_the_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let fixtures = Fixtures::load(None, dir.path()).unwrap();
        assert_eq!(fixtures.file(), None);
        let request = &requests(r#"{"id": "1", "n": 7}"#)[0];
        let LookupAnswer::Failed(LookupFailure::Unavailable(detail)) = fixtures.answer(request)
        else {
            panic!("nothing answers");
        };
        assert!(detail.contains("people PK=S#1, n=7"), "{detail}");
        assert!(detail.contains("--lookups FILE"), "{detail}");
        let help = fixtures.help_for(request);
        assert!(
            help.contains(r#"{"people": [{"key": {"PK": "S#1", "n": "7"}, "item": {}}]}"#),
            "{help}"
        );
    }

    #[test]
    fn a_named_file_must_exist_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nowhere.json");
        assert!(matches!(
            Fixtures::load(Some(&missing), dir.path()),
            Err(InputError::Unreadable { .. })
        ));
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\n  \"people\": [\n    {\"key\": }\n  ]\n}").unwrap();
        let error = Fixtures::load(Some(&bad), dir.path())
            .unwrap_err()
            .to_string();
        assert!(error.starts_with(&bad.display().to_string()), "{error}");
        assert!(error.contains("line 3, column 13"), "{error}");
    }

    #[test]
    fn declared_lists_the_route_lookups_for_messages() {
        let config = Config::resolve(Some(ROUTES), |_| None).unwrap();
        assert_eq!(declared(&config.routes()[0]), "student");
        assert_eq!(declared(&Config::preview("w.html").routes()[0]), "none");
    }

    #[test]
    fn the_recorder_remembers_what_no_entry_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(
            &path,
            r#"{"people": [{"key": {"PK": "S#1", "n": "7"}, "failure": "throttled"}]}"#,
        )
        .unwrap();
        let fixtures = Fixtures::load(Some(&path), dir.path()).unwrap();
        let mut recorder = Recorder::new(&fixtures);
        let failing = requests(r#"{"id": "1", "n": 7}"#).remove(0);
        let missing = requests(r#"{"id": "3", "n": 7}"#).remove(0);
        assert!(matches!(
            recorder.answer(&failing),
            LookupAnswer::Failed(LookupFailure::Throttled(_))
        ));
        assert!(matches!(recorder.answer(&missing), LookupAnswer::NotFound));
        let unanswered: Vec<String> = recorder.unanswered().map(LookupRequest::key_text).collect();
        assert_eq!(unanswered, ["PK=S#3, n=7"]);
    }
}
