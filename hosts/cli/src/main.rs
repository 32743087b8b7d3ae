//! `mailroom`: the command line host of mailroom-core. See `mailroom --help`.
//!
//! `main` only parses arguments, runs the command, and turns its error into one line on
//! standard error and an exit status (0 done, 1 problems found or our failure, 2 unusable
//! input). The commands live in [`commands`].

mod cli;
mod commands;
mod diagnostic;
mod error;
mod lookups;
mod outbox;
mod parts;
mod report;
mod setup;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::{CliError, HostError};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A bug must still end in one readable line, not a panic message and a backtrace hint.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("mailroom: internal error{location}: {message}; please report it");
    }));
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut err = io::stderr().lock();
    let result = match &cli.command {
        Command::Process(args) => commands::process::run(args, &mut out, &mut err),
        Command::Render(args) => commands::render::run(args, &mut out, &mut err),
        Command::Check(args) => commands::check::run(args, &mut out, &mut err),
        Command::Preview(args) => commands::preview::run(args, &mut out, &mut err),
        #[cfg(feature = "ledger")]
        Command::Ledger(args) => commands::ledger::run(args, &mut out, &mut err),
        #[cfg(not(feature = "ledger"))]
        Command::Ledger(_) => Err(error::InputError::LedgerNotBuilt.into()),
    };
    let result = result.and_then(|()| out.flush().map_err(|e| HostError::Output(e).into()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `mailroom process ... | head`: the reader has what it wanted.
        Err(CliError::Host(HostError::Output(error)))
            if error.kind() == io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(error) => {
            let _ = out.flush();
            let _ = writeln!(err, "mailroom: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
