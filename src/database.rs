//! Pure: what a database is, as tierctl recognises one — by the image a service runs (with the
//! directory it keeps its data in) or by the files a directory holds — and the rule that a
//! database never goes onto a VM share.
//!
//! Why no share: SQLite in WAL mode on a virtiofs bind mount reports "database disk image is
//! malformed" within a minute under concurrent writers where ext4 runs clean for 30 minutes
//! (hermes-agent#110847); openclaw#120549 found zeroed pages in a 2.5 GB database; Radarr#5458
//! and Sonarr#3051 on Mac and network shares. sshfs and 9p cannot `chown` (Postgres refuses to
//! start) nor lock like a disk. So every VM share type is refused, virtiofs included (issue 22).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::compose::model::{ComposeProject, MountType};
use crate::facts::DatabaseSign;
use crate::share::{Coverage, VmView};

/// Image names (the last path part, without tag) of database servers; their data is anywhere
/// they mount.
const SERVERS: [&str; 12] = [
    "postgres",
    "postgis",
    "pgvecto",
    "timescaledb",
    "mysql",
    "mariadb",
    "mongo",
    "redis",
    "valkey",
    "sqlite",
    "couchdb",
    "influxdb",
];

/// Data directories of database servers, for services whose image is not recognised.
const SERVER_TARGETS: [&str; 4] = [
    "/var/lib/postgresql",
    "/var/lib/mysql",
    "/data/db",
    "/bitnami/postgresql",
];

/// Applications that keep a SQLite database in one directory of theirs: (image name part,
/// that directory in the container). linuxserver and hotio images keep it under `/config`.
const SQLITE_APPS: [(&str, &str); 22] = [
    ("radarr", "/config"),
    ("sonarr", "/config"),
    ("lidarr", "/config"),
    ("readarr", "/config"),
    ("prowlarr", "/config"),
    ("whisparr", "/config"),
    ("bazarr", "/config"),
    ("tautulli", "/config"),
    ("overseerr", "/app/config"),
    ("jellyseerr", "/app/config"),
    ("plex", "/config"),
    ("pms-docker", "/config"),
    ("jellyfin", "/config"),
    ("emby", "/config"),
    ("embyserver", "/config"),
    ("home-assistant", "/config"),
    ("homeassistant", "/config"),
    ("uptime-kuma", "/app/data"),
    ("vaultwarden", "/data"),
    ("bitwarden_rs", "/data"),
    ("paperless-ngx", "/usr/src/paperless/data"),
    ("gitea", "/data"),
];

