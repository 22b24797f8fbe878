//! The `attnbounds` command line: a thin layer over the library.
//!
//! Each subcommand parses its arguments, calls one library function and prints or writes the
//! result. No mathematics lives here.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
