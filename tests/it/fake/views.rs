//! "verify mounts" on the fake engine: what each running container of the project sees at its
//! mounts, judged as `tierctl verify` would on a native engine, where a container sees the host
//! path itself: `ok` when the mount's source is a directory on the host, `marker-missing`
//! otherwise. A test may make a service's mounts look wrong ([`FakeViews::judge`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tierctl::engine::MountSource;
use tierctl::engine::container::labels;
use tierctl::engine::observe::VerifyError;
use tierctl::migrate::{MountViews, ViewedMount};

use super::engine::FakeEngine;

/// The mount views of a fake engine.
pub struct FakeViews {
    engine: Arc<FakeEngine>,
    /// Service -> (verdict, reason) every mount of it gets instead of the judged one.
    forced: Mutex<BTreeMap<String, (String, String)>>,
}

impl FakeViews {
    /// The views of `engine`'s containers.
    pub fn new(engine: Arc<FakeEngine>) -> FakeViews {
        FakeViews {
            engine,
            forced: Mutex::new(BTreeMap::new()),
        }
    }

    /// From now on, every mount of `service` gets `verdict` for `reason` (`None`: judged again).
    pub fn judge(&self, service: &str, verdict: Option<(&str, &str)>) {
        let mut forced = self.forced.lock().unwrap_or_else(|e| e.into_inner());
        match verdict {
            Some((v, r)) => forced.insert(service.to_owned(), (v.to_owned(), r.to_owned())),
            None => forced.remove(service),
        };
    }
}

impl MountViews for FakeViews {
    fn view(&self, project: &str) -> Result<Vec<ViewedMount>, VerifyError> {
        let forced = self
            .forced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut seen = Vec::new();
        for c in self.engine.containers().into_iter().filter(|c| {
            c.running && c.labels.get(labels::PROJECT).map(String::as_str) == Some(project)
        }) {
            let service = c.labels.get(labels::SERVICE).cloned().unwrap_or_default();
            for (source, target, _) in &c.mounts {
                let host = match source {
                    MountSource::Volume(v) => self.engine.volume_dir(v),
                    MountSource::Bind(p) => p.clone(),
                };
                let (verdict, reasons) = match (forced.get(&service), host.is_dir()) {
                    (Some((v, r)), _) => (v.clone(), vec![r.clone()]),
                    (None, true) => ("ok".to_owned(), Vec::new()),
                    (None, false) => (
                        "marker-missing".to_owned(),
                        vec![format!(
                            "`{}` is not a directory on the host",
                            host.display()
                        )],
                    ),
                };
                seen.push(ViewedMount {
                    container: c.name.clone(),
                    service: service.clone(),
                    target: target.clone(),
                    verdict,
                    reasons,
                });
            }
        }
        Ok(seen)
    }
}
