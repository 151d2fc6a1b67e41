//! Variables interpolated as a blank string because they are not set (`${CONFIG}/web` with
//! `CONFIG` unset is `/web`): compose warns about each ("The "CONFIG" variable is not set.
//! Defaulting to a blank string."), so tierctl does too, once per variable, at the place it is
//! first used.

use serde::Serialize;

use crate::compose::interpolate::UsedVariable;
use crate::compose::origin::{Place, Position, Route};
use crate::compose::source::SourceText;

/// A variable that interpolation replaced by a blank string because it is not set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnsetVariable {
    /// The variable.
    pub name: String,
    /// Every place it is used that way, in load order: the `$` of each use when the value is
    /// written on one line, else the value.
    pub places: Vec<Place>,
}

impl UnsetVariable {
    /// Compose's warning, naming the first use and counting the others:
    /// `compose.yaml:5:9: The "CONFIG" variable is not set. Defaulting to a blank string.`
    pub fn message(&self) -> String {
        let first = self
            .places
            .first()
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        let more = match self.places.len() {
            0 | 1 => String::new(),
            2 => " (used once more)".to_owned(),
            n => format!(" (used {} more times)", n - 1),
        };
        format!(
            "{first}The \"{}\" variable is not set. Defaulting to a blank string.{more}",
            self.name
        )
    }
}

/// The unset variables met while interpolating, in the order first used.
#[derive(Debug, Default)]
pub struct UnsetVariables(Vec<UnsetVariable>);

impl UnsetVariables {
    /// Records the blanked variables of the value at `route` of `source`.
    pub fn record(&mut self, source: &SourceText, route: &Route, used: &[UsedVariable]) {
        for var in used.iter().filter(|v| v.blank) {
            let place = place_of_use(source, route, &var.name);
            match self.0.iter_mut().find(|u| u.name == var.name) {
                Some(known) if known.places.contains(&place) => {}
                Some(known) => known.places.push(place),
                None => self.0.push(UnsetVariable {
                    name: var.name.clone(),
                    places: vec![place],
                }),
            }
        }
    }

    /// The variables, in the order first used.
    pub fn into_vec(self) -> Vec<UnsetVariable> {
        self.0
    }
}

/// The `$` of the first use of `name` in the value at `route`, when the value's text holds it
/// on its first line; else the value's start.
fn place_of_use(source: &SourceText, route: &Route, name: &str) -> Place {
    let Some(located) = source.locate(route) else {
        return Place::file(source.path.clone());
    };
    let first_line = located.text.lines().next().unwrap_or_default();
    let offset = [format!("${{{name}}}"), format!("${name}")]
        .iter()
        .filter_map(|written| first_line.find(written.as_str()))
        .min();
    let column = offset.map_or(0, |o| first_line[..o].chars().count());
    Place::at(
        source.path.clone(),
        Position {
            line: located.position.line,
            column: located.position.column + column,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::interpolate::interpolate;
    use crate::compose::origin::RouteKey;
    use std::path::Path;

    #[test]
    fn once_per_variable_at_the_dollar_of_its_first_use() {
        let text = "services:\n  web:\n    volumes:\n      - ${CONFIG}/web:/web\n      - \"$CONFIG/b:/b\"\n";
        let source = SourceText::new(Path::new("/p/compose.yaml"), text.to_owned());
        let mut unset = UnsetVariables::default();
        for i in 0..2 {
            let route = Route::new([
                RouteKey::from("services"),
                RouteKey::from("web"),
                RouteKey::from("volumes"),
                RouteKey::Index(i),
            ]);
            let raw = source.locate(&route).expect("located").text;
            let raw: String = serde_norway::from_str(&raw).expect("a string");
            let done = interpolate(&raw, &|_| None).expect("interpolates");
            unset.record(&source, &route, &done.variables);
        }
        let unset = unset.into_vec();
        assert_eq!(unset.len(), 1);
        assert_eq!(
            unset[0].message(),
            "/p/compose.yaml:4:9: The \"CONFIG\" variable is not set. Defaulting to a blank string. (used once more)"
        );
        assert_eq!(
            unset[0].places[1].position,
            Some(Position {
                line: 5,
                column: 10
            })
        );
    }
}
