//! `rconsul-bench`: a closed-loop load generator for Consul-compatible HTTP
//! APIs. It speaks only the standard Consul HTTP API, so it works against
//! rconsul and against real Consul alike. See `bench/README.md`.

mod args;
mod load;
mod report;
mod server;

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

/// Runs the chosen workload and prints its report.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Workload::ServeTrivial { listen } = &cli.workload {
        server::serve(listen, cli.threads)?;
        return Ok(ExitCode::SUCCESS);
    }
    let env_addr = std::env::var("CONSUL_HTTP_ADDR").ok();
    let target = args::resolve_addr(cli.addr.as_deref(), env_addr.as_deref()).map_err(anyhow::Error::msg)?;
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
        token: std::env::var("CONSUL_HTTP_TOKEN").ok().filter(|t| !t.is_empty()),
    };

    // One thread: a current-thread runtime (no work-stealing overhead), like `wrk -t1`.
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads as usize);
        b
    };
    let rt = builder
        .enable_all()
        .build()
        .context("cannot start the Tokio runtime")?;
    let stats = rt.block_on(load::run(&settings))?;

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
