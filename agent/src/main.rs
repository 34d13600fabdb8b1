//! `rconsul`: the agent binary and its command-line interface.

mod checks;
mod cli;
mod cluster;
mod config;
mod events;
mod local;
mod logging;
mod member_snapshot;
mod operator;
mod regexp;
mod run;
mod sessions;

use std::process::ExitCode;

/// mimalloc: measurably cheaper than glibc malloc for the many small, short-lived
/// allocations of HTTP request handling, and returns memory to the OS promptly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `rconsul agent ...`: parse the configuration, start the runtime, run until a signal.
fn agent(args: &[String]) -> ExitCode {
    let cfg = match config::parse_agent_args(args) {
        Ok(cfg) => cfg,
        Err(config::ConfigError::Usage(msg)) if msg.is_empty() => {
            // -h / -help: the flag list, and success, as Consul does.
            eprintln!("Usage:\n{}", config::AGENT_USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e @ config::ConfigError::Usage(_)) => {
            eprintln!("{e}");
            eprintln!("Usage:\n{}", config::AGENT_USAGE);
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    logging::init(cfg.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rconsul")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("==> {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Opts this process out of transparent huge pages before the first allocation.
///
/// mimalloc asks the kernel for huge pages on its arenas; a few touched bytes then cost
/// 2 MiB of RSS each, which multiplied the agent's idle RSS (50 MiB measured) for no
/// speed gain at this heap size. It runs from `.init_array`, i.e. before the Rust
/// runtime allocates anything, so even the first arena is covered.
extern "C" fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[used]
#[link_section = ".init_array"]
static DISABLE_THP_AT_LOAD: extern "C" fn() = disable_transparent_huge_pages;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("agent") => agent(&args[1..]),
        Some("version") | Some("-version") | Some("--version") | Some("-v") => {
            ExitCode::from(exit(cli::run_version()))
        }
        Some("kv") => ExitCode::from(exit(cli::run_kv(&args[1..]))),
        Some("lock") => ExitCode::from(exit(cli::run_lock(&args[1..]))),
        Some("members") => ExitCode::from(exit(cli::run_members(&args[1..]))),
        Some("catalog") => ExitCode::from(exit(cli::run_catalog(&args[1..]))),
        Some("services") => ExitCode::from(exit(cli::run_services(&args[1..]))),
        Some("maint") => ExitCode::from(exit(cli::run_maint(&args[1..]))),
        Some("reload") => ExitCode::from(exit(cli::run_reload(&args[1..]))),
        Some("leave") => ExitCode::from(exit(cli::run_leave(&args[1..]))),
        Some("event") => ExitCode::from(exit(cli::run_event(&args[1..]))),
        Some("watch") => ExitCode::from(exit(cli::run_watch(&args[1..]))),
        Some("join") => ExitCode::from(exit(cli::run_join(&args[1..]))),
        Some("force-leave") => ExitCode::from(exit(cli::run_force_leave(&args[1..]))),
        Some("operator") => ExitCode::from(exit(cli::run_operator(&args[1..]))),
        Some("-h") | Some("-help") | Some("--help") => {
            cli::print_usage();
            ExitCode::SUCCESS
        }
        // Consul exits 127 for a missing or unknown command.
        _ => {
            cli::print_usage();
            ExitCode::from(127)
        }
    }
}

/// Clamps a CLI exit code into the range a process can return.
fn exit(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}