/// The last path part of an image reference, without tag or digest (`ghcr.io/hotio/radarr:release`
/// -> `radarr`), lowercased.
pub fn image_name(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split([':', '@'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
}

/// An image reference without tag or digest, lowercased (`vaultwarden/server:latest` ->
/// `vaultwarden/server`): some applications are known by their repository, not the last part.
pub fn image_path(image: &str) -> String {
    let image = image.split('@').next().unwrap_or(image);
    let cut = match (image.rfind(':'), image.rfind('/')) {
        (Some(colon), Some(slash)) if colon > slash => colon,
        (Some(colon), None) => colon,
        _ => image.len(),
    };
    image[..cut].to_ascii_lowercase()
}

/// Whether a path in the container is `dir` or lies under it (component-wise).
fn under(target: &str, dir: &str) -> bool {
    Path::new(target).starts_with(dir)
}

/// What a service mounting `target` keeps there, by its image: the database's name when the
/// image is a database server, or an application known to keep SQLite in that directory.
pub fn by_image(image: Option<&str>, target: &str) -> Option<String> {
    if let Some(image) = image {
        let name = image_name(image);
        if let Some(server) = SERVERS.iter().find(|s| name.contains(*s)) {
            return Some((*server).to_owned());
        }
        let path = image_path(image);
        let app = SQLITE_APPS
            .iter()
            .find(|(app, dir)| path.contains(app) && under(target, dir));
        if let Some((app, _)) = app {
            return Some(format!("{app} (SQLite)"));
        }
    }
    SERVER_TARGETS
        .iter()
        .find(|t| under(target, t))
        .map(|t| format!("a database data directory ({t})"))
}

/// The 16-byte header every SQLite 3 database file starts with.
pub const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What one entry of a directory shows (`relative`: its path under the directory read;
/// `head`: the first bytes of a regular file, empty for a directory).
pub fn sign(relative: &Path, is_dir: bool, head: &[u8]) -> Option<DatabaseSign> {
    let name = relative.file_name()?.to_string_lossy();
    let file = relative.to_owned();
    if is_dir {
        // MySQL's system schema directory
        return (name == "mysql").then_some(DatabaseSign::Mysql { file });
    }
    match name.as_ref() {
        "PG_VERSION" => return Some(DatabaseSign::Postgres { file }),
        "ibdata1" => return Some(DatabaseSign::Mysql { file }),
        "WiredTiger" => return Some(DatabaseSign::Mongo { file }),
        _ => {}
    }
    if head.starts_with(SQLITE_HEADER) {
        return Some(DatabaseSign::Sqlite { file });
    }
    (name.ends_with("-wal") || name.ends_with("-shm"))
        .then_some(DatabaseSign::SqliteJournal { file })
}

/// Why a mount is taken for a database's: its image, or the files it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// The image (what [`by_image`] says).
    Image(String),
    /// Files in the bind source or volume.
    Content(Vec<DatabaseSign>),
}

impl Evidence {
    /// The evidence for a mount, by image first, then by content.
    pub fn of(image: Option<&str>, target: &str, signs: &[DatabaseSign]) -> Option<Evidence> {
        if let Some(what) = by_image(image, target) {
            return Some(Evidence::Image(what));
        }
        (!signs.is_empty()).then(|| Evidence::Content(signs.to_vec()))
    }

    /// In words: `postgres` or `SQLite files (db/app.db, db/app.db-wal)`.
    pub fn describe(&self) -> String {
        match self {
            Evidence::Image(what) => what.clone(),
            Evidence::Content(signs) => {
                let kind = signs.first().map_or("database", DatabaseSign::database);
                let files: Vec<String> = signs
                    .iter()
                    .take(3)
                    .map(|s| s.file().display().to_string())
                    .collect();
                let more = if signs.len() > 3 { ", ..." } else { "" };
                format!("{kind} files ({}{more})", files.join(", "))
            }
        }
    }
}

/// What to do about a database on a VM share: the same words in `audit` and `migrate`.
pub const ON_SHARE_FIX: &str = "keep the database on the VM's own disk: a named volume (not a bind to a directory on the Mac), or run it on a native Linux host; keep only the bulk data (media, uploads, documents) on the tier bind";

/// A service mount of a volume `migrate` moves into a tier directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move<'a> {
    /// The volume's key.
    pub volume: &'a str,
    /// The tier directory on the host it moves into.
    pub target: &'a Path,
    /// The service mounting it.
    pub service: &'a str,
    /// The service's image.
    pub image: Option<&'a str>,
    /// Where the service mounts it.
    pub container_path: &'a str,
}

/// The service mounts of each moved volume (`copies`: volume key and tier directory).
pub fn moves<'a>(
    project: &'a ComposeProject,
    copies: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Vec<Move<'a>> {
    let mut found = Vec::new();
    for (volume, target) in copies {
        for service in project.enabled_services() {
            let mounts = service
                .mounts
                .iter()
                .filter(|m| m.kind == MountType::Volume && m.source.as_deref() == Some(volume));
            found.extend(mounts.map(|m| Move {
                volume,
                target,
                service: &service.name,
                image: service.image.as_deref(),
                container_path: &m.target,
            }));
        }
    }
    found
}

/// A database volume that a move would put on a VM share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OntoShare {
    /// The volume's key.
    pub volume: String,
    /// The service.
    pub service: String,
    /// The tier directory.
    pub target: PathBuf,
    /// The share's mount type, when known.
    pub mount_type: Option<String>,
    /// Why it is a database.
    pub evidence: Evidence,
}

impl OntoShare {
    /// One line naming the volume, the service, the share and why.
    pub fn problem(&self) -> String {
        let share = self
            .mount_type
            .as_deref()
            .map_or("a VM share".to_owned(), |t| format!("a {t} VM share"));
        format!(
            "db-on-vm-share: volume `{}` of `{}` holds a database ({}) and `{}` is on {share}: a database on a VM share corrupts or cannot chown",
            self.volume,
            self.service,
            self.evidence.describe(),
            self.target.display()
        )
    }
}

