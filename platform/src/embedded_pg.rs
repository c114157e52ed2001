//! A private PostgreSQL cluster under `DATA_DIR/pg`, run from the machine's binaries when no
//! `DATABASE_URL` is given. It listens on a Unix socket inside the data directory only, so
//! it never collides with another server's TCP port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context as _, bail};
use sqlx::postgres::PgConnectOptions;

/// The Unix socket file name PostgreSQL uses for its default port.
const SOCKET_PORT: u16 = 5432;
/// The longest path a Unix socket may have on Linux (sun_path minus its NUL).
const MAX_SOCKET_PATH: usize = 107;
/// The one error a machine without PostgreSQL gets.
pub const NO_BINARIES: &str = "no PostgreSQL binaries found (looked in PATH and /usr/lib/postgresql/*/bin): \
     install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL";
/// Name of the database the application uses inside the cluster.
pub const DATABASE: &str = "storefront";

/// A running embedded cluster.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<RunAs>,
    /// Whether this process started the server (and so stops it).
    started_here: bool,
}

#[derive(Clone, Copy, Debug)]
struct RunAs {
    uid: nix::unistd::Uid,
    gid: nix::unistd::Gid,
}

impl EmbeddedPostgres {
    /// Initialises the cluster under `<data_dir>/pg` on first use and starts it unless it
    /// already runs (another process on the same DATA_DIR), in which case it is shared.
    pub fn start(data_dir: &Path) -> anyhow::Result<Self> {
        Self::start_with(find_bin_dir(), data_dir)
    }

    /// [`EmbeddedPostgres::start`] with the binaries directory given (`None`: none found).
    pub fn start_with(bin_dir: Option<PathBuf>, data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = bin_dir.context(NO_BINARIES)?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating DATA_DIR {}", data_dir.display()))?;
        let root = std::fs::canonicalize(data_dir)?.join("pg");
        let data = root.join("data");
        let socket_dir = root.join("run");
        let socket_len = socket_dir.as_os_str().len() + "/.s.PGSQL.5432".len();
        if socket_len > MAX_SOCKET_PATH {
            bail!(
                "DATA_DIR {} is too deep for PostgreSQL's Unix socket ({socket_len} > {MAX_SOCKET_PATH} bytes); \
                 choose a shorter DATA_DIR or set DATABASE_URL",
                data_dir.display()
            );
        }
        let run_as = run_as()?;
        if let Some(r) = run_as {
            check_reachable(&root, r)?;
        }
        for dir in [&root, &socket_dir, &root.join("log")] {
            std::fs::create_dir_all(dir)?;
            if let Some(r) = run_as {
                nix::unistd::chown(dir.as_path(), Some(r.uid), Some(r.gid))
                    .with_context(|| format!("handing {} to the postgres user", dir.display()))?;
            }
        }
        let mut pg = Self {
            bin_dir,
            data,
            socket_dir,
            run_as,
            started_here: false,
        };
        if !pg.data.join("PG_VERSION").exists() {
            pg.initdb()?;
        }
        pg.write_settings()?;
        if !pg.is_running() {
            pg.pg_ctl_start()?;
            pg.started_here = true;
        }
        Ok(pg)
    }

