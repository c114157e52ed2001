//! The embedded PostgreSQL default: a private cluster under DATA_DIR when no URL is given.

use std::os::unix::fs::PermissionsExt as _;

use platform::config::Settings;
use platform::db::Database;
use platform::embedded_pg::{self, EmbeddedPostgres};
use platform::tenancy::{self, NewTenant};

/// A DATA_DIR the `postgres` system user can enter (tests run as root on CI).
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("sfpg")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[tokio::test]
async fn without_a_database_url_a_private_cluster_serves_and_keeps_its_data_across_restarts() {
    let dir = data_dir();
    let mut settings = Settings::for_database("unused", dir.path().to_path_buf());
    settings.database_url = None;

    let db = Database::open(&settings).await.unwrap();
    let socket_dir = db
        .embedded
        .as_ref()
        .expect("an embedded cluster")
        .socket_dir()
        .to_owned();
    assert!(
        socket_dir.starts_with(dir.path()),
        "the socket lives inside DATA_DIR"
    );
    let listens_on_tcp: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(listens_on_tcp, "", "no TCP port to collide with");
    platform::db::migrate_platform(&db.pool).await.unwrap();
    let new = NewTenant::parse(
        "embedded",
        "Embedded Shop",
        "o@embedded.example",
        "x".into(),
    )
    .unwrap();
    tenancy::provision(&db.pool, &new).await.unwrap();
    db.close().await;
    let socket = socket_dir.join(".s.PGSQL.5432");
    assert!(
        !socket.exists(),
        "closing stops the cluster this process started"
    );

    let db = Database::open(&settings).await.unwrap();
    assert!(socket.exists());
    let names: Vec<String> = tenancy::list(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["Embedded Shop"], "the data survived the restart");
    db.close().await;
    assert!(!socket.exists());
}

#[test]
fn without_postgresql_binaries_the_error_says_what_to_do() {
    let dir = data_dir();
    let err = EmbeddedPostgres::start_with(None, dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no PostgreSQL binaries found (looked in PATH and /usr/lib/postgresql/*/bin): \
         install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL"
    );
}

#[test]
fn binaries_are_found_in_path_or_under_usr_lib_postgresql() {
    let root = tempfile::tempdir().unwrap();
    let in_path = root.path().join("bin");
    let debian = root.path().join("lib");
    for dir in [&in_path, &debian.join("14/bin"), &debian.join("16/bin")] {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("initdb"), "").unwrap();
        std::fs::write(dir.join("pg_ctl"), "").unwrap();
    }
    let found = |path: Option<&std::path::Path>| {
        embedded_pg::find_bin_dir_in(path.map(|p| p.as_os_str().to_owned()), &debian)
    };
    assert_eq!(found(Some(&in_path)), Some(in_path.clone()));
    assert_eq!(
        found(None),
        Some(debian.join("16/bin")),
        "the newest version wins"
    );
    assert_eq!(
        embedded_pg::find_bin_dir_in(None, &root.path().join("nothing")),
        None
    );
}
