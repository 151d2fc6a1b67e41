//! String-level variable interpolation, as Docker Compose (compose-go's
//! `template` package) does it.
//!
//! Forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `${VAR:+replacement}`,
//! `${VAR+replacement}` and `$$` for a literal `$`. The text after an operator
//! is itself interpolated, and only when it is used, as compose-go does.
//! A `$` followed by anything that is neither `$`, `{` nor a name start stays
//! literal. Names are `[_A-Za-z][_A-Za-z0-9]*`.
//!
//! Where the closing brace of an expression with an operator is, follows
//! compose-go exactly: the candidate end is the last `}` on the same line,
//! and within that the first brace that balances the opening `${` (every `{`
//! opens, and the character right after a `{` is not examined).

/// The result of interpolating one string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpolated {
    /// The text with every expression replaced.
    pub value: String,
    /// Every variable that was evaluated, in evaluation order; variables inside
    /// a default, replacement or message appear only when that text was used.
    pub variables: Vec<UsedVariable>,
}

/// One variable reference that interpolation evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedVariable {
    /// The variable name.
    pub name: String,
    /// Whether the lookup found the variable (possibly with an empty value).
    pub set: bool,
    /// Whether the expression's result came from the text after its operator
    /// (a default or a replacement) rather than from the variable's value.
    pub used_default: bool,
    /// Whether the expression, written without an operator (`$VAR`, `${VAR}`), became an empty
    /// string because the variable is not set: what compose warns about ("The "VAR" variable is
    /// not set. Defaulting to a blank string.").
    pub blank: bool,
    /// Byte range in the interpolated text of the whole `${...}` or `$VAR`.
    pub span: (usize, usize),
}

/// Why a string could not be interpolated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// A `${VAR:?message}` or `${VAR?message}` whose variable has no value.
    #[error("required variable `{name}` is missing a value{}", message_suffix(.message))]
    Required {
        /// The variable name.
        name: String,
        /// The (interpolated) text after `?`; may be empty.
        message: String,
    },
    /// A malformed `${...}` expression.
    #[error("invalid interpolation at byte {offset}: {message}")]
    Syntax {
        /// Byte offset of the `$` that starts the expression.
        offset: usize,
        /// What is wrong with it.
        message: String,
    },
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Interpolates `text`, resolving variables with `lookup` (`None` = unset).
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolationError> {
    let mut interpolator = Interpolator {
        text,
        lookup,
        variables: Vec::new(),
    };
    let value = interpolator.expand(0, text.len())?;
    Ok(Interpolated {
        value,
        variables: interpolator.variables,
    })
}

/// The operator of a braced expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    /// `:-`
    DefaultIfEmpty,
    /// `-`
    DefaultIfUnset,
    /// `:?`
    RequiredNonEmpty,
    /// `?`
    Required,
    /// `:+`
    ReplaceIfNonEmpty,
    /// `+`
    ReplaceIfSet,
}

impl Operator {
    /// Reads an operator at the start of `rest`; returns it and its length.
    fn parse(rest: &[u8]) -> Option<(Operator, usize)> {
        let (colon, symbol) = match rest {
            [b':', symbol, ..] => (true, *symbol),
            [symbol, ..] => (false, *symbol),
            [] => return None,
        };
        let operator = match (colon, symbol) {
            (true, b'-') => Operator::DefaultIfEmpty,
            (false, b'-') => Operator::DefaultIfUnset,
            (true, b'?') => Operator::RequiredNonEmpty,
            (false, b'?') => Operator::Required,
            (true, b'+') => Operator::ReplaceIfNonEmpty,
            (false, b'+') => Operator::ReplaceIfSet,
            _ => return None,
        };
        Some((operator, if colon { 2 } else { 1 }))
    }
}

fn is_name_start(byte: u8) -> bool {
    byte == b'_' || byte.is_ascii_alphabetic()
}

fn is_name_char(byte: u8) -> bool {
    byte == b'_' || byte.is_ascii_alphanumeric()
}

/// End (exclusive) of the name starting at `start`, or `start` if none.
fn name_end(bytes: &[u8], start: usize, end: usize) -> usize {
    match bytes.get(start) {
        Some(&byte) if start < end && is_name_start(byte) => {
            let mut pos = start + 1;
            while pos < end && is_name_char(bytes[pos]) {
                pos += 1;
            }
            pos
        }
        _ => start,
    }
}

/// compose-go's `getFirstBraceClosingIndex`, on `bytes`: the index of the
/// brace that balances the first `{`, skipping the byte after every `{`.
fn first_balanced_close(bytes: &[u8]) -> Option<usize> {
    let mut depth: i64 = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] == b'}' {
            depth -= 1;
            if depth == 0 {
                return Some(pos);
            }
        }
        if bytes[pos] == b'{' {
            depth += 1;
            pos += 1;
        }
        pos += 1;
    }
    None
}

