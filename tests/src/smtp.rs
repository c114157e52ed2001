//! A real SMTP receiver on a loopback port, and a small MIME reader for what it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// An SMTP server on `127.0.0.1` that accepts every message and keeps it. It speaks plain
/// SMTP without TLS or AUTH, as a local relay does. Stops when dropped.
pub struct SmtpReceiver {
    port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    accept_loop: JoinHandle<()>,
}

impl SmtpReceiver {
    /// Listens on a free loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for SMTP");
        let port = listener.local_addr().expect("bound address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let accept_loop = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    // A client hanging up mid-session is its business, not the test's.
                    let _ = serve_session(stream, store).await;
                });
            }
        });
        Self {
            port,
            received,
            accept_loop,
        }
    }

    /// `smtp://127.0.0.1:PORT`, as `SMTP_URL` takes it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.received.lock().expect("receiver lock").clone()
    }

    /// Waits until at least `n` messages have arrived and returns all of them; panics
    /// after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "expected {n} mail message(s) within {timeout:?}, got {}",
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// One message as the receiver got it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as sent after `DATA`, dot-unstuffed, CRLF line endings.
    pub data: String,
}

impl ReceivedMail {
    /// The message, parsed.
    pub fn parsed(&self) -> ParsedMail {
        ParsedMail::parse(&self.data)
    }

    /// The decoded `Subject` header (empty if there is none).
    pub fn subject(&self) -> String {
        self.parsed().subject()
    }

    /// The decoded `text/plain` part, with `\n` line endings.
    pub fn text_body(&self) -> String {
        self.parsed()
            .text_body()
            .expect("the message has a text/plain part")
    }

    /// The first URL in the text body starting with `prefix`.
    pub fn find_link(&self, prefix: &str) -> Option<String> {
        self.parsed().find_link(prefix)
    }
}

/// What a session is in the middle of.
#[derive(Default)]
struct Transaction {
    from: Option<String>,
    to: Vec<String>,
}

