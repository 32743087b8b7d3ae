//! One module per subcommand. Each takes its parsed arguments and an output to write to, and
//! returns what went wrong as a [`CliError`](crate::error::CliError) for `main` to turn into an
//! exit status.

pub mod check;
#[cfg(feature = "ledger")]
pub mod ledger;
pub mod preview;
pub mod process;
pub mod render;
