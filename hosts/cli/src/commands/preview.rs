//! `mailroom preview [DIR]`: serves the template previewer and a templates folder on
//! 127.0.0.1, so an author previews the repository's real templates in the browser.
//!
//! The previewer is a static page on mailroom's WebAssembly build: all rendering and deciding
//! happens in the browser. This server only hands out files, so it stays small, loopback-only
//! and read-only (GET and HEAD):
//!
//! * `/` the page (`wasm/preview`), `/pkg/` the wasm web build (`wasm/pkg/web`),
//!   `/examples/` the shipped examples: the same layout as `wasm/preview/serve.mjs`;
//! * `/templates.json`: DIR's templates, its routes file, its lookup fixtures and sample events,
//!   read afresh on every request, so editing a file on disk and reloading the page shows the
//!   edit: `{"root": DIR, "templates": {path: source}, "routes"?: text, "lookups"?: text,
//!   "events": {name: text}}`, where `routes` and `lookups` are the files' text as on disk and
//!   are left out when there is no such file;
//! * `/lookups.json`: the lookup fixtures file itself, as on disk (the core's `LookupFixtures`
//!   format, `{table: [{key, item | Item | failure}]}`), read afresh on every request; 404 when
//!   there is none, as a static server without the file answers;
//! * `/env.json`: the configuration variables (`mailroom_core::config::vars::ALL`, and every
//!   `tableVariable` the routes file names) set in this process's environment, as
//!   `{name: value}`. The page's engine lays them over its own defaults, so the page resolves
//!   the same routes file, variables and lookup tables `mailroom process` does.
//!
//! The routes file and the lookups file are found as every command finds them: `--routes FILE`
//! / `--lookups FILE`, else `routes.json` / `lookups.json` in DIR, else none.
//!
//! Requests whose `Host` is not this loopback address are refused, so a web page elsewhere
//! cannot read the templates through DNS rebinding.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use mailroom_core::config::vars;

use crate::error::{CliError, HostError, InputError};
use crate::lookups::Fixtures;
use crate::setup;

/// `mailroom preview`.
#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// Templates folder to preview [default: examples/templates]
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Routes file [default: DIR/routes.json, when there is one]
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Lookup fixtures, served to the page as /lookups.json
    /// [default: DIR/lookups.json, when there is one]
    #[arg(long, value_name = "FILE")]
    pub lookups: Option<PathBuf>,
    /// Folder of sample events (*.json) [default: events/ beside DIR, else the shipped examples]
    #[arg(long, value_name = "DIR")]
    pub events: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// The previewer page [default: wasm/preview of this source tree]
    #[arg(long, value_name = "DIR")]
    pub page: Option<PathBuf>,
    /// The wasm web build [default: wasm/pkg/web beside the page, made by wasm/build.sh]
    #[arg(long, value_name = "DIR")]
    pub pkg: Option<PathBuf>,
}

/// Parts of the page folder that are not the page (its tests and their tools).
const PRIVATE: [&str; 7] = [
    "node_modules",
    "tests",
    "bench",
    "artifacts",
    "package.json",
    "package-lock.json",
    "serve.mjs",
];

/// What is served, resolved once at start.
#[derive(Debug, Clone)]
pub struct Site {
    page: PathBuf,
    pkg: PathBuf,
    examples: PathBuf,
    templates: PathBuf,
    routes: Option<PathBuf>,
    lookups: Option<PathBuf>,
    events: Option<PathBuf>,
    /// The configuration variables set at start, as `/env.json` serves them.
    env: BTreeMap<String, String>,
}

/// The answer to one request, before it is written.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A file, with its media type.
    File(PathBuf, &'static str),
    /// Generated JSON.
    Json(String),
    /// 404.
    NotFound,
    /// 403: the request came through a name other than this loopback address.
    WrongHost,
    /// 405.
    MethodNotAllowed,
    /// 500: the folder could not be read now (say, a file became unreadable).
    Unavailable(String),
}

/// `/templates.json`: what the page loads instead of the examples.
#[derive(Debug, Serialize)]
struct Folder {
    root: String,
    templates: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    routes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lookups: Option<String>,
    events: BTreeMap<String, String>,
}

