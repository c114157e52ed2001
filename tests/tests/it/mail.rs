//! Outgoing mail: real SMTP to a local receiver, `.eml` files, and the email templates.

use std::time::Duration;

use platform::mail::{
    EmailTemplate as _, FileMailer, MailError, Mailer as _, OutgoingMail, SmtpMailer, VerifyEmail,
    mailer_from_settings, render_email,
};
use platform::views::Views;
use storefront_tests::smtp::{ParsedMail, SmtpReceiver};

fn welcome_mail() -> OutgoingMail {
    OutgoingMail {
        to: "Ann Buyer <ann@buyer.example>".into(),
        from: "Café Luna <shop@cafe-luna.example>".into(),
        reply_to: Some("help@cafe-luna.example".into()),
        subject: "Welcome to Café Luna".into(),
        text: "Bienvenue at Café Luna!\n\
               .this line starts with a dot\n\
               ..and this one with two\n\
               Confirm here: https://cafe-luna.example/verify?token=abc123\n"
            .into(),
        html: Some("<p>Bienvenue at <b>Café Luna</b>!</p>".into()),
    }
}

#[tokio::test]
async fn smtp_mailer_delivers_over_real_smtp() {
    let receiver = SmtpReceiver::start().await;
    let mailer = SmtpMailer::from_url(&receiver.url()).expect("a plain local SMTP URL");

    mailer.send(&welcome_mail()).await.expect("delivered");

    let received = receiver.wait_for(1, Duration::from_secs(5)).await;
    let mail = &received[0];
    assert_eq!(mail.from, "shop@cafe-luna.example");
    assert_eq!(mail.to, ["ann@buyer.example"]);
    assert_eq!(mail.subject(), "Welcome to Café Luna");
    let text = mail.text_body();
    assert!(text.starts_with("Bienvenue at Café Luna!\n"), "{text}");
    assert!(text.contains("\n.this line starts with a dot\n"), "{text}");
    assert!(text.contains("\n..and this one with two\n"), "{text}");
    assert_eq!(
        mail.find_link("https://cafe-luna.example/verify")
            .as_deref(),
        Some("https://cafe-luna.example/verify?token=abc123")
    );
    let parsed = mail.parsed();
    assert!(parsed.html_body().unwrap().contains("<b>Café Luna</b>"));
    assert!(
        parsed
            .header("Reply-To")
            .unwrap()
            .contains("help@cafe-luna.example")
    );
}

#[tokio::test]
async fn smtp_mailer_dot_stuffs_plain_ascii_lines() {
    // An ASCII body goes out as 7bit, so the dotted lines cross the wire as they are and
    // only SMTP's dot-stuffing keeps `.` from ending the message early.
    let receiver = SmtpReceiver::start().await;
    let mailer = SmtpMailer::from_url(&receiver.url()).unwrap();
    let mail = OutgoingMail {
        to: "ann@buyer.example".into(),
        from: "shop@shop.example".into(),
        reply_to: None,
        subject: "Dots".into(),
        text: "first\n.\n.second\nlast\n".into(),
        html: None,
    };

    mailer.send(&mail).await.unwrap();

    let received = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        received[0].parsed().header("Content-Transfer-Encoding"),
        Some("7bit")
    );
    // lettre ends the body with an extra CRLF before the final `.`; trailing blank lines
    // carry no meaning in a text body.
    assert_eq!(
        received[0].text_body().trim_end(),
        "first\n.\n.second\nlast"
    );
}

#[tokio::test]
async fn file_mailer_writes_a_complete_eml_file() {
    let data_dir = tempfile::tempdir().unwrap();
    let mailer = mailer_from_settings(None, data_dir.path()).expect("a file mailer");

    mailer.send(&welcome_mail()).await.expect("written");

    let files: Vec<_> = std::fs::read_dir(data_dir.path().join("mail"))
        .expect("DATA_DIR/mail exists")
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "no temporary file is left behind: {files:?}"
    );
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(".eml") && name.contains('Z'), "{name}");
    let mail = ParsedMail::parse(&std::fs::read_to_string(&files[0]).unwrap());
    assert_eq!(mail.subject(), "Welcome to Café Luna");
    assert!(mail.header("To").unwrap().contains("ann@buyer.example"));
    assert!(mail.header("Date").is_some() && mail.header("Message-ID").is_some());
    let text = mail.text_body().unwrap();
    assert!(text.contains(".this line starts with a dot"), "{text}");
    assert_eq!(
        mail.find_link("https://cafe-luna.example/").as_deref(),
        Some("https://cafe-luna.example/verify?token=abc123")
    );
}

