//! Renders of stores' own templates run in worker processes: this executable started as
//! `storefront theme-worker`. A worker caps its own memory (`setrlimit`) and renders one
//! page at a time; the node keeps a few of them ([`Pool`]) and kills one that has not
//! answered by the time limit. So a template can neither take the node's memory (its
//! worker runs out instead, and is replaced) nor keep working after its page was served
//! without it.

use std::io::{self, BufRead, Write};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::sandbox::{self, RenderFailure};

/// The (hidden) subcommand a worker runs as.
pub const SUBCOMMAND: &str = "theme-worker";

/// Largest message either side accepts (a page is at most [`sandbox::MAX_OUTPUT_BYTES`]).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Template sets a worker keeps compiled (the most recently used ones).
const KEPT_SETS: usize = 16;

/// How long past the time limit the node waits for a worker's own answer (a render stops
/// itself at the limit where it can: `range()` and every write of output check the clock)
/// before it kills the worker.
const KILL_GRACE: Duration = Duration::from_millis(50);

/// How long past the time limit a worker waits for its own render before it exits: a
/// render that checks no clock (loops that neither write nor call `range()`) cannot be
/// stopped on its thread, and the node that would kill the worker may be gone.
const SELF_KILL_GRACE: Duration = Duration::from_secs(1);

/// Longest a worker may take to start or to compile a template set. Both are bounded work
/// (the sources are size- and nesting-checked and compiled on the node first), apart from
/// the time limit of a render.
const SETUP_LIMIT: Duration = Duration::from_secs(10);

/// What Rust's allocation-failure handler writes before it aborts the process.
const OUT_OF_MEMORY: &str = "memory allocation of";

/// What a render that crashed the template engine reports.
const CRASHED: &str = "the template crashed the template engine";

/// What one render may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Megabytes of memory a worker may map (heap and the render thread's stack).
    pub memory_mb: u64,
    /// How long a render may take.
    pub timeout: Duration,
}

impl Limits {
    /// Smallest memory limit: a worker needs [`sandbox::STACK_BYTES`] of stack and a little
    /// heap before it renders anything.
    pub const MIN_MEMORY_MB: u64 = 128;

    fn to_args(self) -> [String; 4] {
        [
            "--memory-mb".into(),
            self.memory_mb.to_string(),
            "--timeout-ms".into(),
            self.timeout.as_millis().to_string(),
        ]
    }

    fn from_args(args: &[String]) -> Result<Self, String> {
        let mut memory_mb = None;
        let mut timeout_ms = None;
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let slot = match flag.as_str() {
                "--memory-mb" => &mut memory_mb,
                "--timeout-ms" => &mut timeout_ms,
                other => return Err(format!("unknown argument {other}")),
            };
            let value = rest
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("{flag} needs a number"))?;
            *slot = Some(value);
        }
        Ok(Self {
            memory_mb: memory_mb.ok_or("--memory-mb is required")?,
            timeout: Duration::from_millis(timeout_ms.ok_or("--timeout-ms is required")?),
        })
    }
}

/// What the node asks of a worker.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Compile the default store templates with these overrides as set `set`.
    Load {
        set: u64,
        overrides: Vec<(String, String)>,
    },
    /// Render `template` of set `set` with `context` (a JSON object).
    Render {
        set: u64,
        template: String,
        context: Value,
    },
}

/// A worker's answer.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    /// Started, waiting for requests.
    Ready,
    /// The set is compiled.
    Loaded,
    /// The worker does not hold the set (never had it, or let it go): load it first.
    NeedSet,
    /// The rendered page.
    Page(String),
    /// Compiling or rendering failed.
    Failed(String),
    /// The render reached the time limit and stopped.
    TimedOut,
}

// The worker's side.

