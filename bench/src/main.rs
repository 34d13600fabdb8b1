//! `rconsul-bench`: a closed-loop load generator for Consul-compatible HTTP
//! APIs. It speaks only the standard Consul HTTP API, so it works against
//! rconsul and against real Consul alike. See `bench/README.md`.

mod args;
mod catalog;
mod load;
mod report;
mod server;
mod watch;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use args::{Cli, Workload};
use report::{Report, RunInfo};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rconsul-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A Tokio runtime with `threads` workers. One thread: a current-thread runtime
/// (no work-stealing overhead), like `wrk -t1`.
fn runtime(threads: u32) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads as usize);
        b
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the Tokio runtime")
}

/// Runs the chosen workload and prints its report.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Workload::ServeTrivial { listen } = &cli.workload {
        server::serve(listen, cli.threads)?;
        return Ok(ExitCode::SUCCESS);
    }
    let env_addr = std::env::var("CONSUL_HTTP_ADDR").ok();
    let target = args::resolve_addr(cli.addr.as_deref(), env_addr.as_deref()).map_err(anyhow::Error::msg)?;
    let token = std::env::var("CONSUL_HTTP_TOKEN").ok().filter(|t| !t.is_empty());
    match &cli.workload {
        Workload::PopulateCatalog {
            services,
            instances,
            prefix,
            timeout,
        } => {
            let settings = catalog::PopulateSettings {
                target,
                token,
                clients: cli.clients,
                services: *services,
                instances: *instances,
                prefix: prefix.clone(),
                timeout: *timeout,
            };
            eprintln!(
                "registering {} services x {} instances...",
                settings.services, settings.instances
            );
            let report = runtime(cli.threads.unwrap_or(1))?.block_on(catalog::populate(&settings))?;
            if cli.json {
                println!("{}", report.to_json());
            } else {
                println!("{report}");
            }
            if !report.complete() {
                eprintln!("rconsul-bench: error: not every registration succeeded");
                return Ok(ExitCode::FAILURE);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Workload::WatchLatency {
            watchers,
            services,
            prefix,
            rounds,
            timeout,
        } => {
            let settings = watch::WatchSettings {
                target,
                token,
                watchers: *watchers,
                services: *services,
                prefix: prefix.clone(),
                rounds: *rounds,
                timeout: *timeout,
            };
            // Waking many parked queries is bursty: default to a multi-threaded runtime.
            let threads = cli.threads.unwrap_or(2);
            let report = runtime(threads)?.block_on(watch::run(&settings, threads))?;
            if cli.json {
                println!("{}", report.to_json());
            } else {
                println!("{report}");
            }
            if report.wakes == 0 {
                eprintln!("rconsul-bench: error: no wake was measured");
                return Ok(ExitCode::FAILURE);
            }
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let threads = cli.threads.unwrap_or(1);
    let settings = load::Settings {
        target: target.clone(),
        workload: cli.workload.clone(),
        clients: cli.clients,
        duration: cli.duration,
        warmup: cli.warmup,
        keys: cli.keys,
        value_size: cli.value_size,
        key_prefix: cli.key_prefix.clone(),
        token,
    };
    let stats = runtime(threads)?.block_on(load::run(&settings))?;

    let path = match &cli.workload {
        Workload::RawGet { path } => Some(path.clone()),
        _ => None,
    };
    let report = Report::new(
        RunInfo {
            workload: cli.workload.name().to_string(),
            path,
            addr: target.url(),
            clients: cli.clients,
            threads,
            duration: cli.duration,
        },
        &stats,
    );
    if cli.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    if stats.ops == 0 {
        eprintln!("rconsul-bench: error: no request succeeded");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
