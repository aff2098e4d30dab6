//! The servers under test. Managed ones (Silt embedded, `chroma run`) are started here on a free
//! loopback port with a fresh data directory and stopped at the end; external ones (a Silt
//! cluster, say) are only addressed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use super::api::ChromaApi;
use crate::stats::{cpu_s_of_tree, rss_mb_of_tree};

/// How to start a managed server; `{port}` and `{dir}` in its arguments are filled in.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The server applies a collection's changed configuration (`hnsw.ef_search`) only when
    /// it loads the index, so it must be restarted to use it.
    pub configures_on_load: bool,
}

impl Launch {
    /// `silt run` from the running binary, with `extra` flags.
    pub fn silt(extra: &[String]) -> anyhow::Result<Launch> {
        let mut args = run_args();
        args.extend_from_slice(extra);
        Ok(Launch {
            program: std::env::current_exe().context("locating the silt binary")?,
            args,
            env: vec![("SILT_LOG".into(), "warn".into())],
            configures_on_load: false,
        })
    }

    /// `chroma run`: the reference server from `pip install chromadb`.
    pub fn chroma(program: &Path) -> Launch {
        Launch {
            program: program.to_path_buf(),
            args: run_args(),
            // Nothing may leave the machine.
            env: vec![("ANONYMIZED_TELEMETRY".into(), "False".into())],
            // `chroma run` 1.5.9: with a modify alone, recall and latency stayed flat over an
            // ef_search sweep from 10 to 400.
            configures_on_load: true,
        }
    }
}

/// `silt run` and `chroma run` take the same flags for where to listen and keep data.
fn run_args() -> Vec<String> {
    [
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--path",
        "{dir}",
    ]
    .map(String::from)
    .to_vec()
}

pub struct Server {
    pub name: String,
    pub api: ChromaApi,
    launch: Option<Launch>,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Server {
    /// A server someone else runs, at `url`.
    pub fn external(name: &str, url: &str) -> anyhow::Result<Server> {
        Ok(Server {
            name: name.to_string(),
            api: ChromaApi::new(url)?,
            launch: None,
            dir: PathBuf::new(),
            port: 0,
            child: None,
        })
    }

    /// Starts `launch` with its data in `dir` and waits until it answers.
    pub async fn start(name: &str, launch: Launch, dir: &Path) -> anyhow::Result<Server> {
        let port = free_port()?;
        let mut server = Server {
            name: name.to_string(),
            api: ChromaApi::new(&format!("http://127.0.0.1:{port}"))?,
            launch: Some(launch),
            dir: dir.to_path_buf(),
            port,
            child: None,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let Some(launch) = &self.launch else {
            return Ok(());
        };
        std::fs::create_dir_all(&self.dir)?;
        let fill = |a: &String| {
            a.replace("{port}", &self.port.to_string())
                .replace("{dir}", &self.dir.to_string_lossy())
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.with_extension("log"))?;
        let child = Command::new(&launch.program)
            .args(launch.args.iter().map(fill))
            .envs(launch.env.iter().cloned())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", launch.program.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !self.api.is_up().await {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "{} exited ({status}) before answering; see {}",
                        self.name,
                        self.dir.with_extension("log").display()
                    );
                }
            }
            if Instant::now() > deadline {
                bail!("{} did not answer within 120 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Stops the process gracefully (SIGTERM, then a kill after 30 s).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .is_err()
        {
            child.kill().await?;
        }
        Ok(())
    }

    /// Stops and starts again on the same data, with `cleared` (a cache directory, say)
    /// deleted in between.
    pub async fn restart(&mut self, cleared: Option<&Path>) -> anyhow::Result<()> {
        self.stop().await?;
        if let Some(path) = cleared {
            if path.exists() {
                std::fs::remove_dir_all(path)?;
            }
        }
        self.spawn().await
    }

    /// Whether a changed collection configuration takes a restart to apply (see `Launch`).
    pub fn configures_on_load(&self) -> bool {
        self.launch.as_ref().is_some_and(|l| l.configures_on_load)
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// Resident memory of the server's process tree, when it is ours to see.
    pub fn rss_mb(&self) -> Option<f64> {
        self.child.as_ref().and_then(Child::id).map(rss_mb_of_tree)
    }
}

impl Server {
    /// CPU seconds (user + system) of the server's process tree so far, when it is ours to see.
    pub fn cpu_s(&self) -> Option<f64> {
        self.child
            .as_ref()
            .and_then(Child::id)
            .and_then(cpu_s_of_tree)
    }

    /// Waits until the server's process tree has used less than 5% of a core for two
    /// consecutive seconds: whatever it does in the background after the data is indexed
    /// (compaction, flushes, garbage collection) is over before a measured phase. Returns the
    /// seconds waited, and whether it went quiet within `limit`; None for an external server.
    pub async fn settle(&self, limit: Duration) -> Option<(f64, bool)> {
        const WINDOW: Duration = Duration::from_secs(1);
        const QUIET_CORES: f64 = 0.05;
        let started = Instant::now();
        let mut quiet_windows = 0;
        let mut last = self.cpu_s()?;
        while started.elapsed() < limit {
            tokio::time::sleep(WINDOW).await;
            let now = self.cpu_s()?;
            if now - last < QUIET_CORES * WINDOW.as_secs_f64() {
                quiet_windows += 1;
                if quiet_windows == 2 {
                    return Some((started.elapsed().as_secs_f64(), true));
                }
            } else {
                quiet_windows = 0;
            }
            last = now;
        }
        Some((started.elapsed().as_secs_f64(), false))
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
