//! `db-on-vm-share`: a database's data on a VM share whose filesystem cannot `chown` or lock
//! reliably (sshfs, reverse-sshfs, 9p). Postgres refuses to start or corrupts its data.

use super::{Check, Finding, Severity, Subjects};
use crate::share::{Coverage, VmView};

/// Share mount types that cannot `chown` or lock like a local disk.
const FRAGILE: [&str; 3] = ["sshfs", "reverse-sshfs", "9p"];

/// Image names (the last path part, without tag) of databases that keep files.
const DATABASES: [&str; 12] = [
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

/// Data directories of databases, for services whose image is not recognised.
const DATA_TARGETS: [&str; 4] = [
    "/var/lib/postgresql",
    "/var/lib/mysql",
    "/data/db",
    "/bitnami/postgresql",
];

/// Whether a service looks like a database, by image name or data directory.
pub(super) fn is_database(image: Option<&str>, target: &str) -> bool {
    let by_image = image.is_some_and(|image| {
        let name = image.rsplit('/').next().unwrap_or(image);
        let name = name.split([':', '@']).next().unwrap_or(name);
        DATABASES.iter().any(|db| name.contains(db))
    });
    by_image || DATA_TARGETS.iter().any(|t| target.starts_with(t))
}

pub(super) fn check(view: &VmView, s: &Subjects<'_>) -> Option<Finding> {
    if !is_database(s.service.image.as_deref(), &s.mount.target) {
        return None;
    }
    let real = s.real()?;
    let engine = view.vm_engine()?;
    let Coverage::Shared { share, .. } = view.coverage(real) else {
        return None;
    };
    let mount_type = share.mount_type.as_deref()?;
    if !FRAGILE.contains(&mount_type) {
        return None;
    }
    Some(s.finding(
        Check::DbOnVmShare,
        Severity::Warning,
        format!(
            "{}: database data {} is on a {mount_type} share of the {engine} VM, which cannot chown and may corrupt it",
            s.service.name,
            real.display()
        ),
        "keep database data in a directory on the VM's disk or a virtiofs share (colima: `colima start --vm-type vz --mount-type virtiofs` on a new VM)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::is_database;

    #[test]
    fn databases_by_image_or_target() {
        assert!(is_database(Some("postgres:16"), "/data"));
        assert!(is_database(
            Some("ghcr.io/immich-app/postgres:14-vectorchord0.4.3"),
            "/x"
        ));
        assert!(is_database(
            Some("docker.io/library/mariadb@sha256:abc"),
            "/x"
        ));
        assert!(is_database(Some("custom/app"), "/var/lib/postgresql/data"));
        assert!(!is_database(Some("nginx:latest"), "/usr/share/nginx"));
        assert!(!is_database(None, "/config"));
    }
}
