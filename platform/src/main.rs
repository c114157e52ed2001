//! The `storefront` binary.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use platform::cli::{Cli, Console, run};

/// mimalloc instead of the system allocator: a page render allocates and frees many small
/// strings across the runtime's threads, where glibc's allocator spent about a tenth of
/// the server's time in the storefront benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A theme render worker (started by a serving node): no settings, runtime or logging.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == platform::theme::worker::SUBCOMMAND)
    {
        return platform::theme::worker::main();
    }
    let cli = Cli::parse();
    platform::init_tracing(cli.settings.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let mut input = std::io::BufReader::new(std::io::stdin());
    let mut console = Console {
        out: &mut out,
        input: &mut input,
        terminal: std::io::stderr().is_terminal(),
    };
    match runtime.block_on(run(cli, &mut console)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