/// Runs a worker until its node closes its stdin. The arguments are those after the
/// executable's name (`theme-worker --memory-mb N --timeout-ms T`).
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .skip_while(|a| a == SUBCOMMAND)
        .collect();
    let limits = match Limits::from_args(&args) {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("theme worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = limit_self(limits.memory_mb) {
        eprintln!("theme worker: setting its memory limit: {e}");
        return ExitCode::FAILURE;
    }
    match serve(limits, io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("theme worker: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Caps this process's memory: every private writable mapping (heap, thread stacks) counts
/// against `RLIMIT_DATA`, so an allocation past it fails and the worker aborts, instead of
/// the node's memory running out.
fn limit_self(memory_mb: u64) -> nix::Result<()> {
    use nix::sys::resource::{Resource, setrlimit};
    // An abort writes no core file of the worker's memory.
    setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    let bytes = memory_mb.saturating_mul(1024 * 1024);
    setrlimit(Resource::RLIMIT_DATA, bytes, bytes)
}

/// Answers requests from `input` on `output`, rendering on a thread with a large stack
/// while this one watches the clock.
fn serve(limits: Limits, mut input: impl BufRead, mut output: impl Write) -> io::Result<()> {
    let (requests, incoming) = mpsc::sync_channel::<Request>(0);
    let (answer, answers) = mpsc::sync_channel::<Answer>(0);
    std::thread::Builder::new()
        .name("theme-render".into())
        .stack_size(sandbox::STACK_BYTES)
        .spawn(move || work(&incoming, &answer, limits.timeout))?;
    write_message(&mut output, &Answer::Ready)?;
    while let Some(request) = read_message::<Request>(&mut input)? {
        let patience = match request {
            Request::Load { .. } => SETUP_LIMIT,
            Request::Render { .. } => limits.timeout + SELF_KILL_GRACE,
        };
        requests
            .send(request)
            .map_err(|_| io::Error::other("the render thread is gone"))?;
        let reply = match answers.recv_timeout(patience) {
            Ok(reply) => reply,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                eprintln!("theme worker: a render ran past its time limit; exiting");
                std::process::exit(2);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the render thread is gone"));
            }
        };
        write_message(&mut output, &reply)?;
    }
    Ok(())
}

/// The render thread: answers each request, surviving the template engine's panics.
fn work(requests: &mpsc::Receiver<Request>, answers: &mpsc::SyncSender<Answer>, timeout: Duration) {
    let mut sets = Sets::default();
    for request in requests {
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| sets.answer(request, timeout)))
            .unwrap_or_else(|_| Answer::Failed(CRASHED.into()));
        if answers.send(answer).is_err() {
            return;
        }
    }
}

/// The template sets a worker has compiled, the least recently used first.
#[derive(Default)]
struct Sets(Vec<(u64, tera::Tera)>);

impl Sets {
    fn answer(&mut self, request: Request, timeout: Duration) -> Answer {
        match request {
            Request::Load { set, overrides } => {
                let mut templates = crate::views::default_store_templates();
                for (name, source) in overrides {
                    super::set_source(&mut templates, name, source);
                }
                match sandbox::build(templates) {
                    Ok(tera) => {
                        self.0.retain(|(id, _)| *id != set);
                        if self.0.len() >= KEPT_SETS {
                            self.0.remove(0);
                        }
                        self.0.push((set, tera));
                        Answer::Loaded
                    }
                    Err(refusal) => Answer::Failed(refusal.message),
                }
            }
            Request::Render {
                set,
                template,
                context,
            } => {
                let deadline = Instant::now() + timeout;
                let Some(at) = self.0.iter().position(|(id, _)| *id == set) else {
                    return Answer::NeedSet;
                };
                let entry = self.0.remove(at);
                self.0.push(entry);
                let Some((_, tera)) = self.0.last() else {
                    return Answer::NeedSet;
                };
                let context = match tera::Context::from_value(context) {
                    Ok(context) => context,
                    Err(e) => return Answer::Failed(format!("the page's data: {e}")),
                };
                match sandbox::render(tera, &template, &context, deadline) {
                    Ok(page) => Answer::Page(page),
                    Err(RenderFailure::TimedOut) => Answer::TimedOut,
                    Err(RenderFailure::Error(e)) => Answer::Failed(e),
                    Err(other) => Answer::Failed(format!("{other:?}")),
                }
            }
        }
    }
}

/// A message: its length (4 bytes, big-endian), then JSON.
fn write_message(output: &mut impl Write, message: &impl Serialize) -> io::Result<()> {
    let bytes = serde_json::to_vec(message)?;
    output.write_all(&frame_length(bytes.len())?)?;
    output.write_all(&bytes)?;
    output.flush()
}

/// The next message, or None at the end of the input.
fn read_message<T: DeserializeOwned>(input: &mut impl BufRead) -> io::Result<Option<T>> {
    let mut length = [0; 4];
    match input.read_exact(&mut length) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut bytes = vec![0; checked_length(length)?];
    input.read_exact(&mut bytes)?;
    Ok(Some(serde_json::from_slice(&bytes)?))
}

fn frame_length(length: usize) -> io::Result<[u8; 4]> {
    u32::try_from(length)
        .ok()
        .filter(|_| length <= MAX_MESSAGE_BYTES)
        .map(u32::to_be_bytes)
        .ok_or_else(|| io::Error::other(format!("a message of {length} bytes is too large")))
}

fn checked_length(length: [u8; 4]) -> io::Result<usize> {
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_MESSAGE_BYTES {
        return Err(io::Error::other(format!(
            "a message of {length} bytes is too large"
        )));
    }
    Ok(length)
}

// The node's side.

