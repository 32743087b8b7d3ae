//! The template engine: minijinja configured for email.
//!
//! * HTML templates auto-escape whatever their file name; only templates ending in `.txt` (and
//!   subjects) are plain text. Partials and layouts work with `{% include %}` / `{% extends %}`.
//! * Undefined variables are errors, not blank fields: `{{ customer.frist_name }}` fails loudly
//!   (use `is defined` or `| default(...)` for optional data).
//! * Every rendering runs on a fuel budget, with a recursion limit and a cap on output size.

use std::collections::BTreeMap;
use std::io;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};

use crate::config::RenderLimits;
use crate::error::{FaultKind, TemplateFault};
use crate::filters;

/// Template sources by path, as loaded from a folder or a repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateSet {
    sources: BTreeMap<String, String>,
}

impl TemplateSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one template.
    pub fn insert(&mut self, path: impl Into<String>, source: impl Into<String>) {
        self.sources.insert(path.into(), source.into());
    }

    /// Whether `path` is loaded.
    #[must_use]
    pub fn contains(&self, path: &str) -> bool {
        self.sources.contains_key(path)
    }

    /// The source of `path`.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<&str> {
        self.sources.get(path).map(String::as_str)
    }

    /// Paths and sources, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sources
            .iter()
            .map(|(path, source)| (path.as_str(), source.as_str()))
    }

    /// How many templates there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

impl<P: Into<String>, S: Into<String>> FromIterator<(P, S)> for TemplateSet {
    fn from_iter<I: IntoIterator<Item = (P, S)>>(iter: I) -> Self {
        Self {
            sources: iter
                .into_iter()
                .map(|(path, source)| (path.into(), source.into()))
                .collect(),
        }
    }
}

/// File name endings of templates, compared without regard to case. Everything else in a
/// template folder or repository (`routes.json`, READMEs, images, sample events) is not a
/// template, and hosts neither read nor compile it.
pub const TEMPLATE_ENDINGS: [&str; 6] = [".html", ".htm", ".txt", ".j2", ".jinja", ".jinja2"];

/// Whether the file at `path` (relative to the template folder, `/`-separated) is a template:
/// its name ends in one of [`TEMPLATE_ENDINGS`] and no part of the path is hidden (`.git/`,
/// `.github/`, `.draft.html`). The one rule every host applies when it loads a folder.
#[must_use]
pub fn is_template_path(path: &str) -> bool {
    let hidden = path.split('/').any(|part| part.starts_with('.'));
    let lower = path.to_ascii_lowercase();
    !hidden
        && TEMPLATE_ENDINGS
            .iter()
            .any(|ending| lower.ends_with(ending))
}

/// Whether a path names a plain-text template (no HTML escaping).
#[must_use]
pub fn is_text_template(path: &str) -> bool {
    path.ends_with(".txt")
}

/// Where subject templates live in the environment; no file can have this prefix.
pub(crate) const SUBJECT_PREFIX: &str = "@subject/";
/// Engine names of lookup key templates: plain text, never HTML-escaped.
pub(crate) const LOOKUP_KEY_PREFIX: &str = "@lookup-key/";

/// The `.txt` sibling of an HTML template path: `a/b.html` → `a/b.txt`.
#[must_use]
pub fn text_sibling(path: &str) -> String {
    let stem_end = path
        .rfind('.')
        .filter(|dot| !path[*dot..].contains('/'))
        .unwrap_or(path.len());
    format!("{}.txt", &path[..stem_end])
}

/// A compiled set of templates with the limits applied.
pub(crate) struct Engine {
    env: Environment<'static>,
    /// Templates that did not compile, with the reason, so a record that needs one gets the
    /// compile error rather than "not found".
    broken: BTreeMap<String, TemplateFault>,
    max_output_bytes: usize,
}

