//! Outgoing mail: the `Mailer` service (SMTP or `.eml` files) and email template rendering.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use crate::error::AppError;
use crate::views::Views;

/// How long one SMTP command (or the connection itself) may take.
const SMTP_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a whole delivery may take, so a stalled server cannot hold a job forever.
const SMTP_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// One email, ready to send. Addresses are `addr@example.com` or `Name <addr@example.com>`.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient.
    pub to: String,
    /// The sender.
    pub from: String,
    /// Where replies go, when not to the sender.
    pub reply_to: Option<String>,
    /// One line.
    pub subject: String,
    /// The plain-text body; always present.
    pub text: String,
    /// An HTML alternative to `text`.
    pub html: Option<String>,
}

// Hand-written so that logging a message by accident shows neither addresses nor bodies.
impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("to", &format_args!("…@{}", email_domain(&self.to)))
            .field("from", &format_args!("…@{}", email_domain(&self.from)))
            .field("reply_to", &self.reply_to.as_deref().map(email_domain))
            .field("text_bytes", &self.text.len())
            .field("html_bytes", &self.html.as_ref().map(String::len))
            .finish_non_exhaustive()
    }
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address does not parse. Names the field (`to`, `from`, `reply-to`), never the
    /// address, so the error can be logged.
    #[error("invalid {0} address")]
    InvalidAddress(&'static str),
    /// The server could not be reached, timed out or answered with a temporary (4xx)
    /// failure. Retryable.
    #[error("mail transport failed: {0}")]
    Transport(String),
    /// The server refused for good (a 5xx reply, e.g. an unknown mailbox or bad
    /// credentials): sending the same message again will not help.
    #[error("mail server rejected the message (reply {0})")]
    Rejected(String),
    /// Writing a mail file failed. Retryable.
    #[error("writing mail file: {0}")]
    Io(#[from] std::io::Error),
}

impl MailError {
    /// Whether sending the same message later may succeed.
    pub fn is_retryable(&self) -> bool {
        // A full disk or a directory whose permissions get fixed is as temporary as a
        // server that is down.
        matches!(self, Self::Transport(_) | Self::Io(_))
    }
}

/// Sends mail. Shared as `Arc<dyn Mailer>`; see [`mailer_from_settings`].
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivers one message (to the server or the mail directory).
    async fn send(&self, message: &OutgoingMail) -> Result<(), MailError>;
}