fn missing(path: &Path, what: &str) -> InputError {
    InputError::Unreadable {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::NotFound, what.to_owned()),
    }
}

impl Site {
    /// Resolves the folders from the arguments and checks that the page and its wasm build exist.
    pub fn resolve(args: &PreviewArgs) -> Result<Self, InputError> {
        let templates = setup::templates_dir(args.dir.as_deref());
        if !templates.is_dir() {
            return Err(missing(&templates, "not a folder of templates"));
        }
        let beside = templates.parent().unwrap_or(Path::new("."));
        let routes = setup::routes_path(args.routes.as_deref(), &templates);
        if let Some(file) = routes.as_ref().filter(|file| !file.is_file()) {
            return Err(missing(file, "no such routes file"));
        }
        let lookups = setup::lookups_path(args.lookups.as_deref(), &templates);
        if let Some(file) = lookups.as_ref().filter(|file| !file.is_file()) {
            return Err(missing(file, "no such lookups file"));
        }
        let events = match &args.events {
            Some(dir) if dir.is_dir() => Some(dir.clone()),
            Some(dir) => return Err(missing(dir, "not a folder of sample events")),
            None => [beside.join("events"), setup::examples_dir().join("events")]
                .into_iter()
                .find(|dir| dir.is_dir()),
        };
        let page = args.page.clone().unwrap_or_else(default_page);
        if !page.join("index.html").is_file() {
            return Err(missing(
                &page.join("index.html"),
                "the previewer page is not there; pass --page DIR (the wasm/preview folder)",
            ));
        }
        let pkg = args
            .pkg
            .clone()
            .unwrap_or_else(|| page.join("..").join("pkg").join("web"));
        if !pkg.join("index.js").is_file() {
            return Err(missing(
                &pkg.join("index.js"),
                "no wasm web build; run wasm/build.sh or pass --pkg DIR",
            ));
        }
        // The tables lookups read may be named by variables of the routes file's choosing.
        let table_variables = routes
            .as_deref()
            .and_then(|file| std::fs::read_to_string(file).ok())
            .map(|text| table_variables(&text))
            .unwrap_or_default();
        Ok(Self {
            page,
            pkg,
            examples: setup::examples_dir(),
            templates,
            routes,
            lookups,
            events,
            env: environment(&table_variables, setup::env_lookup),
        })
    }

    /// Answers `method url` arriving with `host` for a server on `port`.
    #[must_use]
    pub fn route(&self, method: &str, url: &str, host: Option<&str>, port: u16) -> Reply {
        let allowed = [format!("127.0.0.1:{port}"), format!("localhost:{port}")];
        if !host.is_some_and(|host| allowed.iter().any(|name| name == host)) {
            return Reply::WrongHost;
        }
        if method != "GET" && method != "HEAD" {
            return Reply::MethodNotAllowed;
        }
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let Some(path) = percent_decode(path) else {
            return Reply::NotFound;
        };
        if path == "/templates.json" {
            return match self.folder_json() {
                Ok(json) => Reply::Json(json),
                Err(error) => Reply::Unavailable(error.to_string()),
            };
        }
        if path == "/lookups.json" {
            return match &self.lookups {
                Some(file) => Reply::File(file.clone(), media_type(file)),
                None => Reply::NotFound,
            };
        }
        if path == "/env.json" {
            return match serde_json::to_string(&self.env) {
                Ok(json) => Reply::Json(json),
                Err(error) => Reply::Unavailable(error.to_string()),
            };
        }
        let (root, rest) = if let Some(rest) = path.strip_prefix("/pkg/") {
            (&self.pkg, rest)
        } else if let Some(rest) = path.strip_prefix("/examples/") {
            (&self.examples, rest)
        } else if let Some(rest) = path.strip_prefix('/') {
            let first = rest.split('/').next().unwrap_or_default();
            if PRIVATE.contains(&first) {
                return Reply::NotFound;
            }
            (&self.page, rest)
        } else {
            return Reply::NotFound;
        };
        let rest = if rest.is_empty() || rest.ends_with('/') {
            format!("{rest}index.html")
        } else {
            rest.to_owned()
        };
        match inside(root, &rest) {
            Some(file) if file.is_file() => {
                let media = media_type(&file);
                Reply::File(file, media)
            }
            _ => Reply::NotFound,
        }
    }