/// The worker processes a node renders stores' own templates in: at most one render per
/// worker at a time, workers started when needed and kept between renders.
pub struct Pool {
    /// The executable a worker runs (`<program> theme-worker ...`).
    program: PathBuf,
    limits: Limits,
    /// One per worker that may exist.
    slots: Arc<tokio::sync::Semaphore>,
    /// Workers between two renders.
    idle: Mutex<Vec<Worker>>,
}

impl Pool {
    /// At most `workers` workers running `program`, each render within `limits`.
    pub fn new(program: PathBuf, workers: usize, limits: Limits) -> Self {
        Self {
            program,
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// What one render may use.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Renders `template` from the default store templates with `overrides`, a set the node
    /// numbers `set` (the worker compiles it once), with `context` (the page's view as a
    /// JSON object). Waits for a free worker at most the time limit ([`RenderFailure::Busy`]).
    /// A worker that runs out of memory has ended; one that runs out of time is killed.
    pub async fn render(
        &self,
        set: u64,
        overrides: &[(String, String)],
        template: &str,
        context: Value,
    ) -> Result<String, RenderFailure> {
        let Ok(Ok(_slot)) =
            tokio::time::timeout(self.limits.timeout, Arc::clone(&self.slots).acquire_owned())
                .await
        else {
            return Err(RenderFailure::Busy);
        };
        let idle = self.idle_worker();
        let mut worker = match idle {
            Some(worker) => worker,
            None => Worker::start(&self.program, self.limits)
                .await
                .map_err(|e| RenderFailure::Unavailable(format!("starting a theme worker: {e}")))?,
        };
        let patience = self.limits.timeout + KILL_GRACE;
        let render = Request::Render {
            set,
            template: template.to_owned(),
            context,
        };
        let mut reply = worker.ask(&render, patience).await;
        if let Ok(Answer::NeedSet) = reply {
            let load = Request::Load {
                set,
                overrides: overrides.to_vec(),
            };
            reply = match worker.ask(&load, SETUP_LIMIT).await {
                Ok(Answer::Loaded) => worker.ask(&render, patience).await,
                other => other,
            };
        }
        match reply {
            Ok(Answer::Page(page)) => {
                self.keep(worker);
                Ok(page)
            }
            Ok(Answer::TimedOut) => {
                self.keep(worker);
                Err(RenderFailure::TimedOut)
            }
            Ok(Answer::Failed(e)) => {
                self.keep(worker);
                Err(RenderFailure::Error(e))
            }
            Ok(other) => {
                worker.end().await;
                Err(RenderFailure::Unavailable(format!(
                    "a theme worker answered {other:?}"
                )))
            }
            Err(Trouble::Late) => {
                // Whatever it was doing stops now (the runtime reaps the process).
                let _ = worker.child.start_kill();
                drop(worker);
                Err(RenderFailure::TimedOut)
            }
            Err(Trouble::Gone) => {
                let said = worker.end().await;
                if said.contains(OUT_OF_MEMORY) {
                    Err(RenderFailure::OutOfMemory)
                } else {
                    tracing::warn!(worker.stderr = %said.trim(), "a theme worker ended during a render");
                    Err(RenderFailure::Error(CRASHED.into()))
                }
            }
        }
    }

    /// A waiting worker that is still alive (one may have been ended from outside, by the
    /// kernel's OOM killer or an operator: it is not the next template's fault).
    fn idle_worker(&self) -> Option<Worker> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(mut worker) = idle.pop() {
            if matches!(worker.child.try_wait(), Ok(None)) {
                return Some(worker);
            }
        }
        None
    }

    /// Keeps a worker for the next render, unless it holds much of its memory limit: the
    /// allocator keeps what a render used, and the next render, another store's maybe,
    /// should have the limit to itself. (Dropping a worker ends it.)
    fn keep(&self, worker: Worker) {
        let stack_mb = (sandbox::STACK_BYTES / (1024 * 1024)) as u64;
        let worn = stack_mb + self.limits.memory_mb.saturating_sub(stack_mb) / 2;
        if worker.mapped_mb().is_some_and(|mb| mb <= worn) {
            self.idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(worker);
        }
    }
}

/// Why a worker gave no answer.
enum Trouble {
    /// Not within the time allowed.
    Late,
    /// It ended (ran out of memory, crashed) or broke the protocol.
    Gone,
}

/// One worker process and its pipes. Dropping it kills the process.
struct Worker {
    child: Child,
    input: ChildStdin,
    output: tokio::io::BufReader<ChildStdout>,
    /// The end of what the worker wrote on stderr, once it has ended.
    said: tokio::task::JoinHandle<String>,
}

impl Worker {
    async fn start(program: &Path, limits: Limits) -> io::Result<Self> {
        let mut child = Command::new(program)
            .arg(SUBCOMMAND)
            .args(limits.to_args())
            // Nothing of the node's environment (database URL, keys) is the worker's business.
            .env_clear()
            // mimalloc reserves its arenas writable where the OS overcommits, and such a
            // reservation (1 GB) counts against the memory limit: reserved inaccessible,
            // only the memory it hands out counts. (With eager commit the worker's limit
            // is spent before it starts, and it fails to start rather than render.)
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (Some(input), Some(output), Some(errors)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("the worker's pipes are missing"));
        };
        let mut worker = Self {
            child,
            input,
            output: tokio::io::BufReader::new(output),
            said: tokio::spawn(tail(errors)),
        };
        match tokio::time::timeout(SETUP_LIMIT, receive(&mut worker.output)).await {
            Ok(Ok(Answer::Ready)) => Ok(worker),
            _ => {
                let said = worker.end().await;
                Err(io::Error::other(format!(
                    "it did not start: {}",
                    said.trim()
                )))
            }
        }
    }