impl Engine {
    /// Compiles every template; ones that fail are remembered, not fatal.
    pub(crate) fn new(templates: &TemplateSet, limits: RenderLimits) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if is_text_template(name)
                || name.starts_with(SUBJECT_PREFIX)
                || name.starts_with(LOOKUP_KEY_PREFIX)
            {
                AutoEscape::None
            } else {
                AutoEscape::Html
            }
        });
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.max_recursion);
        env.set_debug(true);
        filters::register(&mut env);
        let mut broken = BTreeMap::new();
        for (path, source) in templates.iter() {
            if let Err(error) = env.add_template_owned(path.to_owned(), source.to_owned()) {
                broken.insert(
                    path.to_owned(),
                    fault_from(&error, |_| Some(source.to_owned())),
                );
            }
        }
        Self {
            env,
            broken,
            max_output_bytes: limits.max_output_bytes,
        }
    }

    /// Adds a template that comes from configuration (a subject).
    pub(crate) fn add(&mut self, name: String, source: String) -> Result<(), TemplateFault> {
        self.env
            .add_template_owned(name, source.clone())
            .map_err(|error| fault_from(&error, |_| Some(source.clone())))
    }

    fn source_of(&self, name: &str) -> Option<String> {
        self.env
            .get_template(name)
            .ok()
            .map(|template| template.source().to_owned())
    }

    /// The loaded `.txt` sibling of an HTML template, if there is one.
    pub(crate) fn sibling_text_template(&self, template: &str) -> Option<String> {
        let sibling = text_sibling(template);
        (sibling != template && self.has(&sibling)).then_some(sibling)
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.env.get_template(name).is_ok() || self.broken.contains_key(name)
    }

    pub(crate) fn broken(&self) -> &BTreeMap<String, TemplateFault> {
        &self.broken
    }

    /// Renders `name` with `context`, within the fuel, recursion and output limits.
    pub(crate) fn render(&self, name: &str, context: &Value) -> Result<String, TemplateFault> {
        if let Some(fault) = self.broken.get(name) {
            return Err(fault.clone());
        }
        let template = self
            .env
            .get_template(name)
            .map_err(|e| not_found(&e, name))?;
        let mut output = LimitedBuffer {
            bytes: Vec::with_capacity(4096),
            limit: self.max_output_bytes,
        };
        template
            .render_captured_to(context.clone(), &mut output)
            .map_err(|error| {
                let mut fault = fault_from(&error, |name| self.source_of(name));
                if error_chain(&error).any(|e| e.kind() == ErrorKind::WriteFailure) {
                    fault.kind = FaultKind::Limit;
                    fault.message =
                        format!("the output is larger than {} bytes", self.max_output_bytes);
                }
                fault
            })?;
        // Templates only ever write UTF-8; lossy conversion is a belt without braces.
        Ok(String::from_utf8(output.bytes)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned()))
    }

    /// Renders a one-off plain-text template (a subject being edited) with the same filters
    /// and limits.
    pub(crate) fn render_source(
        &self,
        name: &str,
        source: &str,
        context: &Value,
    ) -> Result<String, TemplateFault> {
        let name = format!("{SUBJECT_PREFIX}{name}");
        self.env
            .render_named_str(&name, source, context.clone())
            .map_err(|error| fault_from(&error, |_| Some(source.to_owned())))
    }

    /// The variables a template reads, as dotted paths, following includes and layouts.
    pub(crate) fn variables(&self, name: &str) -> Result<Vec<String>, TemplateFault> {
        if let Some(fault) = self.broken.get(name) {
            return Err(fault.clone());
        }
        self.env
            .get_template(name)
            .map_err(|e| not_found(&e, name))?;
        let mut names = std::collections::BTreeSet::new();
        let mut pending = vec![name.to_owned()];
        let mut visited = std::collections::BTreeSet::new();
        while let Some(current) = pending.pop() {
            if !visited.insert(current.clone()) {
                continue;
            }
            // Includes and layouts that are missing or broken are reported elsewhere.
            let Ok(template) = self.env.get_template(&current) else {
                continue;
            };
            names.extend(template.undeclared_variables(true));
            pending.extend(referenced_templates(template.source()));
        }
        Ok(names.into_iter().collect())
    }
}