    /// The folder as the page loads it: templates, routes file text, sample events.
    pub fn folder_json(&self) -> Result<String, InputError> {
        let templates = setup::load_templates(&self.templates)?
            .iter()
            .map(|(path, source)| (path.to_owned(), source.to_owned()))
            .collect();
        let routes = self.routes.as_deref().map(setup::read_text).transpose()?;
        let lookups = self.lookups.as_deref().map(setup::read_text).transpose()?;
        let mut events = BTreeMap::new();
        if let Some(dir) = &self.events {
            let entries = std::fs::read_dir(dir).map_err(|source| InputError::Unreadable {
                path: dir.clone(),
                source,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_file() && name.to_ascii_lowercase().ends_with(".json") {
                    events.insert(name, setup::read_text(&path)?);
                }
            }
        }
        let folder = Folder {
            root: self.templates.display().to_string(),
            templates,
            routes,
            lookups,
            events,
        };
        serde_json::to_string(&folder).map_err(|error| InputError::Data(error.to_string()))
    }

    /// One line per thing served, for the terminal.
    fn describe(&self) -> String {
        let routes = self
            .routes
            .as_ref()
            .map_or_else(|| "none".to_owned(), |file| file.display().to_string());
        let lookups = self
            .lookups
            .as_ref()
            .map_or_else(|| "none".to_owned(), |file| file.display().to_string());
        let events = self
            .events
            .as_ref()
            .map_or_else(|| "none".to_owned(), |dir| dir.display().to_string());
        let env = if self.env.is_empty() {
            "none".to_owned()
        } else {
            self.env
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "templates: {}\nroutes:    {routes}\nlookups:   {lookups}\nenv:       {env}\n\
             events:    {events}\npage:      {}",
            self.templates.display(),
            self.page.display()
        )
    }
}

/// The configuration variables that `lookup` has, by name: what `/env.json` serves. Those are
/// the core's (`vars::ALL`) and `extra`, the variables the routes file names. Values are passed
/// on as they are; what they mean is for the core to resolve in the page.
fn environment(
    extra: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    vars::ALL
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .filter_map(|name| lookup(name).map(|value| (name.to_owned(), value)))
        .collect()
}

/// Every `tableVariable` a routes file's lookups name (`routes[].lookups.<name>.tableVariable`):
/// variables the core reads for the page as it does for `process`. A file that is not JSON
/// names none; the page reports what is wrong with it.
fn table_variables(routes: &str) -> Vec<String> {
    let Ok(file) = serde_json::from_str::<serde_json::Value>(routes) else {
        return Vec::new();
    };
    let mut names: Vec<String> = file["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|route| route["lookups"].as_object())
        .flat_map(|lookups| lookups.values())
        .filter_map(|lookup| lookup["tableVariable"].as_str())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The page of this source tree: `./wasm/preview` from the repository root, else the one
/// beside the crate this binary was built from.
fn default_page() -> PathBuf {
    let local = PathBuf::from("wasm").join("preview");
    if local.join("index.html").is_file() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wasm/preview")
}

/// `root/rest` when `rest` is plain names only (no `..`, no root, no drive), else `None`.
fn inside(root: &Path, rest: &str) -> Option<PathBuf> {
    let relative = Path::new(rest);
    let plain = relative.components().all(
        |part| matches!(part, Component::Normal(name) if !name.to_string_lossy().starts_with('.')),
    );
    plain.then(|| root.join(relative))
}

/// Decodes `%XX` escapes; `None` for a broken escape, NUL or text that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    let text = String::from_utf8(decoded).ok()?;
    (!text.contains('\0')).then_some(text)
}

fn media_type(file: &Path) -> &'static str {
    let extension = file
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "wasm" => "application/wasm",
        "txt" | "ts" | "md" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// The longest request head read; browsers send well under 8 KiB.
const MAX_HEAD: usize = 16 * 1024;

/// Reads the request head (up to the blank line) and returns method, target and `Host`.
fn read_request(stream: &mut TcpStream) -> Option<(String, String, Option<String>)> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).ok().filter(|&read| read > 0)?;
        head.extend_from_slice(&chunk[..read]);
        if head.len() > MAX_HEAD {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target) = (request_line.next()?, request_line.next()?);
    let host = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("host")
            .then(|| value.trim().to_owned())
    });
    Some((method.to_owned(), target.to_owned(), host))
}