/// The mailer the settings ask for: SMTP when `SMTP_URL` is set, otherwise `.eml` files
/// under `DATA_DIR/mail`.
pub fn mailer_from_settings(
    smtp_url: Option<&SecretString>,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn Mailer>> {
    match smtp_url {
        Some(url) => {
            let mailer = SmtpMailer::from_url(url.expose_secret())?;
            tracing::info!(server = %mailer.server, security = ?mailer.security, "mail goes to SMTP");
            Ok(Arc::new(mailer))
        }
        None => {
            let mailer = FileMailer::new(data_dir.join("mail"));
            tracing::info!(dir = %mailer.dir.display(), "no SMTP_URL: mail is written to files");
            Ok(Arc::new(mailer))
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (`?tls=none`, or no credentials and no `tls` parameter): local relays.
    None,
    /// Upgrade with STARTTLS and refuse to continue without it (`?tls=starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    ImplicitTls,
}

/// Delivers over SMTP with lettre, one connection per message.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port` for logs (never the credentials).
    server: String,
    security: SmtpSecurity,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Parses an `SMTP_URL`:
    ///
    /// - `smtps://user:pass@host[:465]`: implicit TLS;
    /// - `smtp://user:pass@host[:587]?tls=starttls`: STARTTLS, required;
    /// - `smtp://host[:25]?tls=none`: no TLS;
    /// - `smtp://host:port` without credentials: no TLS (a local relay or test receiver);
    /// - `smtp://user:pass@host:port` without `tls`: STARTTLS, so a password is never sent
    ///   in the clear unless `tls=none` says so.
    ///
    /// lettre's `tls=required` is accepted as another name for `starttls`. Percent-encode
    /// `@`, `:` and `/` in the user name and password. Errors never repeat the URL (it holds
    /// the password).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        let parsed = SmtpUrl::parse(url)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&parsed.lettre_url())
            .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
            .timeout(Some(SMTP_COMMAND_TIMEOUT))
            .build();
        if parsed.security == SmtpSecurity::None && parsed.has_credentials {
            tracing::warn!(
                "SMTP_URL has tls=none: the SMTP password crosses the network unencrypted"
            );
        }
        Ok(Self {
            transport,
            server: parsed.host_port.to_owned(),
            security: parsed.security,
        })
    }

    /// How connections are protected, as the URL asked.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(mail)?;
        match tokio::time::timeout(SMTP_SEND_TIMEOUT, self.transport.send(message)).await {
            Err(_) => Err(MailError::Transport(format!(
                "no answer from {} within {}s",
                self.server,
                SMTP_SEND_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(smtp_error(&e)),
            Ok(Ok(_)) => {
                tracing::debug!(to_domain = email_domain(&mail.to), "mail sent over SMTP");
                Ok(())
            }
        }
    }
}

/// Maps lettre's error without the server's reply text, which often quotes the address.
fn smtp_error(e: &lettre::transport::smtp::Error) -> MailError {
    match e.status() {
        Some(code) if e.is_permanent() => MailError::Rejected(code.to_string()),
        Some(code) => MailError::Transport(format!("temporary failure (reply {code})")),
        None => MailError::Transport(e.to_string()),
    }
}

/// The parts of an `SMTP_URL` we look at before handing it to lettre.
struct SmtpUrl<'a> {
    scheme: &'a str,
    /// `user:pass@host:port`.
    authority: &'a str,
    /// `host:port`.
    host_port: &'a str,
    /// A non-empty path names the client in EHLO (a lettre feature we keep).
    path: &'a str,
    has_credentials: bool,
    security: SmtpSecurity,
}

impl<'a> SmtpUrl<'a> {
    fn parse(url: &'a str) -> anyhow::Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| anyhow::anyhow!("SMTP_URL must start with smtp:// or smtps://"))?;
        if rest.contains('#') {
            anyhow::bail!("SMTP_URL must not have a #fragment");
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        if host_port.is_empty() {
            anyhow::bail!("SMTP_URL has no host");
        }
        let has_credentials = userinfo.is_some_and(|u| u.contains(':'));

        let mut tls = None;
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            // An unknown key is most likely a misspelt `tls`, which would silently mean
            // sending in the clear: refuse it.
            if key != "tls" {
                anyhow::bail!("SMTP_URL: unknown parameter {key:?} (only tls=starttls|none)");
            }
            tls = Some(value.into_owned());
        }
        let security = match (scheme, tls.as_deref()) {
            ("smtps", None) => SmtpSecurity::ImplicitTls,
            ("smtps", Some(other)) => {
                anyhow::bail!("SMTP_URL: smtps:// is always TLS, drop tls={other}")
            }
            ("smtp", Some("none")) => SmtpSecurity::None,
            ("smtp", Some("starttls" | "required")) => SmtpSecurity::StartTls,
            ("smtp", Some("opportunistic")) => {
                // STARTTLS when offered is open to a downgrade that strips the offer, and
                // with credentials it would hand them over in the clear: make the
                // operator pick one of the two honest modes.
                anyhow::bail!("SMTP_URL: tls=opportunistic is not supported, use starttls or none")
            }
            ("smtp", Some(other)) => {
                anyhow::bail!("SMTP_URL: unknown tls={other:?} (use starttls or none)")
            }
            ("smtp", None) if has_credentials => SmtpSecurity::StartTls,
            ("smtp", None) => SmtpSecurity::None,
            (other, _) => anyhow::bail!("SMTP_URL: unknown scheme {other:?} (smtp or smtps)"),
        };
        Ok(Self {
            scheme,
            authority,
            host_port,
            path,
            has_credentials,
            security,
        })
    }

    /// The same URL in lettre's vocabulary (`tls=required`, no parameter for none).
    fn lettre_url(&self) -> String {
        let query = match (self.scheme, self.security) {
            ("smtp", SmtpSecurity::StartTls) => "?tls=required",
            _ => "",
        };
        format!("{}://{}{}{query}", self.scheme, self.authority, self.path)
    }
}

/// Writes each message as an RFC 5322 `.eml` file, for development and for servers
/// without SMTP. Open the files with any mail client.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
}

impl FileMailer {
    /// Mail goes under `dir`, created on first use.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where the files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = build_message(mail)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        // Timestamp first so a directory listing is in sending order.
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
            uuid::Uuid::new_v4()
        );
        let path = self.dir.join(&name);
        // Written under a hidden temporary name and renamed, so anyone watching the
        // directory for `*.eml` only ever sees complete messages.
        let temp = self.dir.join(format!(".{name}.tmp"));
        let written = async {
            let mut file = tokio::fs::File::create(&temp).await?;
            file.write_all(&message.formatted()).await?;
            file.sync_all().await?;
            tokio::fs::rename(&temp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e.into());
        }
        tracing::info!(
            path = %path.display(),
            to_domain = email_domain(&mail.to),
            "mail written to file"
        );
        Ok(())
    }
}

