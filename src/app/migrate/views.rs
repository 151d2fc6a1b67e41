//! "Verify mounts" for `tierctl migrate`: `tierctl verify`'s machinery as the run's
//! [`crate::migrate::MountViews`].

use crate::app::verify::engine_class;
use crate::engine::Engine;
use crate::engine::docker::DockerEngine;
use crate::engine::endpoint::{self, Endpoint};
use crate::engine::observe::VerifyError;
use crate::error::Error;

/// "verify mounts" of `migrate` through `tierctl verify`'s observation and checks.
pub(in crate::app) struct VerifyViews<'a> {
    pub(super) engine: &'a DockerEngine,
    pub(super) class: crate::verify::EngineClass,
    pub(super) helper_image: String,
    /// The engine's host is another machine: the bind sources are read there by helpers.
    pub(super) elsewhere: bool,
}

impl<'a> VerifyViews<'a> {
    pub(super) fn new(
        engine: &'a DockerEngine,
        endpoint: &Endpoint,
        helper_image: &str,
        elsewhere: bool,
    ) -> Result<VerifyViews<'a>, Error> {
        let info = engine.info()?;
        let guess = endpoint::refine(
            endpoint::identify(endpoint),
            &info.operating_system,
            &info.name,
        );
        let class = match engine_class(&guess) {
            // a native engine on that machine: its host side is read there, compared as native
            crate::verify::EngineClass::Unknown if elsewhere => crate::verify::EngineClass::Native,
            class => class,
        };
        Ok(VerifyViews {
            engine,
            class,
            helper_image: helper_image.to_owned(),
            elsewhere,
        })
    }
}

impl crate::migrate::MountViews for VerifyViews<'_> {
    fn view(&self, project: &str) -> Result<Vec<crate::migrate::ViewedMount>, VerifyError> {
        use crate::engine::observe::{self, ObserveOptions, Selection};
        let (containers, _) = observe::select(self.engine, &Selection::Project(project.into()))?;
        let remote_sources = match self.elsewhere {
            true => Some(crate::engine::host_fs::bind_sources(
                self.engine,
                &self.helper_image,
                &observe::bind_sources(&containers),
            )?),
            false => None,
        };
        let options = ObserveOptions {
            helper_image: self.helper_image.clone(),
            pause: None,
            remote_sources,
        };
        let observed = observe::observe(self.engine, containers, &options)?;
        Ok(observed
            .into_iter()
            .flat_map(|c| {
                let service = c.info.service().unwrap_or_default().to_owned();
                let container = c.info.name.clone();
                c.mounts.into_iter().map(move |o| {
                    let check = crate::verify::check(&o, self.class);
                    crate::migrate::ViewedMount {
                        container: container.clone(),
                        service: service.clone(),
                        target: o.target,
                        verdict: check.verdict.id().to_owned(),
                        reasons: check.reasons,
                    }
                })
            })
            .collect())
    }
}
