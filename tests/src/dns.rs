//! A real DNS server for tests: UDP on 127.0.0.1, answering the CNAME, TXT and A records a
//! test configures (and changes while it runs), in the wire format hickory-proto encodes.
//!
//! It answers like an authoritative server that also follows CNAME chains within its own
//! records: NXDOMAIN for names it does not know, an empty answer for known names without
//! the asked type.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;

/// Time to live on every answer: nothing a client caches outlives a test step.
const TTL: u32 = 0;
/// Longest CNAME chain followed within the server's own records.
const MAX_CHAIN: usize = 8;

/// One configured record's data.
#[derive(Clone, Debug)]
enum Data {
    Cname(String),
    Txt(String),
    A(Ipv4Addr),
}

impl Data {
    fn record_type(&self) -> RecordType {
        match self {
            Self::Cname(_) => RecordType::CNAME,
            Self::Txt(_) => RecordType::TXT,
            Self::A(_) => RecordType::A,
        }
    }
}

type Zone = BTreeMap<String, Vec<Data>>;

/// The server; it stops when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    /// Starts a server with no records on a free loopback port.
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("a loopback UDP port");
        let addr = socket.local_addr().expect("bound address");
        let zone = Arc::new(Mutex::new(Zone::new()));
        let task = tokio::spawn(serve(socket, Arc::clone(&zone)));
        Self { addr, zone, task }
    }

    /// Where it listens (what `settings.dns_nameserver` takes).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds `name CNAME target`.
    pub fn add_cname(&self, name: &str, target: &str) {
        self.add(name, Data::Cname(key(target)));
    }

    /// Adds `name TXT "text"`.
    pub fn add_txt(&self, name: &str, text: &str) {
        self.add(name, Data::Txt(text.to_owned()));
    }

    /// Adds `name A ip`.
    pub fn add_a(&self, name: &str, ip: Ipv4Addr) {
        self.add(name, Data::A(ip));
    }

    /// Forgets every record of `name`.
    pub fn remove(&self, name: &str) {
        self.zone.lock().expect("zone lock").remove(&key(name));
    }

    fn add(&self, name: &str, data: Data) {
        self.zone
            .lock()
            .expect("zone lock")
            .entry(key(name))
            .or_default()
            .push(data);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Names are compared lowercase, without the root dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(request) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let response = {
            let zone = zone.lock().expect("zone lock");
            answer(&request, &zone)
        };
        if let Ok(bytes) = response.to_vec() {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

fn answer(request: &Message, zone: &Zone) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    // A client that speaks EDNS expects it echoed.
    response.edns = request.edns.clone();
    response.queries = request.queries.clone();
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    if request.metadata.message_type != MessageType::Query
        || request.metadata.op_code != OpCode::Query
    {
        response.metadata.response_code = ResponseCode::NotImp;
        return response;
    }
    let wanted = query.query_type();
    let mut name = key(&query.name().to_ascii());
    let mut owner = query.name().clone();
    for _ in 0..MAX_CHAIN {
        let Some(records) = zone.get(&name) else {
            // Only the name asked for decides NXDOMAIN; a dangling CNAME target is the
            // client's to chase.
            if response.answers.is_empty() {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            return response;
        };
        let matching: Vec<&Data> = records
            .iter()
            .filter(|d| d.record_type() == wanted)
            .collect();
        if !matching.is_empty() {
            for data in matching {
                response.add_answer(record(&owner, data));
            }
            return response;
        }
        let cname = records.iter().find_map(|d| match d {
            Data::Cname(target) => Some(target.clone()),
            _ => None,
        });
        let Some(target) = cname else {
            return response;
        };
        response.add_answer(record(&owner, &Data::Cname(target.clone())));
        owner = Name::from_ascii(format!("{target}.")).expect("a valid name");
        name = target;
    }
    response
}

fn record(owner: &Name, data: &Data) -> Record {
    let rdata = match data {
        Data::Cname(target) => RData::CNAME(CNAME(
            Name::from_ascii(format!("{target}.")).expect("a valid name"),
        )),
        Data::Txt(text) => RData::TXT(TXT::new(vec![text.clone()])),
        Data::A(ip) => RData::A(A(*ip)),
    };
    Record::from_rdata(owner.clone(), TTL, rdata)
}
