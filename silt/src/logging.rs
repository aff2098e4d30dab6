//! Where log lines go and what they look like. The filter comes from `SILT_LOG` (any
//! `tracing` filter; quiet by default); the shape from `--log-format`: text for people, JSON
//! lines for log pipelines. Both show the span fields, so a request's id is on every line
//! written while it runs (`silt_common::trace`).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line per event for people: time, level, spans with their fields, target, message.
    Text,
    /// One JSON object per line: timestamp, level, target, message and the event's fields at
    /// the top; the innermost span's fields under `span`, every enclosing span under `spans`.
    Json,
}

/// Info for Silt, quieter for chatty dependencies.
const DEFAULT_FILTER: &str = "info,sqlx=warn,foyer=warn,foyer_storage=warn,tantivy=warn";

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("SILT_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// Installs the process's logger; call once, before anything logs.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            // Colour codes only on a terminal: logs in files must stay greppable.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}