/// The moves that would put a database on a VM share (`signs`: what each volume holds, when
/// it was read; by volume key).
pub fn onto_share(
    moves: &[Move<'_>],
    view: &VmView,
    signs: &dyn Fn(&str) -> Vec<DatabaseSign>,
) -> Vec<OntoShare> {
    moves
        .iter()
        .filter_map(|m| {
            let Coverage::Shared { share, .. } = view.coverage(m.target) else {
                return None;
            };
            let evidence = Evidence::of(m.image, m.container_path, &signs(m.volume))?;
            Some(OntoShare {
                volume: m.volume.to_owned(),
                service: m.service.to_owned(),
                target: m.target.to_owned(),
                mount_type: share.mount_type.clone(),
                evidence,
            })
        })
        .collect()
}

/// `migrate` refuses to move a database onto a VM share.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{}", problems.join("; "))]
pub struct OntoShareRefusal {
    /// One line per volume.
    pub problems: Vec<String>,
}

impl OntoShareRefusal {
    /// What to do instead.
    pub fn hint(&self) -> String {
        format!(
            "nothing was changed; {ON_SHARE_FIX} (leave the volume where it is: give its service no tier, or place it on a tier on a native Linux host); `--force` moves it anyway"
        )
    }
}

/// The verdict on `found`: refused unless `force`; forced, one warning line each.
pub fn verdict(found: &[OntoShare], force: bool) -> Result<Vec<String>, OntoShareRefusal> {
    let problems: Vec<String> = found.iter().map(OntoShare::problem).collect();
    match (problems.is_empty(), force) {
        (true, _) => Ok(Vec::new()),
        (false, true) => Ok(problems
            .into_iter()
            .map(|p| format!("warning: {p} (going on: --force)"))
            .collect()),
        (false, false) => Err(OntoShareRefusal { problems }),
    }
}

/// `migrate`'s rule in one call: the plan's `copies` (volume key, tier directory) of `project`
/// seen through the engine's VM `view`; `Ok` with the `warning:` lines to print (none, or the
/// forced ones), `Err` when refused.
pub fn migrate_verdict<'a>(
    project: &'a ComposeProject,
    copies: impl IntoIterator<Item = (&'a str, &'a Path)>,
    view: &VmView,
    force: bool,
) -> Result<Vec<String>, OntoShareRefusal> {
    let found = onto_share(&moves(project, copies), view, &|_| Vec::new());
    verdict(&found, force)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::load::one_file::project;
    use crate::share::{Share, colima};

    #[test]
    fn servers_by_image_or_target() {
        assert_eq!(
            by_image(Some("postgres:16"), "/data").as_deref(),
            Some("postgres")
        );
        assert!(
            by_image(
                Some("ghcr.io/immich-app/postgres:14-vectorchord0.4.3"),
                "/x"
            )
            .is_some()
        );
        assert!(by_image(Some("docker.io/library/mariadb@sha256:abc"), "/x").is_some());
        assert!(by_image(Some("custom/app"), "/var/lib/postgresql/data").is_some());
        assert!(by_image(Some("nginx:latest"), "/usr/share/nginx").is_none());
        assert!(by_image(None, "/config").is_none());
    }

    #[test]
    fn image_paths_drop_tag_and_digest_only() {
        assert_eq!(
            image_path("vaultwarden/server:latest"),
            "vaultwarden/server"
        );
        assert_eq!(
            image_path("localhost:5000/Team/App"),
            "localhost:5000/team/app"
        );
        assert_eq!(
            image_path("ghcr.io/hotio/radarr@sha256:ab"),
            "ghcr.io/hotio/radarr"
        );
    }

    #[test]
    fn sqlite_apps_only_in_their_data_directory() {
        for (image, target) in [
            ("lscr.io/linuxserver/radarr:latest", "/config"),
            ("ghcr.io/hotio/sonarr:release", "/config"),
            ("plexinc/pms-docker", "/config"),
            ("jellyfin/jellyfin:10.10", "/config"),
            ("emby/embyserver", "/config"),
            ("ghcr.io/home-assistant/home-assistant:stable", "/config"),
            ("louislam/uptime-kuma:1", "/app/data"),
            ("vaultwarden/server:latest", "/data"),
        ] {
            assert!(by_image(Some(image), target).is_some(), "{image}");
        }
        // the media library of Radarr or Plex is not its database
        assert!(by_image(Some("lscr.io/linuxserver/radarr"), "/movies").is_none());
        assert!(by_image(Some("plexinc/pms-docker"), "/data/tv").is_none());
        assert!(by_image(Some("lscr.io/linuxserver/radarr"), "/configs").is_none());
    }

    #[test]
    fn signs_by_name_and_header() {
        let p = Path::new;
        assert_eq!(
            sign(p("radarr.db"), false, b"SQLite format 3\0\x10\0"),
            Some(DatabaseSign::Sqlite {
                file: "radarr.db".into()
            })
        );
        assert!(sign(p("notes.txt"), false, b"SQLite format 2").is_none());
        assert!(matches!(
            sign(p("a/kuma.db-wal"), false, b""),
            Some(DatabaseSign::SqliteJournal { .. })
        ));
        assert!(matches!(
            sign(p("kuma.db-shm"), false, b""),
            Some(DatabaseSign::SqliteJournal { .. })
        ));
        assert!(matches!(
            sign(p("pgdata/PG_VERSION"), false, b"16\n"),
            Some(DatabaseSign::Postgres { .. })
        ));
        assert!(matches!(
            sign(p("ibdata1"), false, b""),
            Some(DatabaseSign::Mysql { .. })
        ));
        assert!(matches!(
            sign(p("mysql"), true, b""),
            Some(DatabaseSign::Mysql { .. })
        ));
        assert!(sign(p("mysql"), false, b"").is_none());
        assert!(matches!(
            sign(p("WiredTiger"), false, b"WiredTiger\n"),
            Some(DatabaseSign::Mongo { .. })
        ));
        assert!(sign(p("photo.jpg"), false, b"\xff\xd8\xff").is_none());
    }

    #[test]
    fn migrate_refuses_a_database_volume_onto_any_share_unless_forced() {
        let project = project(
            "services:\n  db:\n    image: postgres:16\n    volumes: [pg:/var/lib/postgresql/data]\n  web:\n    image: nginx\n    volumes: [static:/usr/share/nginx/html]\n  kuma:\n    image: louislam/uptime-kuma\n    volumes: [kuma:/app/data]\nvolumes:\n  pg: {}\n  static: {}\n  kuma: {}\n",
        );
        let targets = [
            ("pg", Path::new("/Users/alice/tiers/fast/db")),
            ("static", Path::new("/Users/alice/tiers/fast/static")),
            ("kuma", Path::new("/opt/local/kuma")),
        ];
        let moves = moves(&project, targets);
        assert_eq!(moves.len(), 3);
        let view = colima(vec![Share::same_path(
            "/Users/alice",
            true,
            Some("virtiofs"),
        )]);
        let found = onto_share(&moves, &view, &|_| Vec::new());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].problem(),
            "db-on-vm-share: volume `pg` of `db` holds a database (postgres) and `/Users/alice/tiers/fast/db` is on a virtiofs VM share: a database on a VM share corrupts or cannot chown"
        );
        let refused = verdict(&found, false).expect_err("refused");
        assert!(refused.hint().contains("`--force` moves it anyway"));
        assert!(refused.hint().contains("named volume"));
        let warned = verdict(&found, true).expect("forced");
        assert!(warned[0].ends_with("(going on: --force)"), "{warned:?}");
        assert_eq!(verdict(&[], false), Ok(Vec::new()));
        let refused = migrate_verdict(&project, targets, &view, false).expect_err("refused");
        assert_eq!(refused.problems.len(), 1);
    }

    #[test]
    fn migrate_finds_a_database_volume_by_its_content() {
        let project = project(
            "services:\n  app:\n    image: example/app\n    volumes: [state:/state]\nvolumes:\n  state: {}\n",
        );
        let moves = moves(&project, [("state", Path::new("/Volumes/fast/state"))]);
        let view = colima(vec![Share::same_path("/Volumes", true, Some("sshfs"))]);
        let signs = |v: &str| {
            (v == "state")
                .then(|| DatabaseSign::Sqlite {
                    file: "app.db".into(),
                })
                .into_iter()
                .collect()
        };
        let found = onto_share(&moves, &view, &signs);
        assert_eq!(
            found[0].evidence,
            Evidence::Content(vec![DatabaseSign::Sqlite {
                file: "app.db".into()
            }])
        );
        assert!(found[0].problem().contains("SQLite files (app.db)"));
    }
}
