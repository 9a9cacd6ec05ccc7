//! The `netrare` command: parse arguments, run the subcommand, turn the outcome into an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// The threads allocate and free many short-lived buffers: with the system allocator they
/// waited on its locks (six times the context switches) and lost 12% of the backfill's wall time
/// (docs/dependencies.md). polars makes the same choice.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = netrare::cli::Cli::parse();
    netrare::cli::init_logging(&cli.global);
    match netrare::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A full or closed stderr must not turn an error into a panic (exit 101).
            let _ = writeln!(std::io::stderr(), "netrare: error: {err:#}");
            ExitCode::from(netrare::cli::exit_code(&err))
        }
    }
}