/// Builds the MIME message: text only, or text and HTML as `multipart/alternative`.
fn build_message(mail: &OutgoingMail) -> Result<Message, MailError> {
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| MailError::InvalidAddress("to"))?;
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|_| MailError::InvalidAddress("from"))?;
    // Message-ID under the sender's domain rather than this machine's hostname, which is
    // often a container id that spam filters dislike.
    let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), from.email.domain());
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(one_line(&mail.subject))
        .message_id(Some(message_id));
    if let Some(reply_to) = &mail.reply_to {
        let reply_to: Mailbox = reply_to
            .parse()
            .map_err(|_| MailError::InvalidAddress("reply-to"))?;
        builder = builder.reply_to(reply_to);
    }
    let built = match &mail.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone()),
        ),
    };
    // lettre only fails here for a missing or repeated From or a missing To, and both are
    // set exactly once above.
    Ok(built.expect("From and To are set, so the envelope builds"))
}

/// Collapses line breaks (and runs of spaces) so a template's trailing newline or a
/// stray line break cannot split the Subject header.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The part of an address after `@`: what logs may show.
fn email_domain(address: &str) -> &str {
    address
        .rsplit_once('@')
        .map_or("?", |(_, domain)| domain.trim_end_matches('>').trim())
}

/// A typed view for one email template: the folder `templates/email/<NAME>/` holds
/// `subject.txt`, `body.txt` and optionally `body.html`, and the struct's fields are
/// their variables.
pub trait EmailTemplate: Serialize + Sized {
    /// The template folder's name.
    const NAME: &'static str;

    /// Renders this email; see [`render_email`].
    fn render(&self, views: &Views, to: &str, from: &str) -> Result<OutgoingMail, AppError> {
        render_email(views, Self::NAME, self, to, from)
    }
}

/// `email/verify_email`: confirm that an address belongs to the person signing up.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyEmail {
    /// The store (or platform) name shown to the reader.
    pub store_name: String,
    /// The confirmation link, absolute.
    pub link: String,
    /// How long the link works.
    pub expires_in_hours: u32,
}

impl EmailTemplate for VerifyEmail {
    const NAME: &'static str = "verify_email";
}

/// `email/password_reset`: a link to choose a new password.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordReset {
    /// The store (or platform) name shown to the reader.
    pub store_name: String,
    /// The reset link, absolute.
    pub link: String,
    /// How long the link works.
    pub expires_in_minutes: u32,
}

impl EmailTemplate for PasswordReset {
    const NAME: &'static str = "password_reset";
}