async fn serve_session(
    stream: TcpStream,
    store: Arc<Mutex<Vec<ReceivedMail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 localhost ESMTP test receiver\r\n")
        .await?;
    let mut transaction = Transaction::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let command = String::from_utf8_lossy(&line);
        let command = command.trim_end_matches(['\r', '\n']);
        let (verb, argument) = command.split_once(' ').unwrap_or((command, ""));
        let reply: &[u8] = match verb.to_ascii_uppercase().as_str() {
            // One line, no extensions: clients then use plain SMTP without STARTTLS or AUTH.
            "EHLO" | "HELO" => {
                transaction = Transaction::default();
                b"250 localhost\r\n"
            }
            "MAIL" => match path_argument(argument, "FROM:") {
                Some(from) => {
                    transaction = Transaction {
                        from: Some(from),
                        to: Vec::new(),
                    };
                    b"250 OK\r\n"
                }
                None => b"501 Syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" => match (&transaction.from, path_argument(argument, "TO:")) {
                (None, _) => b"503 MAIL first\r\n",
                (Some(_), Some(to)) => {
                    transaction.to.push(to);
                    b"250 OK\r\n"
                }
                (Some(_), None) => b"501 Syntax: RCPT TO:<address>\r\n",
            },
            "DATA" if transaction.to.is_empty() => b"503 RCPT first\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let Transaction { from, to } = std::mem::take(&mut transaction);
                store.lock().expect("receiver lock").push(ReceivedMail {
                    from: from.unwrap_or_default(),
                    to,
                    data,
                });
                b"250 OK queued\r\n"
            }
            "RSET" => {
                transaction = Transaction::default();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `FROM:<a@b> SIZE=12` → `a@b` (the prefix is matched without regard to case).
fn path_argument(argument: &str, prefix: &str) -> Option<String> {
    let head = argument.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = argument[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_owned())
}

/// Reads the message after `354` up to the lone `.` line, undoing dot-stuffing.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut R) -> std::io::Result<String> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(String::from_utf8_lossy(&data).into_owned());
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

/// A message read from its RFC 5322 text: headers and (MIME) body. Enough MIME for what
/// lettre writes: single parts and nested multiparts, 7bit / 8bit / quoted-printable /
/// base64, UTF-8 text.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    headers: Vec<(String, String)>,
    body: String,
}

impl ParsedMail {
    /// Parses a message (or a MIME part); CRLF or LF line endings.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let (head, body) = match raw.split_once("\n\n") {
            Some((head, body)) => (head.to_owned(), body.to_owned()),
            None => (raw.trim_end_matches('\n').to_owned(), String::new()),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                // A folded continuation of the previous header.
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Self { headers, body }
    }

    /// The first header by this name (any case), unfolded but not decoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Subject`, with RFC 2047 encoded-words decoded.
    pub fn subject(&self) -> String {
        self.header("Subject").map(decode_words).unwrap_or_default()
    }

    /// The decoded `text/plain` part (the first one, however deeply nested).
    pub fn text_body(&self) -> Option<String> {
        self.part_text("text/plain")
    }

    /// The decoded `text/html` part (the first one, however deeply nested).
    pub fn html_body(&self) -> Option<String> {
        self.part_text("text/html")
    }

    /// The first URL in the text body starting with `prefix`.
    pub fn find_link(&self, prefix: &str) -> Option<String> {
        let text = self.text_body()?;
        let start = text.find(prefix)?;
        let link: String = text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | ')'))
            .collect();
        Some(link.trim_end_matches(['.', ',', ';', ':']).to_owned())
    }

    /// The media type, lowercase, without parameters (`text/plain` when absent).
    fn media_type(&self) -> String {
        self.header("Content-Type")
            .and_then(|v| v.split(';').next())
            .map_or_else(
                || "text/plain".to_owned(),
                |t| t.trim().to_ascii_lowercase(),
            )
    }

    fn part_text(&self, media_type: &str) -> Option<String> {
        let own_type = self.media_type();
        if own_type == media_type {
            return Some(self.decoded_body());
        }
        if !own_type.starts_with("multipart/") {
            return None;
        }
        let boundary = parameter(self.header("Content-Type")?, "boundary")?;
        let delimiter = format!("--{boundary}");
        let mut parts = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in self.body.split('\n') {
            let trimmed = line.trim_end();
            if trimmed == delimiter || trimmed == format!("{delimiter}--") {
                if let Some(lines) = current.take() {
                    parts.push(lines.join("\n"));
                }
                if trimmed == delimiter {
                    current = Some(Vec::new());
                } else {
                    break;
                }
            } else if let Some(lines) = current.as_mut() {
                lines.push(line);
            }
        }
        parts
            .iter()
            .find_map(|part| ParsedMail::parse(part).part_text(media_type))
    }

    /// The body with its transfer encoding undone, read as UTF-8, `\n` line endings.
    fn decoded_body(&self) -> String {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or("7bit")
            .to_ascii_lowercase();
        let bytes = match encoding.as_str() {
            "quoted-printable" => decode_quoted_printable(&self.body),
            "base64" => decode_base64(&self.body).expect("valid base64 body"),
            _ => self.body.clone().into_bytes(),
        };
        String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
    }
}

/// A parameter of a structured header: `boundary` in `multipart/alternative; boundary="x"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|param| {
        let (key, v) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Decodes RFC 2047 encoded-words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`); whitespace
/// between two adjacent encoded-words is dropped, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let (before, candidate) = rest.split_at(start);
        match decode_word(candidate) {
            Some((decoded, used)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[used..];
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                after_word = false;
            }
        }
    }
    out
}

/// One encoded-word at the start of `s`: the decoded text and how many bytes it took.
fn decode_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    let bytes = match encoding {
        "b" | "B" => decode_base64(text)?,
        "q" | "Q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    Some((String::from_utf8_lossy(&bytes).into_owned(), used))
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` bytes and `=` soft line breaks.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = &bytes[i + 1..];
        if next.starts_with(b"\r\n") {
            i += 3;
        } else if next.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = next
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            // Not a valid escape: RFC 2045 suggests keeping it as it is.
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// Standard base64, ignoring line breaks; `None` if it is not base64.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        buffer = (buffer << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_lettre_writes() {
        assert_eq!(decode_base64("Q2Fmw6k=").unwrap(), "Café".as_bytes());
        assert_eq!(
            decode_quoted_printable("Caf=C3=A9 =\nau lait"),
            "Café au lait".as_bytes()
        );
        assert_eq!(
            decode_words("=?utf-8?b?Q2Fmw6k=?= =?utf-8?b?IGF1?= lait"),
            "Café au lait"
        );
        assert_eq!(decode_words("Plain subject"), "Plain subject");
    }

    #[test]
    fn reads_smtp_paths() {
        assert_eq!(
            path_argument("FROM:<a@b.example> SIZE=10", "FROM:").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(path_argument("to: <c@d>", "TO:").as_deref(), Some("c@d"));
        assert_eq!(path_argument("TO:c@d", "TO:"), None);
    }
}
