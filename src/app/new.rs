//! `tierctl new`.

use std::io::Write;

use super::{emit, load_tiers};
use crate::error::{Error, exit};
use crate::report::Report;
use crate::report::reports::NewProjectReport;
use crate::settings::Settings;
use crate::{layout, template, tierfs};

/// `tierctl new TEMPLATE -o DIR`.
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
        &tierfs::dirs(
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
                .collect(),
        ),
        &tierfs::roots(&tiers),
        false,
    );
    if !args.dry_run {
        tierfs::write_project(&output, &rendered.compose, &rendered.env)?;
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
        dry_run: args.dry_run,
    };
    emit(settings, &Report::NewProject(&created), out)?;
    Ok(if blocked { exit::FINDINGS } else { exit::CLEAN })
}