/// Writes `reply` as an HTTP/1.1 response and closes the connection.
fn write_reply(stream: &mut TcpStream, head_only: bool, reply: Reply) -> io::Result<()> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (status, body, media): (&str, Vec<u8>, &str) = match reply {
        Reply::File(path, media) => match std::fs::read(&path) {
            Ok(bytes) => ("200 OK", bytes, media),
            Err(_) => ("404 Not Found", b"not found\n".to_vec(), TEXT),
        },
        Reply::Json(json) => (
            "200 OK",
            json.into_bytes(),
            "application/json; charset=utf-8",
        ),
        Reply::NotFound => ("404 Not Found", b"not found\n".to_vec(), TEXT),
        Reply::WrongHost => ("403 Forbidden", b"use http://127.0.0.1\n".to_vec(), TEXT),
        Reply::MethodNotAllowed => ("405 Method Not Allowed", Vec::new(), TEXT),
        Reply::Unavailable(message) => (
            "500 Internal Server Error",
            format!("{message}\n").into_bytes(),
            TEXT,
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {media}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        response.extend_from_slice(&body);
    }
    stream.write_all(&response)?;
    stream.flush()
}

/// Answers one connection: one request, one response. A client that goes away or stalls
/// (a browser's unused pre-connection) costs only its own thread.
fn answer(mut stream: TcpStream, site: &Site, port: u16) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((method, target, host)) = read_request(&mut stream) else {
        return;
    };
    let reply = site.route(&method, &target, host.as_deref(), port);
    let _ = write_reply(&mut stream, method == "HEAD", reply);
}

/// Answers connections until the process is stopped (Ctrl+C), one thread per connection.
///
/// Written on the standard library rather than a server crate on purpose: a browser opens six
/// connections at once and keeps some idle, and the small blocking server crates serve each
/// connection on a pooled thread for its whole life, which stalled page loads here. A thread
/// per connection and `Connection: close` keep every request independent.
pub fn serve(listener: &TcpListener, site: &Site, port: u16) {
    for stream in listener.incoming().flatten() {
        let site = site.clone();
        std::thread::spawn(move || answer(stream, &site, port));
    }
}

/// Binds 127.0.0.1:`port` (0: a free port) and returns the listener and its port.
pub fn bind(port: u16) -> Result<(TcpListener, u16), CliError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|error| {
        CliError::Findings(format!(
            "cannot listen on 127.0.0.1:{port}: {error}; pass --port with a free port, or 0"
        ))
    })?;
    let bound = listener.local_addr().map_or(port, |addr| addr.port());
    Ok((listener, bound))
}