    /// Connection options for the cluster's superuser on `database`.
    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(SOCKET_PORT)
            .username("postgres")
            .database(database)
    }

    /// Makes sure the application database exists; returns its connection options.
    pub async fn ensure_database(&self) -> anyhow::Result<PgConnectOptions> {
        use sqlx::{Connection as _, Executor as _};
        let mut conn = sqlx::PgConnection::connect_with(&self.connect_options("postgres"))
            .await
            .context("connecting to the embedded PostgreSQL")?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            conn.execute(format!("CREATE DATABASE {DATABASE}").as_str())
                .await?;
        }
        conn.close().await?;
        Ok(self.connect_options(DATABASE))
    }

    /// Directory holding the Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Stops the server if this process started it.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        self.started_here = false;
        let out = self.run(
            self.pg_ctl()
                .arg("stop")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w"]),
        )?;
        check(&out, "pg_ctl stop")
    }

    /// Lets go of the cluster without stopping it, for processes that hand it on (the test
    /// harness keeps one cluster for all of its runs).
    pub fn leave_running(mut self) {
        self.started_here = false;
    }

    /// Whether a server is running on this data directory.
    pub fn is_running(&self) -> bool {
        self.run(self.pg_ctl().arg("status").arg("-D").arg(&self.data))
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(dir = %self.data.display(), "initialising the embedded PostgreSQL cluster");
        let out = self.run(
            Command::new(self.bin_dir.join("initdb"))
                .arg("-D")
                .arg(&self.data)
                .args([
                    "--username=postgres",
                    "--auth-local=trust",
                    "--auth-host=reject",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-instructions",
                ]),
        )?;
        check(&out, "initdb")?;
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)?;
        text.push_str("\ninclude_if_exists = 'storefront.conf'\n");
        std::fs::write(&conf, text)?;
        Ok(())
    }

    /// Settings rewritten at every start, so a moved DATA_DIR keeps working.
    fn write_settings(&self) -> anyhow::Result<()> {
        let socket = self.socket_dir.to_string_lossy().replace('\'', "''");
        let text = format!(
            "# Written by storefront at every start.\n\
             listen_addresses = ''\n\
             unix_socket_directories = '{socket}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n\
             shared_buffers = 128MB\n\
             logging_collector = off\n"
        );
        let path = self.data.join("storefront.conf");
        std::fs::write(&path, text)?;
        if let Some(r) = self.run_as {
            nix::unistd::chown(&path, Some(r.uid), Some(r.gid))?;
        }
        Ok(())
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self
            .data
            .parent()
            .expect("data has a parent")
            .join("log/postgres.log");
        let out = self.run(
            self.pg_ctl()
                .arg("start")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60"]),
        )?;
        check(&out, "pg_ctl start").with_context(|| format!("see {}", log.display()))
    }

    fn pg_ctl(&self) -> Command {
        Command::new(self.bin_dir.join("pg_ctl"))
    }

    fn run(&self, cmd: &mut Command) -> anyhow::Result<Output> {
        use std::os::unix::process::CommandExt as _;
        // The server's own working directory must be readable by the user it runs as.
        cmd.current_dir(self.data.parent().expect("data has a parent"));
        cmd.env_remove("PGDATA").env("LC_ALL", "C");
        // Its own process group: Ctrl-C in the terminal reaches storefront, which then stops
        // the server in order, instead of reaching the server directly.
        cmd.process_group(0);
        if let Some(r) = self.run_as {
            cmd.uid(r.uid.as_raw()).gid(r.gid.as_raw());
        }
        cmd.output()
            .with_context(|| format!("running {:?}", cmd.get_program()))
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %e, "stopping the embedded PostgreSQL");
        }
    }
}

fn check(out: &Output, what: &str) -> anyhow::Result<()> {
    if out.status.success() {
        return Ok(());
    }
    bail!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        String::from_utf8_lossy(&out.stdout).trim()
    )
}

/// The server, running as another user, must be able to enter every directory above its own.
fn check_reachable(dir: &Path, r: RunAs) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let enterable = mode & 0o001 != 0
            || (meta.uid() == r.uid.as_raw() && mode & 0o100 != 0)
            || (meta.gid() == r.gid.as_raw() && mode & 0o010 != 0);
        if !enterable {
            bail!(
                "PostgreSQL runs as the `postgres` user, which cannot enter {}: \
                 allow it (chmod o+x) or choose a DATA_DIR it can reach",
                ancestor.display()
            );
        }
    }
    Ok(())
}

/// PostgreSQL refuses to run as root: then it runs as the `postgres` system user.
fn run_as() -> anyhow::Result<Option<RunAs>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name("postgres")?.context(
        "running as root, PostgreSQL must run as the `postgres` system user, which does not exist",
    )?;
    Ok(Some(RunAs {
        uid: user.uid,
        gid: user.gid,
    }))
}

/// Finds a directory holding `initdb` and `pg_ctl`: PATH first, then the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_bin_dir() -> Option<PathBuf> {
    find_bin_dir_in(std::env::var_os("PATH"), Path::new("/usr/lib/postgresql"))
}

/// [`find_bin_dir`] with the search path and the Debian-style root given.
pub fn find_bin_dir_in(path: Option<std::ffi::OsString>, versions_root: &Path) -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = path.and_then(|p| std::env::split_paths(&p).find(|d| has_tools(d))) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(versions_root)
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}
