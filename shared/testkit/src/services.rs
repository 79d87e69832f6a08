//! Local stand-ins for AWS (moto server) and ElastiCache (redis-server).
//!
//! [`LocalServices::shared`] gives one pair per test binary: it reuses
//! `AWS_ENDPOINT_URL` and `REDIS_URL` when they are set, and otherwise starts
//! servers on free ports. Every process started here is stopped when the test
//! binary exits, and nothing else is touched. [`RedisServer::start`] gives a
//! test its own server to stop, for outage tests.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::account::REGION;
use crate::workspace::workspace_root;

/// Endpoints of the AWS stand-in and of Redis.
#[derive(Debug, Clone)]
pub struct LocalServices {
    pub aws_endpoint: String,
    pub redis_url: String,
}

impl LocalServices {
    /// The services shared by every test in this binary, started on first use.
    pub fn shared() -> &'static LocalServices {
        static SHARED: OnceLock<LocalServices> = OnceLock::new();
        SHARED.get_or_init(|| {
            let aws_endpoint = match std::env::var("AWS_ENDPOINT_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => leak(MotoServer::start().expect("starting moto server")).endpoint(),
            };
            let redis_url = match std::env::var("REDIS_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => leak(RedisServer::start().expect("starting redis-server")).url(),
            };
            LocalServices { aws_endpoint, redis_url }
        })
    }

    /// An SDK config that talks to the AWS stand-in with dummy credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        sdk_config_for(&self.aws_endpoint)
    }

    /// The environment a function needs to reach these services, on top of
    /// what `template.yaml` gives it.
    pub fn function_environment(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.aws_endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
    }
}

pub fn sdk_config_for(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::for_tests(),
        ))
        .build()
}

/// A server the shared services keep for the life of the test binary.
fn leak<T>(server: T) -> &'static T {
    Box::leak(Box::new(server))
}

/// moto server, the AWS stand-in, with DynamoDB conditional writes made
/// atomic as in DynamoDB (see `python/moto_server.py`).
pub struct MotoServer {
    process: ServerProcess,
}

impl MotoServer {
    pub fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let launcher = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/moto_server.py");
        // Benchmarks run it at idle priority (`MOTO_IDLE=1`, Linux): the
        // AWS stand-in shares the machine with the code being measured, which
        // DynamoDB never does, so it gets only the CPU nothing else wants.
        let mut command = if std::env::var_os("MOTO_IDLE").is_some_and(|idle| idle == "1") {
            let mut idle = Command::new("chrt");
            idle.args(["--idle", "0"]).arg(python());
            idle
        } else {
            Command::new(python())
        };
        command.arg(launcher).args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let process = ServerProcess::spawn("moto", command, port, Duration::from_secs(60))
            .context("is moto installed? run `make install` (pip install 'moto[server]')")?;
        Ok(Self { process })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.process.port)
    }
}

/// A redis-server with no persistence.
pub struct RedisServer {
    process: ServerProcess,
}

impl RedisServer {
    pub fn start() -> anyhow::Result<Self> {
        Ok(Self { process: Self::spawn(free_port()?)? })
    }

    fn spawn(port: u16) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new("redis-server");
        command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        ServerProcess::spawn("redis-server", command, port, Duration::from_secs(10))
            .context("is redis-server installed? run `make install`")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.process.port)
    }

    /// Stops the server now (a Redis outage, for tests).
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts it again, empty, on the same port (the outage ends).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.stop();
        self.process = Self::spawn(self.process.port)?;
        Ok(())
    }
}

/// A child process listening on a port: waited for at start, stopped on drop
/// or at exit.
struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    fn spawn(name: &str, mut command: Command, port: u16, patience: Duration) -> anyhow::Result<Self> {
        let log = std::env::temp_dir().join(format!("tessera-{name}-{port}.log"));
        let log_file = std::fs::File::create(&log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("spawning {name}"))?;
        let mut process = Self { child, port };
        register_for_exit(process.child.id() as libc::pid_t);
        let deadline = Instant::now() + patience;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = process.child.try_wait() {
                bail!("{name} exited with {status} before listening; see {}", log.display());
            }
            if Instant::now() > deadline {
                process.stop();
                bail!("{name} did not listen on port {port} within {patience:?}; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(process)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister(self.child.id() as libc::pid_t);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What to stop when this process exits, as `kill(2)` targets: a pid, or
/// minus a process group id. Statics are never dropped, so the shared
/// servers (and the devstack's `cargo lambda watch`) are stopped by an
/// `atexit` hook instead.
static AT_EXIT: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

fn register_for_exit(target: libc::pid_t) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| unsafe {
        libc::atexit(stop_at_exit);
    });
    AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).push(target);
}

fn unregister(target: libc::pid_t) {
    AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()).retain(|t| *t != target);
}

/// Stops a whole process group (a child and everything it started) when
/// this process exits, unless [`forget_process_group`] is called first.
pub fn stop_process_group_at_exit(group: u32) {
    register_for_exit(-(group as libc::pid_t));
}

pub fn forget_process_group(group: u32) {
    unregister(-(group as libc::pid_t));
}

extern "C" fn stop_at_exit() {
    let targets = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|e| e.into_inner()));
    for target in targets {
        // SAFETY: signalling processes (or groups) this process started.
        unsafe {
            libc::kill(target, libc::SIGTERM);
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The project's virtualenv Python when there is one (`make install` makes
/// it), else `python3` from PATH.
fn python() -> PathBuf {
    let venv = workspace_root().join(".venv/bin/python");
    if venv.exists() { venv } else { PathBuf::from("python3") }
}
