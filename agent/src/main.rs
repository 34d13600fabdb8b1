//! `rconsul`: the agent binary. `rconsul agent` runs the daemon from this crate; every
//! other command is `rconsul_cli`'s.

mod acl;
mod autopilot;
mod checks;
mod cluster;
mod config;
mod durable_file;
mod events;
mod keyring;
mod local;
mod logging;
mod member_snapshot;
mod operator;
mod run;
mod sessions;
#[cfg(test)]
mod test_consensus;
mod tls;
mod tombstone_gc;
mod validate;

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
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = agent_worker_threads(std::env::var("GOMAXPROCS").ok().as_deref(), cores);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(workers)
        .thread_name("rconsul")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(run::run(cfg));
    // Tasks still stuck (e.g. a storage thread that never finished closing) must not
    // keep the process alive: give them a moment, then leave them behind.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("==> {e:#}");
            ExitCode::from(1)
        }
    }
}

/// How many worker threads the agent's runtime gets: its CPU budget less the one core the
/// `raft` thread (raft's core, state machine and write batcher on its own runtime) keeps
/// busy under write load, and never fewer than one.
///
/// The budget is `GOMAXPROCS` when it is a positive integer (the knob Consul operators
/// already use to cap the agent's CPU), otherwise the number of cores. With one worker per
/// core besides the raft thread, a loaded 2-core machine ran three busy threads on two
/// cores: on this project's benchmark machine the leader answered KV GET 25% slower and
/// KV PUT 8% slower than with one worker (README, "Threads").
fn agent_worker_threads(gomaxprocs: Option<&str>, cores: usize) -> usize {
    let budget = gomaxprocs
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(cores);
    budget.saturating_sub(1).max(1)
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

/// mimalloc 3's `mi_option_purge_delay` (its position in `mi_option_e`).
const MI_OPTION_PURGE_DELAY: libc::c_int = 15;

extern "C" {
    // From the mimalloc library the `mimalloc` crate links in.
    fn mi_option_set(option: libc::c_int, value: libc::c_long);
    #[cfg(test)]
    fn mi_option_get(option: libc::c_int) -> libc::c_long;
}

/// Makes mimalloc return freed memory to the OS at once instead of after a delay that an
/// idle thread never reaches: after a write burst the agent's RSS settled at 39 MiB
/// with the default (a 1 s delay) and at 30 MiB with this, with no measurable change
/// in throughput.
fn purge_freed_memory_promptly() {
    // SAFETY: plain integer arguments; mimalloc's options are safe to set at any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
}

/// mimalloc's current purge delay (for the test that checks the option index).
#[cfg(test)]
fn purge_delay() -> libc::c_long {
    // SAFETY: reading an option has no preconditions.
    unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }
}

fn main() -> ExitCode {
    purge_freed_memory_promptly();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("agent") => agent(&args[1..]),
        // Every other command is a client of an agent's HTTP API.
        _ => ExitCode::from(rconsul_cli::run(
            &args,
            &rconsul_cli::AgentHooks {
                check_config: validate::check_config,
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn workers_leave_one_core_to_the_raft_thread() {
        use super::agent_worker_threads as workers;
        assert_eq!(workers(None, 1), 1);
        assert_eq!(workers(None, 2), 1);
        assert_eq!(workers(None, 8), 7);
        assert_eq!(workers(Some("4"), 2), 3);
        assert_eq!(workers(Some(" 1 "), 8), 1);
        // Not a positive integer: ignored, as Go ignores a bad GOMAXPROCS.
        assert_eq!(workers(Some("0"), 8), 7);
        assert_eq!(workers(Some("lots"), 4), 3);
        assert_eq!(workers(Some(""), 4), 3);
    }

    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        // mimalloc 3's default for this option is 1000 (ms, `src/options.c`); another
        // index would read something else.
        assert_eq!(super::purge_delay(), 1000);
        super::purge_freed_memory_promptly();
        assert_eq!(super::purge_delay(), 0);
    }
}