/// The templates a source pulls in by literal name: `{% include "x" %}`, `{% extends 'x' %}`,
/// `{% import "x" as y %}`, `{% from "x" import y %}`. minijinja reports a template's variables
/// without following these, and authors want the whole picture.
fn referenced_templates(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let tag = after[..end].trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let mut words = tag.splitn(2, char::is_whitespace);
        if let (Some("include" | "extends" | "import" | "from"), Some(argument)) =
            (words.next(), words.next())
        {
            let argument = argument.trim_start();
            if let Some(quote) = argument.chars().next().filter(|c| *c == '"' || *c == '\'')
                && let Some(close) = argument[1..].find(quote)
            {
                found.push(argument[1..=close].to_owned());
            }
        }
        rest = &after[end + 2..];
    }
    found
}

/// A writer that refuses to grow past its limit, so a runaway loop ends with an error instead
/// of eating the Lambda's memory.
struct LimitedBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl io::Write for LimitedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Turns a minijinja error into a located, serialisable fault.
///
/// An error inside an included template (or a layout, or a macro from another file) arrives
/// wrapped in "could not render include"; the author needs the innermost location, so the chain
/// is followed to the deepest error that has one. `source_of` finds a template's source by name
/// when the error itself carries none.
pub(crate) fn fault_from(
    error: &minijinja::Error,
    source_of: impl Fn(&str) -> Option<String>,
) -> TemplateFault {
    let innermost = error_chain(error)
        .filter(|e| e.line().is_some())
        .last()
        .unwrap_or(error);
    let hit_limit = error_chain(error).any(|e| {
        matches!(e.kind(), ErrorKind::OutOfFuel | ErrorKind::WriteFailure)
            || e.detail().is_some_and(|d| d.contains("recursion"))
    });
    let kind = match innermost.kind() {
        _ if hit_limit => FaultKind::Limit,
        ErrorKind::SyntaxError | ErrorKind::BadEscape | ErrorKind::InvalidDelimiter => {
            FaultKind::Syntax
        }
        ErrorKind::UndefinedError => FaultKind::Undefined,
        ErrorKind::TemplateNotFound => FaultKind::NotFound,
        _ => FaultKind::Render,
    };
    let message = match innermost.detail() {
        Some(detail) => format!("{}: {detail}", innermost.kind()),
        None => innermost.kind().to_string(),
    };
    let name = innermost.name().or(error.name());
    let source: Option<std::borrow::Cow<'_, str>> = innermost
        .template_source()
        .map(std::borrow::Cow::Borrowed)
        .or_else(|| name.and_then(&source_of).map(std::borrow::Cow::Owned));
    let source = source.as_deref();
    let line = innermost.line();
    let column = match (innermost.range(), source) {
        (Some(range), Some(source)) => source.get(..range.start).map(|before| {
            before.rfind('\n').map_or(before.chars().count(), |nl| {
                before[nl + 1..].chars().count()
            }) + 1
        }),
        _ => None,
    };
    let source_line = match (line, source) {
        (Some(line), Some(source)) => source
            .lines()
            .nth(line.saturating_sub(1))
            .map(str::to_owned),
        _ => None,
    };
    TemplateFault {
        kind,
        message,
        template: name.map(str::to_owned),
        line,
        column,
        source_line,
    }
}

/// A template that is not loaded: the fault names it, so authors see which one.
fn not_found(error: &minijinja::Error, name: &str) -> TemplateFault {
    let mut fault = fault_from(error, |_| None);
    fault.template.get_or_insert_with(|| name.to_owned());
    fault
}

