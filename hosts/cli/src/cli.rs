//! The command line, as clap parses it. Each subcommand's arguments live beside its help text
//! and examples; the work is done in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Turn queued business events into email, locally: no AWS account needed.
#[derive(Debug, Parser)]
#[command(
    name = "mailroom",
    version,
    about,
    long_about = "Turn queued business events into email, locally.\n\n\
        mailroom reads Lambda SQS events, decides for every record whether to send, retry or \
        reject it (exactly as the Lambda does), and writes each email as an .eml file.",
    after_help = "Examples:\n  \
        mailroom process examples/events/quickstart.json\n  \
        mailroom render orders/confirmation.html --data examples/events/order-raw.json\n  \
        mailroom render welcome/enrollment-completed.html --data examples/events/welcome-raw.json\n  \
        mailroom check examples/templates --events examples/events\n  \
        mailroom ledger address ana@example.com   # built with --features ledger"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process a Lambda SQS event: one line per record, each email written to the outbox.
    #[command(after_help = PROCESS_EXAMPLES)]
    Process(ProcessArgs),
    /// Render one template with sample data: subject, text and HTML.
    #[command(after_help = RENDER_EXAMPLES)]
    Render(RenderArgs),
    /// Compile every template of a folder and render it against sample events (for CI).
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Serve the template previewer and a templates folder on 127.0.0.1, and print its URL.
    #[command(after_help = PREVIEW_EXAMPLES)]
    Preview(crate::commands::preview::PreviewArgs),
    /// Ask the delivery ledger in DynamoDB what happened to an email or an address, list recent
    /// bounces and complaints, lift a suppression.
    #[cfg(feature = "ledger")]
    Ledger(crate::commands::ledger::LedgerArgs),
    /// The delivery ledger's commands (show, address, bounces, complaints, lift): not in this
    /// build, which has no AWS SDK; `cargo install --path hosts/cli --features ledger` has them.
    #[cfg(not(feature = "ledger"))]
    #[command(disable_help_flag = true)]
    Ledger(NotBuiltArgs),
}

