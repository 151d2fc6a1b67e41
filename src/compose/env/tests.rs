use super::*;
use std::path::Path;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<EnvFile, EnvFileError> {
    parse_env_file(Path::new(".env"), text, &no_env)
}

fn pairs(text: &str) -> Vec<(String, String)> {
    parse(text)
        .unwrap()
        .entries
        .into_iter()
        .map(|entry| (entry.key, entry.value))
        .collect()
}

fn one(text: &str) -> (String, String) {
    let mut found = pairs(text);
    assert_eq!(
        found.len(),
        1,
        "one entry expected from {text:?}: {found:?}"
    );
    found.remove(0)
}

#[test]
fn interpolate_uses_the_variables() {
    let env = ComposeEnv::layered([("DIR".to_owned(), "/mnt/fast".to_owned())], &[]);
    let result = env.interpolate(r"${DIR}/db:/var/lib/db").unwrap();
    assert_eq!(result.value, "/mnt/fast/db:/var/lib/db");
    assert!(result.variables[0].set);
}

#[test]
fn single_statements_parse_like_compose() {
    let cases: &[(&str, &str, &str)] = &[
        (r"FOO=bar", "FOO", "bar"),
        (r"FOO =bar", "FOO", "bar"),
        (r"FOO= bar", "FOO", "bar"),
        ("FOO=bar \t", "FOO", "bar"),
        (r"FOO=", "FOO", ""),
        ("FOO=\n", "FOO", ""),
        (r"FOO=foobar=", "FOO", "foobar="),
        (r"OPTION_A=1:B", "OPTION_A", "1:B"),
        (r"OPTION_A: 1", "OPTION_A", "1"),
        (r"OPTION_A: Foo=bar", "OPTION_A", "Foo=bar"),
        (r"FOO.BAR=foobar", "FOO.BAR", "foobar"),
        (r"my-key[0]=x", "my-key[0]", "x"),
        (r"ÉTÉ=chaud", "ÉTÉ", "chaud"),
        // export
        (r"export OPTION_A=2", "OPTION_A", "2"),
        ("export\tOPTION_A=2", "OPTION_A", "2"),
        ("  export OPTION_A=2", "OPTION_A", "2"),
        (r"export exportFoo=2", "exportFoo", "2"),
        (r"exportFOO=2", "exportFOO", "2"),
        (r"export_FOO =2", "export_FOO", "2"),
        (r"export.FOO= 2", "export.FOO", "2"),
        // leading whitespace
        (" KEY =value", "KEY", "value"),
        ("\tKEY=value", "KEY", "value"),
        // inline comments on unquoted values need a space before `#`
        (r"FOO=bar # this is foo", "FOO", "bar"),
        (r"FOO=bar#baz", "FOO", "bar#baz"),
        (r"FOO=a # b # c", "FOO", "a"),
        (
            r"FOO= # not a comment: leading blanks go first",
            "FOO",
            "# not a comment: leading blanks go first",
        ),
        // quotes
        (r#"FOO="bar""#, "FOO", "bar"),
        (r"FOO='bar'", "FOO", "bar"),
        (r#"FOO="""#, "FOO", ""),
        (r#"FOO="bar#baz" # comment"#, "FOO", "bar#baz"),
        (r"FOO='bar#baz' # comment", "FOO", "bar#baz"),
        (r#"FOO="'d'""#, "FOO", "'d'"),
        (r#"FOO='"d"'"#, "FOO", "\"d\""),
        (r#"FOO="escaped\"bar""#, "FOO", "escaped\"bar"),
        (r"FOO='it\'s'", "FOO", "it's"),
        (r#"FOO="  padded  ""#, "FOO", "  padded  "),
        (r#"FOO=bar"quoted"#, "FOO", "bar\"quoted"),
        // escapes: double quotes only
        (r#"FOO="bar\nbaz""#, "FOO", "bar\nbaz"),
        (r#"FOO="a\tb\\c""#, "FOO", "a\tb\\c"),
        (r#"FOO="bar\\\"baz""#, "FOO", "bar\\\"baz"),
        (r#"FOO="\x\q""#, "FOO", r"\x\q"),
        (r#"FOO="\0101\01""#, "FOO", r"A\01"),
        (r"FOO='bar\nbaz'", "FOO", r"bar\nbaz"),
        (r"FOO=bar\nbaz", "FOO", r"bar\nbaz"),
        // `\$` and `$$` are literal dollars
        (r#"FOO="foo\$BAR""#, "FOO", "foo$BAR"),
        (r#"FOO="foo\${BAR}""#, "FOO", "foo${BAR}"),
        (r"FOO=foo$$BAR", "FOO", "foo$BAR"),
        (r"FOO='$BAR ${BAR}'", "FOO", "$BAR ${BAR}"),
        // unset variables interpolate to nothing
        (r"BAR=$FOO", "BAR", ""),
        (r"BAR=${FOO:-fallback}", "BAR", "fallback"),
    ];
    for (text, key, value) in cases {
        assert_eq!(
            one(text),
            ((*key).to_owned(), (*value).to_owned()),
            "parsing {text:?}"
        );
    }
}

#[test]
fn a_whole_file_with_comments_blank_lines_and_multiline_values() {
    let text = "\u{feff}# Immich settings\r\n\
                    \r\n\
                    UPLOAD_LOCATION=/mnt/fast/photos   # where photos go\r\n\
                    \t# indented comment\n\
                    export DB_DATA_LOCATION='/mnt/fast/db'\n\
                    CERT=\"-----BEGIN-----\n\
                    abc\n\
                    -----END-----\"\n\
                    \n\
                    TZ=Europe/Paris\n";
    let file = parse(text).unwrap();
    let found: Vec<(&str, &str, usize, &str)> = file
        .entries
        .iter()
        .map(|e| {
            (
                e.key.as_str(),
                e.value.as_str(),
                e.line,
                e.raw_line.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "UPLOAD_LOCATION",
                "/mnt/fast/photos",
                3,
                "UPLOAD_LOCATION=/mnt/fast/photos   # where photos go"
            ),
            (
                "DB_DATA_LOCATION",
                "/mnt/fast/db",
                5,
                "export DB_DATA_LOCATION='/mnt/fast/db'"
            ),
            (
                "CERT",
                "-----BEGIN-----\nabc\n-----END-----",
                6,
                "CERT=\"-----BEGIN-----\nabc\n-----END-----\""
            ),
            ("TZ", "Europe/Paris", 10, "TZ=Europe/Paris"),
        ]
    );
}

#[test]
fn values_interpolate_earlier_keys_and_the_lookup() {
    let text = r#"
ROOT=/mnt/fast
PHOTOS=${ROOT}/photos
QUOTED="$ROOT/db"
LITERAL='${ROOT}/raw'
HOMEDIR=${HOME:-/root}/x
NESTED=${MISSING:-${ROOT}}
"#;
    let lookup = |name: &str| (name == "HOME").then(|| "/home/me".to_owned());
    let file = parse_env_file(Path::new(".env"), text, &lookup).unwrap();
    let value = |key: &str| file.get(key).map(|e| e.value.as_str());
    assert_eq!(value("PHOTOS"), Some("/mnt/fast/photos"));
    assert_eq!(value("QUOTED"), Some("/mnt/fast/db"));
    assert_eq!(value("LITERAL"), Some("${ROOT}/raw"));
    assert_eq!(value("HOMEDIR"), Some("/home/me/x"));
    assert_eq!(value("NESTED"), Some("/mnt/fast"));
}

#[test]
fn lookup_wins_over_earlier_keys_of_the_same_file() {
    let lookup = |name: &str| (name == "ROOT").then(|| "/from/process".to_owned());
    let file = parse_env_file(Path::new(".env"), "ROOT=/file\nDIR=$ROOT/x\n", &lookup).unwrap();
    assert_eq!(
        file.get("DIR").map(|e| e.value.as_str()),
        Some("/from/process/x")
    );
    // the file still records its own value for ROOT
    assert_eq!(file.get("ROOT").map(|e| e.value.as_str()), Some("/file"));
}

#[test]
fn a_later_assignment_of_a_key_overrides_for_later_lines() {
    let found = pairs("A=1\nB=$A\nA=2\nC=$A\n");
    let c = found
        .iter()
        .rfind(|(key, _)| key == "C")
        .map(|(_, v)| v.as_str());
    let b = found
        .iter()
        .find(|(key, _)| key == "B")
        .map(|(_, v)| v.as_str());
    assert_eq!((b, c), (Some("1"), Some("2")));
}

#[test]
fn bare_keys_inherit_from_the_lookup() {
    let lookup = |name: &str| (name == "HOME").then(|| "/home/me".to_owned());
    let file = parse_env_file(Path::new(".env"), "HOME\nNOT_SET\nexport LAST", &lookup).unwrap();
    assert_eq!(file.entries.len(), 1);
    assert_eq!(file.entries[0].key, "HOME");
    assert_eq!(file.entries[0].value, "/home/me");
    assert_eq!(file.entries[0].line, 1);
}

#[test]
fn blank_and_comment_only_files_are_empty() {
    for text in [
        "",
        "\n\n",
        "\r\n",
        "\t\t ",
        "# comment",
        "\t # comment\n# two\n",
    ] {
        assert!(parse(text).unwrap().entries.is_empty(), "parsing {text:?}");
    }
}

#[test]
fn bad_keys_are_errors_naming_path_and_line() {
    let err = parse("OK=1\n\nlol$wut\n").unwrap_err();
    assert_eq!(
        err,
        EnvFileError::InvalidKey {
            path: PathBuf::from(".env"),
            line: 3,
            character: '$',
            text: "lol$wut".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid env file `.env` line 3: unexpected character `$` in variable name `lol$wut`"
    );
    assert!(matches!(
        parse("FOO/BAR=1"),
        Err(EnvFileError::InvalidKey {
            line: 1,
            character: '/',
            ..
        })
    ));
    assert!(matches!(
        parse(r#"FOO="a" "b""#),
        Err(EnvFileError::InvalidKey { character: '"', .. })
    ));
}

#[test]
fn keys_with_spaces_are_errors() {
    let err = parse("A=1\nMY KEY=1\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid env file `.env` line 2: variable name `MY KEY` contains a space"
    );
}

#[test]
fn unterminated_quotes_are_errors() {
    for (text, line) in [
        ("A=1\nFOO=\"bar\n", 2),
        ("FOO='bar", 1),
        (r#"FOO="bar\""#, 1),
    ] {
        match parse(text) {
            Err(EnvFileError::UnterminatedQuote {
                line: found, key, ..
            }) => {
                assert_eq!((found, key.as_str()), (line, "FOO"), "parsing {text:?}");
            }
            other => panic!("expected an unterminated quote for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn interpolation_errors_name_path_line_and_key() {
    let err = parse_env_file(
        Path::new("conf/prod.env"),
        "A=1\nDB=${DB_PASSWORD:?set it}\n",
        &no_env,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid env file `conf/prod.env` line 2: value of `DB`: \
             required variable `DB_PASSWORD` is missing a value: set it"
    );
    assert!(matches!(
        parse("X=\"${}\""),
        Err(EnvFileError::Interpolation {
            source: InterpolationError::Syntax { .. },
            ..
        })
    ));
}

#[test]
fn layered_lets_process_env_win_and_later_files_override() {
    let first = parse_env_file(Path::new(".env"), "A=file1\nB=file1\nC=file1\n", &no_env).unwrap();
    let second = parse_env_file(Path::new("override.env"), "\nB=file2\n", &no_env).unwrap();
    let env = ComposeEnv::layered([("C".to_owned(), "process".to_owned())], &[first, second]);
    let source = |name: &str| {
        env.get(name)
            .map(|var| (var.value.as_str(), var.source.clone()))
    };
    assert_eq!(
        source("A"),
        Some((
            "file1",
            VarSource::EnvFile {
                path: PathBuf::from(".env"),
                line: 1
            }
        ))
    );
    assert_eq!(
        source("B"),
        Some((
            "file2",
            VarSource::EnvFile {
                path: PathBuf::from("override.env"),
                line: 2
            }
        ))
    );
    assert_eq!(source("C"), Some(("process", VarSource::Environment)));
    assert_eq!(source("D"), None);
    let names: Vec<&str> = env.iter().map(|(name, _)| name).collect();
    assert_eq!(names, vec!["A", "B", "C"]);
}

#[test]
fn load_chains_files_like_compose() {
    let files = vec![
        (PathBuf::from(".env"), "ROOT=/mnt/a\nTIER=fast\n".to_owned()),
        (
            PathBuf::from("second.env"),
            "ROOT=/mnt/b\nPHOTOS=$ROOT/photos\nUSER_DIR=$HOME/x\n".to_owned(),
        ),
    ];
    let env = ComposeEnv::load([("HOME".to_owned(), "/home/me".to_owned())], &files).unwrap();
    let value = |name: &str| env.get(name).map(|var| var.value.as_str());
    // an earlier file is looked up before the same file's keys, as in compose-go
    assert_eq!(value("PHOTOS"), Some("/mnt/a/photos"));
    assert_eq!(value("ROOT"), Some("/mnt/b"));
    assert_eq!(value("USER_DIR"), Some("/home/me/x"));
    assert_eq!(value("TIER"), Some("fast"));
    assert_eq!(
        env.get("PHOTOS").map(|var| var.source.clone()),
        Some(VarSource::EnvFile {
            path: PathBuf::from("second.env"),
            line: 2
        })
    );
}

#[test]
fn load_reports_the_failing_file() {
    let files = vec![
        (PathBuf::from(".env"), "A=1\n".to_owned()),
        (PathBuf::from("bad.env"), "A=1\nB C=2\n".to_owned()),
    ];
    let err = ComposeEnv::load(Vec::new(), &files).unwrap_err();
    assert!(matches!(
        err,
        EnvFileError::KeyWithSpace { ref path, line: 2, .. } if path == Path::new("bad.env")
    ));
}

#[test]
fn var_source_serializes() {
    let json = serde_json::to_string(&VarSource::EnvFile {
        path: PathBuf::from(".env"),
        line: 4,
    })
    .unwrap();
    assert_eq!(json, r#"{"EnvFile":{"path":".env","line":4}}"#);
    let json = serde_json::to_string(&VarSource::Environment).unwrap();
    assert_eq!(json, r#""Environment""#);
}