/// `email/sign_in_link`: a single-use link into a store's admin, for an owner whose
/// sign-in is slowed by failed passwords from their network.
#[derive(Debug, Clone, Serialize)]
pub struct SignInLink {
    /// The store's name.
    pub store_name: String,
    /// The sign-in link, absolute.
    pub link: String,
    /// How long the link works.
    pub expires_in_minutes: u32,
}

impl EmailTemplate for SignInLink {
    const NAME: &'static str = "sign_in_link";
}

/// `email/staff_invite`: an invitation to help run a store.
#[derive(Debug, Clone, Serialize)]
pub struct StaffInvite {
    /// The store's name.
    pub store_name: String,
    /// Who sent the invitation (a name, or an address if there is no name).
    pub inviter: String,
    /// The role offered, as the admin shows it.
    pub role: String,
    /// The link that accepts the invitation, absolute.
    pub link: String,
    /// How long the invitation stays open.
    pub expires_in_days: u32,
}

impl EmailTemplate for StaffInvite {
    const NAME: &'static str = "staff_invite";
}

/// Renders `templates/email/<name>/`: `subject.txt` (folded to one line), `body.txt`, and
/// `body.html` when the template has one (escaped; the text files are not).
pub fn render_email(
    views: &Views,
    name: &str,
    view: &impl Serialize,
    to: &str,
    from: &str,
) -> Result<OutgoingMail, AppError> {
    let subject = views.render(&format!("email/{name}/subject.txt"), view)?;
    let text = views.render(&format!("email/{name}/body.txt"), view)?;
    let html_template = format!("email/{name}/body.html");
    let html = if views.has(&html_template) {
        Some(views.render(&html_template, view)?)
    } else {
        None
    };
    Ok(OutgoingMail {
        to: to.to_owned(),
        from: from.to_owned(),
        reply_to: None,
        subject: one_line(&subject),
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_pick_the_security_we_document() {
        let cases = [
            ("smtp://127.0.0.1:2525", SmtpSecurity::None),
            ("smtp://mail.example.com?tls=none", SmtpSecurity::None),
            ("smtp://u:p@mail.example.com:587", SmtpSecurity::StartTls),
            (
                "smtp://mail.example.com:587?tls=starttls",
                SmtpSecurity::StartTls,
            ),
            ("smtps://u:p@mail.example.com", SmtpSecurity::ImplicitTls),
        ];
        for (url, security) in cases {
            assert_eq!(SmtpUrl::parse(url).unwrap().security, security, "{url}");
            // Builds the rustls settings too: a missing crypto provider would fail here.
            assert_eq!(
                SmtpMailer::from_url(url).unwrap().security,
                security,
                "{url}"
            );
        }
        for bad in [
            "mail.example.com",
            "http://mail.example.com",
            "smtp://mail.example.com?tsl=starttls",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=none",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn smtp_url_errors_never_repeat_the_password() {
        let err = SmtpMailer::from_url("smtp://u:hunter2@mail.example.com?x=1").unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"));
    }

    #[test]
    fn lettre_gets_its_own_tls_vocabulary() {
        let url = SmtpUrl::parse("smtp://u:p%40x@h:587/client.example?tls=starttls").unwrap();
        assert_eq!(
            url.lettre_url(),
            "smtp://u:p%40x@h:587/client.example?tls=required"
        );
        assert_eq!(url.host_port, "h:587");
        let url = SmtpUrl::parse("smtp://h:25?tls=none").unwrap();
        assert_eq!(url.lettre_url(), "smtp://h:25");
    }

    #[test]
    fn debug_output_hides_addresses_and_bodies() {
        let mail = OutgoingMail {
            to: "Ann <ann@example.com>".into(),
            from: "shop@example.org".into(),
            reply_to: None,
            subject: "Hi".into(),
            text: "secret link".into(),
            html: None,
        };
        let shown = format!("{mail:?}");
        assert!(
            !shown.contains("ann@") && !shown.contains("secret"),
            "{shown}"
        );
        assert!(shown.contains("example.com"), "{shown}");
    }
}