/// Whatever follows `mailroom ledger` in a build without it: taken, so that the answer is how
/// to get the command rather than clap's "unrecognized subcommand".
#[cfg(not(feature = "ledger"))]
#[derive(Debug, Args)]
pub struct NotBuiltArgs {
    /// Ignored.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

/// How every command finds its configuration; the precedence is the core's
/// (`mailroom_core::config`). A macro so that help texts can `concat!` it.
macro_rules! configuration {
    () => {
        concat!(
            "Configuration, the same for every command:\n  ",
            "The routes file is --routes FILE, else routes.json in the templates folder, else none.\n  ",
            "With a routes file, it holds the routes; without one, the Lambda's variables SENDER,\n  ",
            "SUBJECT, SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL and RECIPIENT_FIELD describe one default\n  ",
            "route. sender, replyTo and sandboxRecipient come from the routes file, else from SENDER,\n  ",
            "REPLY_TO and SANDBOX_RECIPIENT. A variable that is set but not used is warned about.\n  ",
            "Lookups a route declares are answered from --lookups FILE, else lookups.json in the\n  ",
            "templates folder; without one every lookup fails and its record is retried. The file\n  ",
            "maps tables to entries, e.g. {\"enrollments\": [{\"key\": {\"PK\": \"STUDENT#1\", \"SK\":\n  ",
            "\"PROFILE\"}, \"item\": {\"firstName\": \"Ana\"}}]} (README.md, section Lookups).\n",
        )
    };
}

const PREVIEW_EXAMPLES: &str = concat!(
    "The page renders and decides in the browser (mailroom's WebAssembly build); the server \
     only hands out files, on 127.0.0.1, the lookup fixtures (GET /lookups.json) and the \
     configuration variables of its environment (GET /env.json), so the page configures exactly \
     as `mailroom process` does. Reload the page after editing a template on disk. Needs the \
     web build: wasm/build.sh.\n\n",
    configuration!(),
    "\n",
    "Examples:\n  ",
    "mailroom preview\n  ",
    "mailroom preview ./emails/templates --routes ./emails/routes.json --port 8080\n  ",
    "mailroom preview ./emails/templates --lookups ./emails/fixtures.json"
);

const PROCESS_EXAMPLES: &str = concat!(
    configuration!(),
    "\n",
    "--outcomes FILE answers sends in advance, to see what mailroom does when SES throttles or\n",
    "refuses: a JSON object from messageId to what SES said, e.g.\n  ",
    "{\"m-1\": {\"outcome\": \"failed\", \"code\": \"TooManyRequestsException\",\n          ",
    "\"message\": \"Maximum sending rate exceeded.\", \"httpStatus\": 429},\n   ",
    "\"m-2\": {\"outcome\": \"accepted\", \"messageId\": \"ses-1\"}}\n",
    "(outcome: accepted, alreadySent, inProgressElsewhere or failed). A listed record is not\n",
    "written to the outbox; every other one is.\n\n",
    "Exit status: 0 when the event was processed, whatever the decisions; 2 when an input or\n",
    "the configuration is unusable.\n\n",
    "Examples:\n  ",
    "mailroom process examples/events/quickstart.json\n  ",
    "mailroom process examples/events/order-raw.json --json > report.json\n  ",
    "mailroom process examples/events/quickstart.json --outcomes throttled.json\n  ",
    "mailroom process examples/events/welcome-raw.json --lookups ./staging-items.json\n  ",
    "mailroom process event.json --templates ./emails --routes ./emails/routes.json --outbox /tmp/mail\n  ",
    "SENDER='Courses <courses@example.com>' SUBJECT='New enrollment' \\\n    ",
    "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL=enrollment/organizer.html \\\n    ",
    "mailroom process event.json --templates ./emails   # a folder without routes.json"
);

const RENDER_EXAMPLES: &str = concat!(
    "--data takes a file or inline JSON: an event body, any envelope around one (SNS, \
     EventBridge), or a Lambda SQS event (its first record is used). Without any \
     configuration the template is rendered on its own.\n\n",
    configuration!(),
    "\n",
    "Examples:\n  ",
    "mailroom render orders/confirmation.html --data examples/events/order-raw.json\n  ",
    "mailroom render enrollment/organizer.html --data '{\"studentName\":\"Ana\",\"courseName\":\"Rust\"}' \\\n    ",
    "--subject 'New enrollment: {{ studentName }}'\n  ",
    "mailroom render welcome/enrollment-completed.html --data examples/events/welcome-raw.json \\\n    ",
    "--lookups ./staging-items.json   # the lookups it read are listed after the HTML"
);

const CHECK_EXAMPLES: &str = concat!(
    "Sample events (*.json in --events DIR) may be Lambda SQS events or bare event bodies.\n\n",
    configuration!(),
    "DIR is the templates folder. With no configuration at all (no routes file, no\n",
    "SUCCESSFUL_ENROLLMENT_NOTIFICATION_EMAIL), every template is rendered on its own against\n",
    "every sample.\n\n",
    "A lookup a sample needs that no fixture answers is a problem (error[lookup]) with the entry\n",
    "to add; so is a template reading lookup.<name> for a lookup its route does not declare.\n\n",
    "Exit status: 0 when everything compiles and renders, 1 when a problem was found, 2 when an \
     input is unusable.\n\n",
    "Examples:\n  ",
    "mailroom check examples/templates --events examples/events\n  ",
    "mailroom check ./emails --events ./emails/samples"
);

/// Where templates and configuration come from; shared by every command.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Templates folder; template paths in the configuration are relative to it
    /// [default: examples/templates]
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Routes file (JSON) [default: routes.json in the templates folder, when there is one]
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Lookup fixtures: what each lookup of a route finds
    /// [default: lookups.json in the templates folder, when there is one]
    #[arg(long, value_name = "FILE")]
    pub lookups: Option<PathBuf>,
    /// The current time: RFC 3339 (2026-11-23T10:00:00Z) or Unix milliseconds
    /// [default: the system clock]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

/// `mailroom process`.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// A Lambda SQS event file ({"Records": [...]}), as Lambda delivers it
    #[arg(value_name = "EVENT_FILE")]
    pub event: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Folder for the .eml files, one per email, named after its idempotency key
    #[arg(long, value_name = "DIR", default_value = "outbox")]
    pub outbox: PathBuf,
    /// Do not write .eml files (decisions and report only)
    #[arg(long, conflicts_with = "outbox")]
    pub no_outbox: bool,
    /// SES answers given in advance: a JSON object from messageId to a send outcome
    /// (see below); a listed record's send gets that answer instead of going to the outbox
    #[arg(long, value_name = "FILE")]
    pub outcomes: Option<PathBuf>,
    /// Print one JSON document (the batch report) instead of one line per record
    #[arg(long)]
    pub json: bool,
    /// Seed of the retry back-off jitter; the same seed gives the same back-offs
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for large standard-queue events; the output does not depend on it
    /// [default: the number of cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// `mailroom render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Template path inside the templates folder, e.g. orders/confirmation.html
    #[arg(value_name = "TEMPLATE")]
    pub template: String,
    /// Sample data: a JSON file, or inline JSON starting with '{'
    #[arg(long, value_name = "EVENT_JSON")]
    pub data: String,
    /// Subject template [default: the subject of the route that uses TEMPLATE]
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the rendering as JSON (subject, html, text, variables, missing)
    #[arg(long)]
    pub json: bool,
}

/// `mailroom check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The templates folder to check
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Folder of sample events (*.json): Lambda SQS events or bare event bodies
    #[arg(long, value_name = "DIR")]
    pub events: Option<PathBuf>,
    /// Routes file [default: DIR/routes.json, when there is one]
    #[arg(long, value_name = "FILE")]
    pub routes: Option<PathBuf>,
    /// Lookup fixtures: what each lookup of a route finds
    /// [default: DIR/lookups.json, when there is one]
    #[arg(long, value_name = "FILE")]
    pub lookups: Option<PathBuf>,
    /// The current time: RFC 3339 or Unix milliseconds [default: the system clock]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}
