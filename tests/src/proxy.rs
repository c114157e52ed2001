//! A TCP proxy between the app and PostgreSQL that a test can cut: the database going away
//! (a crash, a partition) and coming back, as the app meets it on the network.
//!
//! While cut, every connection made through it is closed at once (the app reads EOF, as
//! from a crashed server) and new ones are accepted but never answered (as across a
//! network partition: a connection attempt hangs until its own timeout).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::task::JoinHandle;

/// Where the proxy forwards to.
#[derive(Clone, Debug)]
pub enum Upstream {
    /// A TCP address.
    Tcp(String),
    /// A Unix socket file (`.s.PGSQL.5432` in the server's socket directory).
    Unix(PathBuf),
}

#[derive(Default)]
struct State {
    cut: bool,
    /// Connections being forwarded.
    pipes: Vec<JoinHandle<()>>,
    /// Connections accepted while cut, held open and never answered.
    held: Vec<TcpStream>,
}

/// The proxy; stops when dropped.
pub struct DbProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_loop: JoinHandle<()>,
}

impl DbProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: Upstream) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let accept_loop = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut s = shared.lock().expect("proxy state");
                if s.cut {
                    s.held.push(client);
                    continue;
                }
                let upstream = upstream.clone();
                s.pipes.retain(|p| !p.is_finished());
                s.pipes.push(tokio::spawn(pipe(client, upstream)));
            }
        });
        Self {
            addr,
            state,
            accept_loop,
        }
    }

    /// The database goes away: open connections close, new ones hang.
    pub fn cut(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.cut = true;
        for pipe in s.pipes.drain(..) {
            pipe.abort();
        }
    }

    /// The database is back: connections go through again.
    pub fn restore(&self) {
        let mut s = self.state.lock().expect("proxy state");
        s.cut = false;
        s.held.clear();
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.cut();
    }
}

async fn pipe(mut client: TcpStream, upstream: Upstream) {
    let _ = match upstream {
        Upstream::Tcp(addr) => match TcpStream::connect(&addr).await {
            Ok(mut server) => tokio::io::copy_bidirectional(&mut client, &mut server).await,
            Err(_) => return,
        },
        Upstream::Unix(path) => match UnixStream::connect(&path).await {
            Ok(mut server) => tokio::io::copy_bidirectional(&mut client, &mut server).await,
            Err(_) => return,
        },
    };
}
