//! The `facefind` command. Parsing and dispatch only; the work lives in the library.
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "facefind",
    version,
    about = "Find faces in a local photo library, offline"
)]
struct Cli {
    /// Where the numeric kernels run: auto (a hardware GPU where it is measured to win,
    /// else the CPU), gpu (any adapter, software ones included) or cpu. Default: the
    /// FACEFIND_BACKEND environment variable, else auto.
    #[arg(long, global = true, value_name = "auto|gpu|cpu")]
    backend: Option<facefind::compute::select::BackendChoice>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Every compute kernel on the CPU and the GPU, beside the machine's measured limits.
    Kernels(facefind::bench::kernels::KernelsArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    facefind::compute::select::request(cli.backend)?;
    match cli.command {
        None => {
            Cli::command().print_help()?;
            Ok(())
        }
        Some(Command::Bench {
            command: BenchCommand::Kernels(args),
        }) => Ok(facefind::bench::kernels::run(&args)?),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facefind: {err:#}");
            ExitCode::FAILURE
        }
    }
}
