//! A fake engine for the migrate run: an [`Engine`](tierctl::engine::Engine) over temp
//! directories, so every migrate step, rollback, prune and resume path runs in seconds without
//! Docker (`fake_migrate.rs`; docs/ARCHITECTURE.md, "The fake engine", says why it is built so).
//!
//! * [`engine`]: named volumes are directories that `host_path` exposes (the migrate run then
//!   takes its host code paths, as on a native engine); containers are records with state,
//!   labels and mounts; every call is logged.
//! * [`archive`]: the archive endpoint both ways (a helper's path as dockerd's tar stream; a
//!   stream extracted into a helper's mount), so `migrate --to-context` streams from one fake
//!   engine into another ([`FakeStack::with_b`]: engine B, like another machine's).
//! * [`sandbox`]: a helper container is its busybox command run by the host's static busybox,
//!   chrooted into a directory of its own mounts in a private mount namespace (read-only mounts
//!   remounted read-only), so the helper scripts tierctl ships run as they are.
//! * [`compose`]: `docker compose up -d` as the seam `ComposeCli::with_runner` takes: the
//!   project re-read with tierctl's loader, each named service's container (re)created from it.
//! * [`views`]: "verify mounts" (`MountViews`) over the container records.
//! * [`stack`]: a project, its tiers, volumes with data and running services on the fake, and
//!   the migrate run driven as `app::migrate` drives it (plan, preflight, journal, run, resume,
//!   rollback, prune), with crash points before and after each step; with engine B
//!   ([`FakeStack::with_b`]) every run is a move there, `--to-context` (`fake_to_context.rs`).
//!
//! It needs root (a copy keeps owners; mounts need `CAP_SYS_ADMIN`) and a static
//! `/usr/bin/busybox`; without them every fake test skips loudly (and fails under
//! `TIERCTL_REQUIRE_DOCKER=1`, which CI sets).

pub mod archive;
pub mod compose;
pub mod engine;
pub mod failpoint;
pub mod outage;
pub mod sandbox;
pub mod stack;
pub mod views;

pub use stack::FakeStack;
