//! `silt`: one binary for every role. `silt run` starts the embedded default; `silt gateway`,
//! `log`, `query` and `compactor` are the distributed roles.

mod admin;
mod bench;
mod cli;
mod embedded;
mod logging;
mod memory;
mod metrics;
mod readiness;
mod roles;
mod serve;
mod status;
mod table;
mod transfer;
mod usage;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Idle roles give back what a burst of work freed (see memory.rs).
    let _trimmer = runtime.spawn(memory::trim_periodically(memory::TRIM_EVERY));
    match cli.command {
        cli::Command::Run(args) => runtime.block_on(embedded::run(args)),
        cli::Command::Bench(args) => runtime.block_on(bench::run(args)),
        cli::Command::Admin(args) => runtime.block_on(admin::run(args)),
        cli::Command::Gateway(args) => runtime.block_on(roles::run_gateway(args)),
        cli::Command::Log(args) => runtime.block_on(roles::run_log(args)),
        cli::Command::Query(args) => runtime.block_on(roles::run_query(args)),
        cli::Command::Compactor(args) => runtime.block_on(roles::run_compactor(args)),
        cli::Command::Migrate(args) => runtime.block_on(transfer::migrate(args)),
        cli::Command::Export(args) => runtime.block_on(transfer::export(args)),
        cli::Command::Import(args) => runtime.block_on(transfer::import(args)),
    }
}
