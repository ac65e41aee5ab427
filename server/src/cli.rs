//! The `wheelhouse` command line: `serve` (the default), `keys rotate` and `simulate`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::secrets::rotate;
use crate::secrets::MasterKey;

#[derive(Parser)]
#[command(
    name = "wheelhouse",
    version,
    about = "Wheelhouse: the control plane for customer-data pipelines"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Master-key operations.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Run a simulated data plane against a Wheelhouse: pulls the config, connects over the websocket and
    /// sends made-up live events, metrics, failures and sync runs.
    Simulate(crate::simulator::Options),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-wrap every workspace data key under a new master key. Safe to re-run after a crash: it resumes.
    Rotate {
        /// The new master key (base64 of 32 bytes). Default: generate one into `<data dir>/master.key.next`.
        #[arg(long, env = "WHEELHOUSE_NEW_MASTER_KEY", hide_env_values = true)]
        new_master_key: Option<SecretString>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(cli.config).await,
            Command::Keys {
                command: KeysCommand::Rotate { new_master_key },
            } => rotate_keys(cli.config, new_master_key).await,
            Command::Simulate(options) => simulate(options).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,sqlx=warn,tower_sessions=warn,tower_sessions_core=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let server = crate::start(config).await?;
    let url = server.state.public_url.to_string();
    let url = url.trim_end_matches('/');
    match &server.setup_url {
        Some(setup) => {
            println!("\nWheelhouse is running at {url}");
            println!("No account exists yet. Create the first owner here (this link works once):\n\n    {setup}\n");
            println!("(or restart with WHEELHOUSE_BOOTSTRAP_EMAIL and WHEELHOUSE_BOOTSTRAP_PASSWORD set)\n");
        }
        None => println!("\nWheelhouse is running. Sign in at {url}/login\n"),
    }
    tracing::info!(addr = %server.addr, "listening");
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn simulate(options: crate::simulator::Options) -> anyhow::Result<()> {
    let summary = tokio::select! {
        summary = crate::simulator::run(options) => summary?,
        _ = shutdown_signal() => return Ok(()),
    };
    println!(
        "{} events made up, {} sent as live samples, {} configs applied, {} frames refused by the server",
        summary.events, summary.live_events_sent, summary.configs_applied, summary.errors_from_server
    );
    Ok(())
}

async fn rotate_keys(config: Config, new_master_key: Option<SecretString>) -> anyhow::Result<()> {
    let db = crate::connect_database(&config).await?;
    let new_key = new_master_key
        .map(|k| MasterKey::from_base64(k.expose_secret()))
        .transpose()
        .context("--new-master-key (WHEELHOUSE_NEW_MASTER_KEY) is not usable")?;
    let key_file = config.data_dir.join(rotate::KEY_FILE);
    anyhow::ensure!(
        config.master_key.is_some() || key_file.exists(),
        "no master key: neither WHEELHOUSE_MASTER_KEY nor {} exists",
        key_file.display()
    );
    let keys = crate::load_master_keys(&config)?;
    for line in rotate::run(&db, &config.data_dir, keys, new_key).await? {
        println!("{line}");
    }
    Ok(())
}