/// The error and the errors it wraps (an include wraps the failure inside it).
fn error_chain(error: &minijinja::Error) -> impl Iterator<Item = &minijinja::Error> {
    std::iter::successors(Some(error), |current| {
        std::error::Error::source(*current).and_then(|s| s.downcast_ref::<minijinja::Error>())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_named_by_their_ending_and_never_hidden() {
        for path in [
            "a.html",
            "orders/Confirmation.HTML",
            "x.txt",
            "l.j2",
            "p.jinja2",
            "a.htm",
        ] {
            assert!(is_template_path(path), "{path}");
        }
        for path in [
            "routes.json",
            "README.md",
            "logo.png",
            ".git/x.html",
            "a/.draft.html",
            "html",
        ] {
            assert!(!is_template_path(path), "{path}");
        }
    }
    use minijinja::context;

    fn engine(templates: &[(&str, &str)]) -> Engine {
        Engine::new(
            &templates.iter().copied().collect(),
            RenderLimits::default(),
        )
    }

    #[test]
    fn html_escapes_whatever_the_name_and_text_does_not() {
        let engine = engine(&[
            ("mail.jinja", "<p>{{ name }}</p>"),
            ("mail.txt", "{{ name }}"),
        ]);
        let ctx = context! { name => "<b>&</b>" };
        assert_eq!(
            engine.render("mail.jinja", &ctx).unwrap(),
            "<p>&lt;b&gt;&amp;&lt;&#x2f;b&gt;</p>"
        );
        assert_eq!(engine.render("mail.txt", &ctx).unwrap(), "<b>&</b>");
    }

    #[test]
    fn undefined_variables_are_errors_with_a_location() {
        let engine = engine(&[("m.html", "<p>\n  Hi {{ customer.frist_name }}\n</p>")]);
        let fault = engine
            .render(
                "m.html",
                &context! { customer => context! { first_name => "Ana" } },
            )
            .unwrap_err();
        assert_eq!(fault.kind, FaultKind::Undefined);
        assert_eq!(fault.template.as_deref(), Some("m.html"));
        assert_eq!(fault.line, Some(2));
        assert_eq!(fault.column, Some(9));
        assert_eq!(
            fault.source_line.as_deref(),
            Some("  Hi {{ customer.frist_name }}")
        );
    }

    #[test]
    fn syntax_errors_are_kept_per_template() {
        let engine = engine(&[("bad.html", "{% if %}"), ("good.html", "ok")]);
        assert_eq!(engine.render("good.html", &context! {}).unwrap(), "ok");
        let fault = engine.render("bad.html", &context! {}).unwrap_err();
        assert_eq!(fault.kind, FaultKind::Syntax);
        assert_eq!(fault.line, Some(1));
    }

    #[test]
    fn layouts_and_partials_work() {
        let engine = engine(&[
            (
                "layout.html",
                "<main>{% block body %}{% endblock %}</main>{% include 'footer.html' %}",
            ),
            ("footer.html", "<footer>{{ shop }}</footer>"),
            (
                "order.html",
                "{% extends 'layout.html' %}{% block body %}#{{ n }}{% endblock %}",
            ),
        ]);
        let out = engine
            .render("order.html", &context! { n => 1071, shop => "A&B" })
            .unwrap();
        assert_eq!(out, "<main>#1071</main><footer>A&amp;B</footer>");
    }

    #[test]
    fn runaway_templates_hit_a_limit() {
        let limits = RenderLimits {
            fuel: 10_000,
            max_output_bytes: 1000,
            max_recursion: 16,
        };
        let set: TemplateSet = [
            (
                "loop.html",
                "{% for i in range(100000) %}{{ i }}{% endfor %}",
            ),
            ("big.html", "{{ 'x' * 5000 }}"),
            ("self.html", "{% include 'self.html' %}"),
        ]
        .into_iter()
        .collect();
        let engine = Engine::new(&set, limits);
        for name in ["loop.html", "big.html", "self.html"] {
            let fault = engine.render(name, &context! {}).unwrap_err();
            assert_eq!(fault.kind, FaultKind::Limit, "{name}: {fault}");
        }
    }

    #[test]
    fn text_sibling_replaces_the_extension_only() {
        assert_eq!(text_sibling("emails/order.html"), "emails/order.txt");
        assert_eq!(text_sibling("v1.2/order"), "v1.2/order.txt");
        assert_eq!(text_sibling("welcome"), "welcome.txt");
    }
}
