//! The `netrare` command: parse arguments, run the subcommand, turn the outcome into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = netrare::cli::Cli::parse();
    netrare::cli::init_logging(&cli.global);
    match netrare::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("netrare: error: {err:#}");
            ExitCode::from(netrare::cli::exit_code(&err))
        }
    }
}
