//! The `tessera` command.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tessera_server::app;
use tessera_server::config::{Config, Settings};

mod cli;

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
    /// Users, on the database directly.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Sessions, on the database directly (running servers refuse revoked tokens within 1 s).
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from stdin (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A role to give (repeatable); it must be defined.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// A user's live sessions.
    List {
        #[arg(long = "user")]
        email: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Revoke one session, a user's, a namespace's, or all.
    Revoke {
        #[command(flatten)]
        target: RevokeArgs,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct RevokeArgs {
    #[arg(long)]
    session: Option<String>,
    #[arg(long = "user")]
    email: Option<String>,
    #[arg(long)]
    namespace: Option<String>,
    #[arg(long)]
    all: bool,
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

/// Logs to stderr; `RUST_LOG` overrides `default` (info for the server, warn for commands).
///
/// Lines are written by a background thread (tracing-appender's non-blocking writer), so a
/// request never waits on stderr: at every request's access-log line, a synchronous write under
/// stderr's lock was a large share of a cached verification's cost. Under overload past its
/// buffer (128 000 lines) the writer drops lines rather than slow requests down. The returned
/// writer's guard (in [`LOG_FLUSH`]) flushes what is queued when `main` drops it at the end.
fn init_logging(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    *LOG_FLUSH.lock().expect("log guard") = Some(guard);
}

/// Flushes the log writer when taken and dropped.
static LOG_FLUSH: std::sync::Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> =
    std::sync::Mutex::new(None);

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

/// The engine on the configured database, with warnings (not info lines) on stderr.
async fn engine(settings: &Settings) -> Result<tessera_core::Engine, String> {
    init_logging(settings.log_json, "warn");
    app::engine(settings).await
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { config, listen } => {
            let settings = load(config.as_ref(), listen)?;
            init_logging(settings.log_json, "info,sqlx=warn");
            for w in &settings.warnings {
                tracing::warn!("{w}");
            }
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
            init_logging(settings.log_json, "info,sqlx=warn");
            tessera_store::Backend::open(tessera_store::Connect {
                database: &settings.database,
                redis_url: None,
                scope: &settings.engine.issuer,
            })
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
            if settings.engine.algorithm == tessera_token::Algorithm::HS256 {
                return Err("HS256 uses tokens.hs256_secret from the configuration: change the secret to rotate".into());
            }
            cli::keys(&engine(&settings).await?, rotate).await
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    password_stdin: _,
                    roles,
                    config,
                },
        } => {
            let settings = load(config.as_ref(), None)?;
            let password = cli::password_from_stdin()?;
            cli::user_create(&engine(&settings).await?, &email, password, roles).await
        }
        Command::Sessions {
            command: SessionsCommand::List { email, config },
        } => {
            let settings = load(config.as_ref(), None)?;
            cli::sessions_list(&engine(&settings).await?, &email).await
        }
        Command::Sessions {
            command: SessionsCommand::Revoke { target, config },
        } => {
            let settings = load(config.as_ref(), None)?;
            let target = match target {
                RevokeArgs {
                    session: Some(id), ..
                } => cli::RevokeTarget::Session(id),
                RevokeArgs { email: Some(e), .. } => cli::RevokeTarget::User(e),
                RevokeArgs {
                    namespace: Some(ns),
                    ..
                } => cli::RevokeTarget::Namespace(ns),
                _ => cli::RevokeTarget::All,
            };
            let engine = engine(&settings).await?;
            let result = cli::sessions_revoke(&engine, target).await;
            // Running servers poll the store anyway; the broadcast just makes it immediate.
            engine.revocations().settle(Duration::from_secs(3)).await;
            result
        }
        Command::Config {
            command: ConfigCommand::Check { config },
        } => {
            let s = load(config.as_ref(), None)?;
            for w in &s.warnings {
                println!("warning: {w}");
            }
            println!("configuration is valid");
            println!("  listen          {}", s.listen);
            println!("  database        {:?}", s.database);
            println!("  issuer          {}", s.engine.issuer);
            println!("  algorithm       {}", s.engine.algorithm);
            println!("  data dir        {}", s.data_dir.display());
            // The SMTP URL may hold a password: scheme, host and port only.
            let mail = s
                .smtp
                .as_ref()
                .map_or("off (no email.smtp_url)".to_owned(), |m| {
                    tessera_server::config::email::smtp_display(m.url.expose())
                });
            println!("  mail            {mail}");
            Ok(())
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = run(Cli::parse()).await;
    drop(LOG_FLUSH.lock().ok().and_then(|mut g| g.take()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
