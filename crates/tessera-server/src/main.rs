//! The `tessera` command.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tessera_server::app;
use tessera_server::config::{Config, Settings};

#[derive(Parser)]
#[command(name = "tessera", version, about = "Tessera: a session authority")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite in ./tessera-data with no config).
    Serve {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Overrides `listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create the database if needed and apply migrations.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Signing keys, on the database directly (running servers pick changes up within 10 s).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Promote `next` to `current`, retire `current`, make a new `next`.
    Rotate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// List the keys with their state.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Load and validate the configuration (file and TESSERA_* environment), then exit.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn load(file: Option<&PathBuf>, listen: Option<String>) -> Result<Settings, String> {
    let mut config =
        Config::load(file.map(PathBuf::as_path), std::env::vars()).map_err(|e| e.to_string())?;
    if let Some(listen) = listen {
        config.listen = listen;
    }
    config.validate().map_err(|e| e.to_string())
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { config, listen } => {
            let settings = load(config.as_ref(), listen)?;
            init_logging(settings.log_json);
            let listener = tokio::net::TcpListener::bind(settings.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
            let state = app::build(settings).await?;
            tracing::info!(addr = %listener.local_addr().map_err(|e| e.to_string())?, "tessera is listening");
            app::serve(state, listener, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Command::Migrate { config } => {
            let settings = load(config.as_ref(), None)?;
            init_logging(settings.log_json);
            tessera_store::open(&settings.database)
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            println!("database is migrated and ready");
            Ok(())
        }
        Command::Keys { command } => {
            let (config, rotate) = match command {
                KeysCommand::Rotate { config } => (config, true),
                KeysCommand::List { config } => (config, false),
            };
            let settings = load(config.as_ref(), None)?;
            init_logging(settings.log_json);
            if settings.engine.algorithm == tessera_token::Algorithm::HS256 {
                return Err("HS256 uses tokens.hs256_secret from the configuration: change the secret to rotate".into());
            }
            let engine = app::engine_for_cli(&settings).await?;
            if rotate {
                let current = engine
                    .rotate_keys()
                    .await
                    .map_err(|e| format!("rotation failed: {e}"))?;
                println!("rotated: {} ({}) now signs", current.kid, current.alg);
            }
            println!("KID                ALG     STATE     CREATED");
            for k in engine.key_records().await.map_err(|e| e.to_string())? {
                println!(
                    "{:<18} {:<7} {:<9} {}",
                    k.kid,
                    k.alg,
                    k.state.as_str(),
                    tessera_server::views::rfc3339_ms(k.created_at)
                );
            }
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Check { config },
        } => {
            let s = load(config.as_ref(), None)?;
            println!("configuration is valid");
            println!("  listen          {}", s.listen);
            println!("  database        {:?}", s.database);
            println!("  issuer          {}", s.engine.issuer);
            println!("  algorithm       {}", s.engine.algorithm);
            println!("  data dir        {}", s.data_dir.display());
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
