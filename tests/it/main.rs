//! The one integration-test binary.

// Tests build real workspaces: the pure-core lints of clippy.toml do not apply here.
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

#[macro_use]
mod skip;

mod audit_cli;
mod bad_input;
mod compose_runner;
mod copy_engine;
mod corpus;
mod corpus_tree;
mod differential;
mod engine;
mod fake;
mod fake_migrate;
mod fake_to_context;
mod fleet;
mod fuzz;
mod hosts;
mod issue21_crash;
mod issue21_engine;
mod issue21_holes;
mod issue21_keeps;
mod issue21_medium;
mod issue21_oracle;
mod issue21_unmount;
mod issue23_reflink;
mod issue23_single_pass;
mod issue25_mover;
mod issue25_pool;
mod issue26_dataloss;
mod issue26_rows;
mod issue26_trees;
mod journal_format;
mod layers;
mod leftovers;
mod loader;
mod migrate_downtime;
mod migrate_engine;
mod migrate_immich;
mod migrate_to_context;
mod mount_identity;
mod mounts_cli;
mod readme;
mod remote;
mod remote_migrate;
mod remote_paths;
mod rewrite;
mod rewrite_corpus;
mod safety_migrate;
mod safety_preflight;
mod safety_rewrite;
mod safety_targets;
mod share_probe_engine;
mod stack;
mod subtree;
mod swarm;
mod swarm_move;
mod templates;
mod tier_presence;
mod tiers_cli;
mod tree_engine;
mod verify_cli;
mod vm_cli;
mod vm_engine;
mod vm_powercut;
mod workspace;