#[tokio::test]
async fn file_mailer_refuses_an_invalid_address_naming_the_field() {
    let data_dir = tempfile::tempdir().unwrap();
    let mailer = FileMailer::new(data_dir.path().join("mail"));
    let mail = OutgoingMail {
        to: "not an address".into(),
        ..welcome_mail()
    };

    let err = mailer.send(&mail).await.unwrap_err();

    assert!(matches!(err, MailError::InvalidAddress("to")), "{err:?}");
    assert!(!err.is_retryable());
}

#[test]
fn verify_email_renders_all_three_parts() {
    let views = Views::load().expect("templates parse");
    let view = VerifyEmail {
        store_name: "<b>Acme</b> & Co".into(),
        link: "https://acme.example/verify?token=t0k3n&x=1".into(),
        expires_in_hours: 24,
    };

    let mail = view
        .render(&views, "ann@buyer.example", "Acme <shop@acme.example>")
        .expect("renders");

    assert_eq!(mail.to, "ann@buyer.example");
    assert_eq!(mail.from, "Acme <shop@acme.example>");
    assert_eq!(
        mail.subject,
        "Confirm your email address for <b>Acme</b> & Co"
    );
    assert!(
        mail.text.contains("for <b>Acme</b> & Co by"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("\nhttps://acme.example/verify?token=t0k3n&x=1\n")
    );
    assert!(mail.text.contains("24 hours"));
    let html = mail.html.expect("verify_email has an HTML body");
    assert!(html.contains("&lt;b&gt;Acme&lt;/b&gt; &amp; Co"), "{html}");
    assert!(!html.contains("<b>Acme"), "{html}");
    assert!(html.contains("token=t0k3n&amp;x=1"), "{html}");
}

#[test]
fn every_email_template_renders() {
    let views = Views::load().unwrap();
    let reset = platform::mail::PasswordReset {
        store_name: "Acme".into(),
        link: "https://acme.example/reset/abc".into(),
        expires_in_minutes: 1,
    };
    let invite = platform::mail::StaffInvite {
        store_name: "Acme".into(),
        inviter: "Ann".into(),
        role: "admin".into(),
        link: "https://acme.example/invite/abc".into(),
        expires_in_days: 7,
    };
    let sign_in = platform::mail::SignInLink {
        store_name: "Acme".into(),
        link: "https://acme.example/admin/login/link/abc".into(),
        expires_in_minutes: 15,
    };
    let from = "shop@acme.example";

    let reset = reset.render(&views, "bo@buyer.example", from).unwrap();
    let sign_in = sign_in.render(&views, "bo@buyer.example", from).unwrap();
    let invite = invite.render(&views, "bo@buyer.example", from).unwrap();

    assert_eq!(reset.subject, "Reset your password for Acme");
    assert!(reset.text.contains("works for 1 minute."), "{}", reset.text);
    assert!(
        reset
            .html
            .unwrap()
            .contains("https://acme.example/reset/abc")
    );
    assert_eq!(sign_in.subject, "Your sign-in link for Acme");
    assert!(
        sign_in.text.contains("works once, for 15 minutes."),
        "{}",
        sign_in.text
    );
    assert!(
        sign_in
            .html
            .unwrap()
            .contains("https://acme.example/admin/login/link/abc")
    );
    assert_eq!(invite.subject, "Ann invited you to help run Acme");
    assert!(invite.text.contains("Acme as admin."), "{}", invite.text);
    assert!(invite.text.contains("7 days"));
    assert!(invite.html.is_some());
    // The free function takes any template name; a missing one is an error, not a panic.
    assert!(
        render_email(
            &views,
            "no_such_email",
            &serde_json::json!({}),
            "a@b.example",
            from
        )
        .is_err()
    );
}

#[tokio::test]
async fn smtp_to_a_closed_port_is_a_retryable_transport_error() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{closed_port}")).unwrap();

    let err = mailer.send(&welcome_mail()).await.unwrap_err();

    assert!(matches!(err, MailError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(!err.to_string().contains("ann@"), "{err}");
}
