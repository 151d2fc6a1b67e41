//! `tierctl new`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{emit, load_tiers};
use crate::error::{Error, exit};
use crate::report::Report;
use crate::report::reports::{NewFile, NewProjectReport};
use crate::settings::Settings;
use crate::template::{FileAction, Rendered};
use crate::{layout, template, tierfs};

/// `tierctl new TEMPLATE -o DIR`. Re-runnable: files with the rendered text are kept, missing
/// ones created, and files that differ (the user's edits) refuse the run before anything is
/// written, unless `--force` replaces them after a backup.
pub(super) fn new_template(
    settings: &Settings,
    args: &crate::cli::NewArgs,
    out: &mut dyn Write,
) -> Result<u8, Error> {
    if args.list {
        emit(settings, &Report::Templates(&template::TEMPLATES), out)?;
        return Ok(exit::CLEAN);
    }
    let (Some(name), Some(output)) = (&args.template, &args.output) else {
        return Err(Error::Template(template::TemplateError::Unknown {
            name: String::new(),
        }));
    };
    let tiers = load_tiers(settings)?;
    let chosen = template::find(name)?;
    let rendered = template::render(chosen, &tiers)?;
    let output = crate::compose::path::absolute(&settings.load.working_dir, output);
    let actions = layout::init_plan(
        &tierfs::dirs(wanted_dirs(&rendered)),
        &tierfs::roots(&tiers),
        false,
    );
    let files = project_files(&output, &rendered);
    let existing = files
        .iter()
        .map(|(path, _)| read_existing(path))
        .collect::<Result<Vec<_>, _>>()?;
    let decided = template::file_actions(
        name,
        &files
            .iter()
            .zip(&existing)
            .map(|((path, text), now)| (path.clone(), *text, now.as_deref()))
            .collect::<Vec<_>>(),
        args.force,
    )?;
    let mut written: Vec<NewFile> = files
        .iter()
        .zip(&decided)
        .map(|((path, _), action)| NewFile {
            path: path.clone(),
            action: *action,
            backup: None,
        })
        .collect();
    if !args.dry_run {
        write_files(&output, &files, &existing, &mut written)?;
        for action in &actions {
            tierfs::apply_dir(action)?;
        }
    }
    let blocked = actions
        .iter()
        .any(|a| matches!(a, layout::DirAction::Blocked { .. }));
    let created = NewProjectReport {
        template: name.clone(),
        output,
        rendered,
        actions,
        files: written,
        dry_run: args.dry_run,
    };
    emit(settings, &Report::NewProject(&created), out)?;
    Ok(if blocked { exit::FINDINGS } else { exit::CLEAN })
}

fn wanted_dirs(rendered: &Rendered) -> Vec<layout::WantedDir> {
    rendered
        .dirs
        .iter()
        .map(|d| layout::WantedDir {
            tier: d.tier.clone(),
            path: d.path.clone(),
            owner: d.owner,
            owner_name: None,
            mode: d.mode,
            declared: true,
        })
        .collect()
}

/// The project's files and their rendered text.
fn project_files<'a>(dir: &Path, rendered: &'a Rendered) -> Vec<(PathBuf, &'a str)> {
    vec![
        (dir.join("compose.yaml"), rendered.compose.as_str()),
        (dir.join(".env"), rendered.env.as_str()),
    ]
}

/// The file's text, `None` when it does not exist.
fn read_existing(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates the missing files, then replaces (compare-and-swap, backup first) those `--force`
/// replaces; records each backup in `written`.
fn write_files(
    dir: &Path,
    files: &[(PathBuf, &str)],
    existing: &[Option<String>],
    written: &mut [NewFile],
) -> Result<(), Error> {
    let create: Vec<(&Path, &str)> = files
        .iter()
        .zip(written.iter())
        .filter(|(_, w)| w.action == FileAction::Create)
        .map(|((path, text), _)| (path.as_path(), *text))
        .collect();
    tierfs::create_project_files(dir, &create)?;
    let replace: Vec<crate::write::FileWrite> = files
        .iter()
        .zip(existing)
        .zip(written.iter())
        .filter(|(_, w)| w.action == FileAction::Replace)
        .filter_map(|(((path, text), now), _)| {
            Some(crate::write::FileWrite {
                path: path.clone(),
                read_hash: crate::write::hash(now.as_deref()?),
                text: (*text).to_owned(),
            })
        })
        .collect();
    if replace.is_empty() {
        return Ok(());
    }
    let stamp = crate::write::timestamp(std::time::SystemTime::now());
    let backups = crate::write::write_all(&replace, &stamp)?;
    let replaced = written
        .iter_mut()
        .filter(|w| w.action == FileAction::Replace);
    for (file, backup) in replaced.zip(backups) {
        file.backup = Some(backup);
    }
    Ok(())
}