struct Interpolator<'a> {
    text: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    variables: Vec<UsedVariable>,
}

impl Interpolator<'_> {
    /// Expands `self.text[start..end]`; offsets stay absolute.
    fn expand(&mut self, start: usize, end: usize) -> Result<String, InterpolationError> {
        let text = self.text;
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut pos = start;
        while pos < end {
            let Some(found) = text[pos..end].find('$') else {
                out.push_str(&text[pos..end]);
                break;
            };
            let dollar = pos + found;
            out.push_str(&text[pos..dollar]);
            let next = if dollar + 1 < end {
                Some(bytes[dollar + 1])
            } else {
                None
            };
            pos = match next {
                Some(b'$') => {
                    out.push('$');
                    dollar + 2
                }
                Some(b'{') => self.braced(dollar, end, &mut out)?,
                Some(byte) if is_name_start(byte) => {
                    let stop = name_end(bytes, dollar + 1, end);
                    let name = &text[dollar + 1..stop];
                    let value = (self.lookup)(name);
                    self.record(name, value.is_some(), false, (dollar, stop));
                    self.blank_if_unset(value.is_none());
                    out.push_str(&value.unwrap_or_default());
                    stop
                }
                _ => {
                    out.push('$');
                    dollar + 1
                }
            };
        }
        Ok(out)
    }

    fn record(&mut self, name: &str, set: bool, used_default: bool, span: (usize, usize)) {
        self.variables.push(UsedVariable {
            name: name.to_owned(),
            set,
            used_default,
            blank: false,
            span,
        });
    }

    /// Marks the variable just recorded (one without an operator) as blanked when unset.
    fn blank_if_unset(&mut self, unset: bool) {
        if let Some(last) = self.variables.last_mut() {
            last.blank = unset;
        }
    }

    /// Expands the `${...}` starting at `dollar`; returns the position after it.
    fn braced(
        &mut self,
        dollar: usize,
        end: usize,
        out: &mut String,
    ) -> Result<usize, InterpolationError> {
        let text = self.text;
        let bytes = text.as_bytes();
        let syntax = |message: String| InterpolationError::Syntax {
            offset: dollar,
            message,
        };
        let name_start = dollar + 2;
        let name_stop = name_end(bytes, name_start, end);
        if name_stop == name_start {
            return Err(syntax(match text[name_start..end].chars().next() {
                None => "unterminated `${`".to_owned(),
                Some('}') => "empty variable name in `${}`".to_owned(),
                Some(other) => format!("invalid variable name starting with `{other}`"),
            }));
        }
        let name = &text[name_start..name_stop];
        if name_stop == end {
            return Err(syntax(format!("unterminated `${{{name}`")));
        }
        if bytes[name_stop] == b'}' {
            let value = (self.lookup)(name);
            self.record(name, value.is_some(), false, (dollar, name_stop + 1));
            self.blank_if_unset(value.is_none());
            out.push_str(&value.unwrap_or_default());
            return Ok(name_stop + 1);
        }
        let Some((operator, operator_len)) = Operator::parse(&bytes[name_stop..end]) else {
            let found = text[name_stop..end].chars().next().unwrap_or('}');
            return Err(syntax(format!(
                "unexpected character `{found}` after variable name `{name}`"
            )));
        };
        let argument_start = name_stop + operator_len;
        let line_end = text[argument_start..end]
            .find('\n')
            .map_or(end, |offset| argument_start + offset);
        let Some(last_brace) = text[argument_start..line_end].rfind('}') else {
            return Err(syntax(format!("unterminated `${{{name}`")));
        };
        let candidate_end = argument_start + last_brace;
        let close = first_balanced_close(&bytes[dollar..=candidate_end])
            .map_or(candidate_end, |offset| dollar + offset);
        self.apply(name, operator, (dollar, close + 1), argument_start, out)?;
        Ok(close + 1)
    }

    /// Evaluates `${name<operator>argument}` whose argument ends where the
    /// expression's closing brace is (`span.1 - 1`).
    fn apply(
        &mut self,
        name: &str,
        operator: Operator,
        span: (usize, usize),
        argument_start: usize,
        out: &mut String,
    ) -> Result<(), InterpolationError> {
        let argument_end = span.1 - 1;
        let value = (self.lookup)(name);
        let non_empty = value.as_deref().is_some_and(|value| !value.is_empty());
        let use_argument = match operator {
            Operator::DefaultIfEmpty | Operator::RequiredNonEmpty => !non_empty,
            Operator::DefaultIfUnset | Operator::Required => value.is_none(),
            Operator::ReplaceIfNonEmpty => non_empty,
            Operator::ReplaceIfSet => value.is_some(),
        };
        let required = matches!(operator, Operator::Required | Operator::RequiredNonEmpty);
        self.record(name, value.is_some(), use_argument && !required, span);
        if !use_argument {
            out.push_str(&value.unwrap_or_default());
            return Ok(());
        }
        let argument = self.expand(argument_start, argument_end)?;
        if required {
            return Err(InterpolationError::Required {
                name: name.to_owned(),
                message: argument,
            });
        }
        out.push_str(&argument);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lookup_in(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        move |name| {
            vars.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        }
    }

    /// SET=value, EMPTY is set but empty, UNSET is not set.
    const VARS: &[(&str, &str)] = &[
        ("SET", "value"),
        ("EMPTY", ""),
        ("B", "bee"),
        ("DIR", "/srv/data"),
    ];

    fn run(text: &str) -> Result<String, InterpolationError> {
        interpolate(text, &lookup_in(VARS)).map(|result| result.value)
    }

    /// Issue 12: `${CONFIG}/web` with CONFIG unset is `/web`; compose warns, so the expression
    /// says it was blanked. A default, a replacement or a set (even empty) variable is no blank.
    #[test]
    fn issue_12_an_unset_variable_without_operator_is_marked_blank() {
        let blanks = |text: &str| -> Vec<String> {
            interpolate(text, &lookup_in(VARS))
                .expect("interpolates")
                .variables
                .into_iter()
                .filter(|v| v.blank)
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(blanks("${CONFIG}/web:/web"), ["CONFIG"]);
        assert_eq!(blanks("$CONFIG/web $OTHER"), ["CONFIG", "OTHER"]);
        assert!(blanks("${CONFIG:-/x}${CONFIG-/y}${CONFIG:+z}${EMPTY}${SET}$$CONFIG").is_empty());
        assert_eq!(blanks("${SET:-$INNER}${UNUSED:-${NESTED}}"), ["NESTED"]);
    }

    #[test]
    fn every_form_matches_compose() {
        let cases: &[(&str, &str)] = &[
            // plain text and literals
            (r"", r""),
            (r"no variables", r"no variables"),
            (r"$$", r"$"),
            (r"$$SET", r"$SET"),
            (r"$${SET}", r"${SET}"),
            (r"$$$SET", r"$value"),
            (r"a $ b", r"a $ b"),
            (r"trailing $", r"trailing $"),
            (r"$1", r"$1"),
            (r"$-x", r"$-x"),
            (r"price: 5$", r"price: 5$"),
            (r"$é", r"$é"),
            // unbraced
            (r"$SET", r"value"),
            (r"$SET/x", r"value/x"),
            (r"$SET-x", r"value-x"),
            (r"$SETx", r""),
            (r"$UNSET", r""),
            (r"$EMPTY", r""),
            (r"${DIR}/photos", r"/srv/data/photos"),
            (r"x${SET}y", r"xvaluey"),
            (r"${UNSET}", r""),
            // :- and -
            (r"${SET:-d}", r"value"),
            (r"${EMPTY:-d}", r"d"),
            (r"${UNSET:-d}", r"d"),
            (r"${SET-d}", r"value"),
            (r"${EMPTY-d}", r""),
            (r"${UNSET-d}", r"d"),
            (r"${UNSET:-}", r""),
            (r"${UNSET:-a b-c:d}", r"a b-c:d"),
            (r"${UNSET-x:-y}", r"x:-y"),
            // :+ and +
            (r"${SET:+r}", r"r"),
            (r"${EMPTY:+r}", r""),
            (r"${UNSET:+r}", r""),
            (r"${SET+r}", r"r"),
            (r"${EMPTY+r}", r"r"),
            (r"${UNSET+r}", r""),
            // ? and :? when satisfied
            (r"${SET:?msg}", r"value"),
            (r"${SET?msg}", r"value"),
            (r"${EMPTY?msg}", r""),
            // nesting
            (r"${UNSET:-${B}}", r"bee"),
            (r"${UNSET:-$B}", r"bee"),
            (r"${UNSET:-${UNSET2:-x}}", r"x"),
            (r"${UNSET:-${EMPTY:-${B}}}/y", r"bee/y"),
            (r"${SET:+${B}-$B}", r"bee-bee"),
            (r"${UNSET:-$$B}", r"$B"),
            (r"${SET:-${UNSET:?not evaluated}}", r"value"),
            // several expressions on a line
            (r"${UNSET:-a} ${UNSET:-b}", r"a b"),
            (r"${SET}-${UNSET:-x}", r"value-x"),
            (r"${UNSET:-a}}", r"a}"),
            (r"${DIR:-/tmp}:/data:ro", r"/srv/data:/data:ro"),
            // compose-go brace quirks: every `{` counts, and the last `}` of the line bounds
            (r"${UNSET:-{x}}", r"{x}"),
            (r"${UNSET:-{x}", r"{x"),
            // names are case-sensitive and may hold digits after the first char
            (r"${set:-lower}", r"lower"),
            (r"${_A1:-u}", r"u"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                run(text).as_deref(),
                Ok(*expected),
                "interpolating {text:?}"
            );
        }
    }

    #[test]
    fn required_forms_fail_with_their_message() {
        let cases: &[(&str, &str, &str)] = &[
            (r"${UNSET:?need it}", "UNSET", "need it"),
            (r"${EMPTY:?need it}", "EMPTY", "need it"),
            (r"${UNSET?need it}", "UNSET", "need it"),
            (r"${UNSET:?}", "UNSET", ""),
            (r"${UNSET?set $B}", "UNSET", "set bee"),
            (
                r"${UNSET:-${INNER:?inner missing}}",
                "INNER",
                "inner missing",
            ),
        ];
        for (text, name, message) in cases {
            assert_eq!(
                run(text),
                Err(InterpolationError::Required {
                    name: (*name).to_owned(),
                    message: (*message).to_owned()
                }),
                "interpolating {text:?}"
            );
        }
    }

    #[test]
    fn required_error_reads_like_compose() {
        let with = run(r"${PHOTOS:?set PHOTOS in .env}").unwrap_err();
        assert_eq!(
            with.to_string(),
            "required variable `PHOTOS` is missing a value: set PHOTOS in .env"
        );
        let without = run(r"${PHOTOS?}").unwrap_err();
        assert_eq!(
            without.to_string(),
            "required variable `PHOTOS` is missing a value"
        );
    }

    #[test]
    fn malformed_expressions_are_syntax_errors_at_their_dollar() {
        let cases: &[(&str, usize)] = &[
            (r"${", 0),
            (r"${}", 0),
            (r"${1X}", 0),
            (r"a ${-x}", 2),
            (r"${SET", 0),
            (r"${SET:-x", 0),
            (r"${SET x}", 0),
            (r"${SET:x}", 0),
            (r"${SET.x}", 0),
            (r"ok ${SET} ${BAD", 10),
            ("${UNSET:-x\n}", 0),
            (r"${UNSET:-${}}", 9),
        ];
        for (text, offset) in cases {
            match run(text) {
                Err(InterpolationError::Syntax { offset: found, .. }) => {
                    assert_eq!(found, *offset, "offset for {text:?}");
                }
                other => panic!("expected a syntax error for {text:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_error_message_names_the_problem() {
        let err = run(r"${1X}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid interpolation at byte 0: invalid variable name starting with `1`"
        );
        let err = run(r"${}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid interpolation at byte 0: empty variable name in `${}`"
        );
    }

    #[test]
    fn reports_variables_with_spans_and_default_use() {
        let text = r"$SET ${UNSET:-${B}} ${EMPTY-x} ${SET:+r}";
        let result = interpolate(text, &lookup_in(VARS)).unwrap();
        assert_eq!(result.value, "value bee  r");
        let found: Vec<(&str, bool, bool, &str)> = result
            .variables
            .iter()
            .map(|var| {
                (
                    var.name.as_str(),
                    var.set,
                    var.used_default,
                    &text[var.span.0..var.span.1],
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                ("SET", true, false, "$SET"),
                ("UNSET", false, true, "${UNSET:-${B}}"),
                ("B", true, false, "${B}"),
                ("EMPTY", true, false, "${EMPTY-x}"),
                ("SET", true, true, "${SET:+r}"),
            ]
        );
    }

    #[test]
    fn unused_default_variables_are_not_reported() {
        let result = interpolate(r"${SET:-$B}", &lookup_in(VARS)).unwrap();
        let names: Vec<&str> = result.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, vec!["SET"]);
    }

    #[test]
    fn escaped_dollars_report_no_variables() {
        let result = interpolate(r"$$SET $${B}", &lookup_in(VARS)).unwrap();
        assert_eq!(result.value, "$SET ${B}");
        assert!(result.variables.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = interpolate(&text, &lookup_in(VARS));
        }

        #[test]
        fn never_panics_on_dollar_heavy_text(text in r"[${}:?+\-A-Za-z_0-9 \n]{0,40}") {
            let _ = interpolate(&text, &lookup_in(VARS));
        }

        #[test]
        fn text_without_dollar_is_unchanged(text in "[^$]*") {
            let result = interpolate(&text, &lookup_in(VARS)).unwrap();
            prop_assert_eq!(result.value, text);
            prop_assert!(result.variables.is_empty());
        }

        #[test]
        fn doubled_dollars_come_back_literal(text in any::<String>()) {
            let escaped = text.replace('$', "$$");
            let result = interpolate(&escaped, &lookup_in(VARS)).unwrap();
            prop_assert_eq!(result.value, text);
        }
    }
}