/// Runs the command: prints the URL (first line) and what is served, then serves until stopped.
/// The configuration is resolved once here, as `process` resolves it, for its warnings only:
/// the page resolves it again in the browser and shows any error there.
pub fn run(args: &PreviewArgs, out: &mut impl Write, err: &mut impl Write) -> Result<(), CliError> {
    let site = Site::resolve(args)?;
    site.folder_json()?; // a folder that cannot be read fails now, not in the browser
    if let Err(error) = setup::resolve_config(site.routes.as_deref(), &site.templates, err) {
        // The page shows it too; the server still serves, so the author can fix it there.
        let _ = writeln!(err, "mailroom: warning: {error}");
    }
    if let Some(file) = &site.lookups
        && let Err(error) = setup::read_text(file).and_then(|text| Fixtures::parse(file, &text))
    {
        // Likewise: served as it is, for the page to show and the author to fix.
        let _ = writeln!(err, "mailroom: warning: {error}");
    }
    let (listener, port) = bind(args.port)?;
    writeln!(
        out,
        "http://127.0.0.1:{port}/\n{}\nServing on 127.0.0.1 only; press Ctrl+C to stop.",
        site.describe()
    )
    .and_then(|()| out.flush())
    .map_err(HostError::Output)?;
    serve(&listener, &site, port);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const PORT: u16 = 4321;
    const HOST: Option<&str> = Some("127.0.0.1:4321");

    /// A repository-like layout: wasm/preview, wasm/pkg/web, emails/templates + routes + events.
    fn layout() -> (tempfile::TempDir, PreviewArgs) {
        let root = tempfile::tempdir().unwrap();
        let base = root.path();
        for (path, text) in [
            (
                "wasm/preview/index.html",
                "<!doctype html><title>page</title>",
            ),
            ("wasm/preview/preview.js", "export {};"),
            ("wasm/preview/tests/preview.test.mjs", "secret test"),
            ("wasm/preview/node_modules/x/index.js", "dependency"),
            ("wasm/pkg/web/index.js", "export default 1;"),
            ("wasm/pkg/web/mailroom_wasm_bg.wasm", "\0asm"),
            (
                "emails/templates/orders/confirmation.html",
                "<p>{{ name }}</p>",
            ),
            ("emails/templates/orders/confirmation.txt", "{{ name }}"),
            ("emails/templates/notes.md", "not a template"),
            (
                "emails/templates/routes.json",
                r#"{"sender":"a@example.com","routes":[]}"#,
            ),
            (
                "emails/templates/lookups.json",
                r#"{"people": [{"key": {"PK": "P#1"}, "item": {"name": "Ada"}}]}"#,
            ),
            ("emails/events/order.json", r##"{"name":"#1"}"##),
            ("emails/events/readme.txt", "not an event"),
            ("secret.txt", "outside"),
        ] {
            let file = base.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
        let args = PreviewArgs {
            dir: Some(base.join("emails/templates")),
            routes: None,
            lookups: None,
            events: None,
            port: 0,
            page: Some(base.join("wasm/preview")),
            pkg: None,
        };
        (root, args)
    }

    #[test]
    fn serves_the_page_the_wasm_build_and_the_examples() {
        let (root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        let get = |url| site.route("GET", url, HOST, PORT);
        let base = root.path();
        assert_eq!(
            get("/"),
            Reply::File(
                base.join("wasm/preview/index.html"),
                "text/html; charset=utf-8"
            )
        );
        assert_eq!(
            get("/preview.js?v=2"),
            Reply::File(
                base.join("wasm/preview/preview.js"),
                "text/javascript; charset=utf-8"
            )
        );
        assert_eq!(
            get("/pkg/mailroom_wasm_bg.wasm"),
            Reply::File(
                base.join("wasm/preview/../pkg/web/mailroom_wasm_bg.wasm"),
                "application/wasm"
            )
        );
        assert!(matches!(
            get("/examples/templates/routes.json"),
            Reply::File(_, "application/json; charset=utf-8")
        ));
        assert_eq!(get("/nothing.html"), Reply::NotFound);
    }

    #[test]
    fn templates_json_carries_the_folder_its_routes_and_events() {
        let (_root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        let Reply::Json(json) = site.route("GET", "/templates.json", HOST, PORT) else {
            panic!("templates.json is not JSON");
        };
        let folder: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            folder["templates"]["orders/confirmation.html"],
            "<p>{{ name }}</p>"
        );
        assert_eq!(folder["templates"]["orders/confirmation.txt"], "{{ name }}");
        assert!(folder["templates"].get("notes.md").is_none());
        assert!(folder["templates"].get("routes.json").is_none());
        assert!(folder["routes"].as_str().unwrap().contains("\"routes\""));
        assert_eq!(folder["events"]["order.json"], r##"{"name":"#1"}"##);
        assert!(folder["events"].get("readme.txt").is_none());
        assert!(folder["root"].as_str().unwrap().ends_with("templates"));
    }

    #[test]
    fn the_routes_file_is_found_as_every_command_finds_it() {
        let (root, mut args) = layout();
        let site = Site::resolve(&args).unwrap();
        assert_eq!(
            site.routes,
            Some(root.path().join("emails/templates/routes.json"))
        );
        // Not beside DIR: only in it, or named.
        fs::rename(
            root.path().join("emails/templates/routes.json"),
            root.path().join("emails/routes.json"),
        )
        .unwrap();
        assert_eq!(Site::resolve(&args).unwrap().routes, None);
        args.routes = Some(root.path().join("emails/routes.json"));
        assert_eq!(
            Site::resolve(&args).unwrap().routes,
            Some(root.path().join("emails/routes.json"))
        );
    }

    #[test]
    fn env_json_carries_the_configuration_variables_that_are_set() {
        let env = environment(&["PEOPLE_TABLE".to_owned()], |name| match name {
            "SENDER" => Some("Shop <shop@example.com>".to_owned()),
            "SUBJECT" => Some(String::new()),
            "PEOPLE_TABLE" => Some("people-prod".to_owned()),
            "HOME" | "AWS_SECRET_ACCESS_KEY" => Some("not configuration".to_owned()),
            _ => None,
        });
        assert_eq!(
            env.into_iter().collect::<Vec<_>>(),
            [
                ("PEOPLE_TABLE".to_owned(), "people-prod".to_owned()),
                ("SENDER".to_owned(), "Shop <shop@example.com>".to_owned()),
                ("SUBJECT".to_owned(), String::new())
            ]
        );
        let (_root, args) = layout();
        let mut site = Site::resolve(&args).unwrap();
        site.env = [("SENDER".to_owned(), "a@example.com".to_owned())].into();
        assert_eq!(
            site.route("GET", "/env.json", HOST, PORT),
            Reply::Json(r#"{"SENDER":"a@example.com"}"#.to_owned())
        );
    }

    #[test]
    fn the_table_variables_of_the_routes_file_reach_env_json() {
        let routes = r#"{"routes": [
            {"name": "a", "lookups": {
                "x": {"table": "t", "tableVariable": "PEOPLE_TABLE", "key": {"PK": "1"}},
                "y": {"table": "t", "key": {"PK": "1"}}}},
            {"name": "b", "lookups": {"z": {"tableVariable": "COURSES_TABLE", "key": {}}}},
            {"name": "c", "lookups": {"w": {"tableVariable": "PEOPLE_TABLE", "key": {}}}},
            {"name": "d"}
        ]}"#;
        assert_eq!(table_variables(routes), ["COURSES_TABLE", "PEOPLE_TABLE"]);
        assert!(table_variables("{not json").is_empty());
        assert!(table_variables(r#"{"routes": {}}"#).is_empty());
    }

    #[test]
    fn the_lookup_fixtures_are_served_as_on_disk() {
        let (root, mut args) = layout();
        let site = Site::resolve(&args).unwrap();
        let fixtures = root.path().join("emails/templates/lookups.json");
        assert_eq!(
            site.route("GET", "/lookups.json", HOST, PORT),
            Reply::File(fixtures.clone(), "application/json; charset=utf-8")
        );
        let Reply::Json(json) = site.route("GET", "/templates.json", HOST, PORT) else {
            panic!("templates.json is not JSON");
        };
        let folder: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            folder["lookups"],
            r#"{"people": [{"key": {"PK": "P#1"}, "item": {"name": "Ada"}}]}"#
        );
        assert!(folder["templates"].get("lookups.json").is_none());
        // --lookups names another file; one that is not there stops the server at start.
        let other = root.path().join("fixtures.json");
        fs::write(&other, "{}").unwrap();
        args.lookups = Some(other.clone());
        let site = Site::resolve(&args).unwrap();
        assert_eq!(
            site.route("GET", "/lookups.json", HOST, PORT),
            Reply::File(other, "application/json; charset=utf-8")
        );
        args.lookups = Some(root.path().join("nowhere.json"));
        let error = Site::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("no such lookups file"), "{error}");
        // Without a file: 404 from /lookups.json, no `lookups` in templates.json.
        fs::remove_file(&fixtures).unwrap();
        args.lookups = None;
        let site = Site::resolve(&args).unwrap();
        assert_eq!(
            site.route("GET", "/lookups.json", HOST, PORT),
            Reply::NotFound
        );
        let Reply::Json(json) = site.route("GET", "/templates.json", HOST, PORT) else {
            panic!("templates.json is not JSON");
        };
        let folder: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(folder.get("lookups").is_none(), "{folder}");
    }

    #[test]
    fn templates_json_follows_the_disk() {
        let (root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        fs::write(
            root.path()
                .join("emails/templates/orders/confirmation.html"),
            "<p>edited</p>",
        )
        .unwrap();
        assert!(site.folder_json().unwrap().contains("<p>edited</p>"));
    }

    #[test]
    fn never_serves_outside_its_folders_nor_the_page_tests() {
        let (_root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        for url in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/pkg/../../../secret.txt",
            "/pkg/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
            "/examples/../../secret.txt",
            "/tests/preview.test.mjs",
            "/node_modules/x/index.js",
            "/package.json",
            "/.git/config",
            "/%zz",
            "/%00",
            "//etc/passwd",
        ] {
            assert_eq!(site.route("GET", url, HOST, PORT), Reply::NotFound, "{url}");
        }
    }

    #[test]
    fn answers_only_reads_through_its_own_address() {
        let (_root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        assert_eq!(site.route("POST", "/", HOST, PORT), Reply::MethodNotAllowed);
        assert!(matches!(
            site.route("HEAD", "/", HOST, PORT),
            Reply::File(..)
        ));
        assert!(matches!(
            site.route("GET", "/", Some("localhost:4321"), PORT),
            Reply::File(..)
        ));
        assert_eq!(
            site.route("GET", "/", Some("evil.example:4321"), PORT),
            Reply::WrongHost
        );
        assert_eq!(
            site.route("GET", "/", Some("127.0.0.1:80"), PORT),
            Reply::WrongHost
        );
        assert_eq!(site.route("GET", "/", None, PORT), Reply::WrongHost);
    }

    #[test]
    fn a_missing_page_or_wasm_build_is_a_clear_input_error() {
        let (root, mut args) = layout();
        fs::remove_file(root.path().join("wasm/pkg/web/index.js")).unwrap();
        let error = Site::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("wasm/build.sh"), "{error}");
        args.page = Some(root.path().join("nowhere"));
        let error = Site::resolve(&args).unwrap_err().to_string();
        assert!(error.contains("--page"), "{error}");
        let (_root, mut args) = layout();
        args.routes = Some(PathBuf::from("/no/such/routes.json"));
        assert!(Site::resolve(&args).is_err());
    }

    fn http_get(port: u16, path: &str, host: &str) -> (String, Vec<u8>) {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        (
            String::from_utf8_lossy(&bytes[..split]).into_owned(),
            bytes[split + 4..].to_vec(),
        )
    }

    #[test]
    fn serves_over_http_on_a_free_loopback_port() {
        let (_root, args) = layout();
        let site = Site::resolve(&args).unwrap();
        let (listener, port) = bind(0).unwrap();
        assert_ne!(port, 0);
        // The server thread ends with the test process.
        std::thread::spawn(move || serve(&listener, &site, port));
        let host = format!("127.0.0.1:{port}");
        let (head, body) = http_get(port, "/", &host);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{head}"
        );
        assert_eq!(body, b"<!doctype html><title>page</title>");
        let (head, body) = http_get(port, "/templates.json", &host);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let folder: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            folder["templates"]["orders/confirmation.html"],
            "<p>{{ name }}</p>"
        );
        let (head, body) = http_get(port, "/lookups.json", &host);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let fixtures: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(fixtures["people"][0]["item"]["name"], "Ada");
        let (head, _) = http_get(port, "/pkg/mailroom_wasm_bg.wasm", &host);
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/wasm"),
            "{head}"
        );
        let (head, _) = http_get(port, "/../secret.txt", &host);
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        let (head, _) = http_get(port, "/", "attacker.example");
        assert!(head.starts_with("HTTP/1.1 403"), "{head}");
        // A connection that never sends a request (a browser's pre-connection) blocks nobody.
        let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (head, _) = http_get(port, "/preview.js", &host);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (head, body) = {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(stream, "HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).unwrap();
            let text = String::from_utf8(bytes).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            (head.to_owned(), body.to_owned())
        };
        assert!(head.contains("Content-Length: 34"), "{head}");
        assert_eq!(body, "");
    }

    #[test]
    fn a_taken_port_is_reported() {
        let (_first, port) = bind(0).unwrap();
        let error = bind(port).err().unwrap().to_string();
        assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    }
}