    /// The memory the worker has mapped, as its limit counts it (`VmData`), in MB.
    fn mapped_mb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let kb = status
            .lines()
            .find_map(|line| line.strip_prefix("VmData:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kb / 1024)
    }

    /// Sends `request` and waits at most `patience` for the answer.
    async fn ask(&mut self, request: &Request, patience: Duration) -> Result<Answer, Trouble> {
        let exchange = async {
            send(&mut self.input, request).await?;
            receive(&mut self.output).await
        };
        match tokio::time::timeout(patience, exchange).await {
            Err(_) => Err(Trouble::Late),
            Ok(Err(_)) => Err(Trouble::Gone),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// Ends the worker and returns the end of what it wrote on stderr.
    async fn end(mut self) -> String {
        let _ = self.child.kill().await;
        match tokio::time::timeout(Duration::from_secs(1), self.said).await {
            Ok(Ok(said)) => said,
            _ => String::new(),
        }
    }
}

async fn send(input: &mut ChildStdin, request: &Request) -> io::Result<()> {
    let bytes = serde_json::to_vec(request)?;
    input.write_all(&frame_length(bytes.len())?).await?;
    input.write_all(&bytes).await?;
    input.flush().await
}

async fn receive(output: &mut tokio::io::BufReader<ChildStdout>) -> io::Result<Answer> {
    let mut length = [0; 4];
    output.read_exact(&mut length).await?;
    let mut bytes = vec![0; checked_length(length)?];
    output.read_exact(&mut bytes).await?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The last few KB a worker writes on stderr (read as it comes, so the pipe never fills).
async fn tail(mut errors: tokio::process::ChildStderr) -> String {
    const KEEP: usize = 4096;
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = [0; 1024];
    while let Ok(n) = errors.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > 2 * KEEP {
            kept.drain(..kept.len() - KEEP);
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_travel_as_arguments() {
        let limits = Limits {
            memory_mb: 256,
            timeout: Duration::from_millis(200),
        };
        assert_eq!(Limits::from_args(&limits.to_args()), Ok(limits));
        assert!(Limits::from_args(&["--memory-mb".into()]).is_err());
        assert!(Limits::from_args(&["--shell".into(), "1".into()]).is_err());
    }

    #[test]
    fn a_worker_loads_a_set_renders_it_and_asks_for_one_it_lacks() {
        let mut sets = Sets::default();
        let timeout = Duration::from_secs(5);
        let context = serde_json::json!({ "name": "<Alpha>" });
        let render = |set| Request::Render {
            set,
            template: "store/404.html".into(),
            context: context.clone(),
        };
        assert!(matches!(sets.answer(render(1), timeout), Answer::NeedSet));
        let load = Request::Load {
            set: 1,
            overrides: vec![("store/404.html".into(), "Hi {{ name }}".into())],
        };
        assert!(matches!(sets.answer(load, timeout), Answer::Loaded));
        match sets.answer(render(1), timeout) {
            Answer::Page(page) => assert_eq!(page, "Hi &lt;Alpha&gt;"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(sets.answer(render(2), timeout), Answer::NeedSet));
    }

    #[test]
    fn messages_are_framed_and_bounded() {
        let mut wire = Vec::new();
        write_message(&mut wire, &Answer::Page("é".into())).unwrap();
        let mut input = io::Cursor::new(wire);
        assert!(matches!(
            read_message::<Answer>(&mut input).unwrap(),
            Some(Answer::Page(p)) if p == "é"
        ));
        assert!(read_message::<Answer>(&mut input).unwrap().is_none());
        let mut huge = io::Cursor::new(u32::MAX.to_be_bytes().to_vec());
        assert!(read_message::<Answer>(&mut huge).is_err());
    }
}
