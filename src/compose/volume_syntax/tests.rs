use super::long::parse_size;
use super::*;
use proptest::prelude::*;
use serde_norway::Value;
use std::path::{Path, PathBuf};

/// `(spec, source, target, modes, type)`.
type SplitCase = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static [&'static str],
    MountType,
);

/// Specs that must split, and what into.
#[rustfmt::skip]
const SPLITS: &[SplitCase] = &[
    // real-world entries from the compose corpus
    (r"./certificates:/usr/local/share/ca-certificates:ro", Some("./certificates"), "/usr/local/share/ca-certificates", &["ro"], MountType::Bind),
    (r"/etc/dnsmasq.d/:/etc/dnsmasq.d/", Some("/etc/dnsmasq.d/"), "/etc/dnsmasq.d/", &[], MountType::Bind),
    (r"/var/run/docker.sock:/var/run/docker.sock:ro", Some("/var/run/docker.sock"), "/var/run/docker.sock", &["ro"], MountType::Bind),
    (r"portainer_data:/data", Some("portainer_data"), "/data", &[], MountType::Volume),
    (r"sentry-postgres:/var/lib/postgresql/data", Some("sentry-postgres"), "/var/lib/postgresql/data", &[], MountType::Volume),
    (r"~/minecraft_data:/data", Some("~/minecraft_data"), "/data", &[], MountType::Bind),
    (r"./volumes/api/kong.yml:/home/kong/temp.yml:ro,z", Some("./volumes/api/kong.yml"), "/home/kong/temp.yml", &["ro", "z"], MountType::Bind),
    (r"./volumes/db/jwt.sql:/docker-entrypoint-initdb.d/init-scripts/99-jwt.sql:Z", Some("./volumes/db/jwt.sql"), "/docker-entrypoint-initdb.d/init-scripts/99-jwt.sql", &["Z"], MountType::Bind),
    (r"./volumes/storage:/var/lib/storage:z", Some("./volumes/storage"), "/var/lib/storage", &["z"], MountType::Bind),
    (r"./:/mnt", Some("./"), "/mnt", &[], MountType::Bind),
    (r".:/code", Some("."), "/code", &[], MountType::Bind),
    (r"/code/node_modules", None, "/code/node_modules", &[], MountType::Volume),
    (r"/tmp", None, "/tmp", &[], MountType::Volume),
    (r"/var/lib/anonymous", None, "/var/lib/anonymous", &[], MountType::Volume),
    (r"/dev/dri:/dev/dri", Some("/dev/dri"), "/dev/dri", &[], MountType::Bind),
    (r"/sys/kernel/debug/:/sys/kernel/debug/:ro", Some("/sys/kernel/debug/"), "/sys/kernel/debug/", &["ro"], MountType::Bind),
    (r"/etc/localtime:/etc/localtime:ro", Some("/etc/localtime"), "/etc/localtime", &["ro"], MountType::Bind),
    (r"/path/to/plex/library:/config", Some("/path/to/plex/library"), "/config", &[], MountType::Bind),
    (r"dbdata:/var/lib/postgresql/data", Some("dbdata"), "/var/lib/postgresql/data", &[], MountType::Volume),
    (r"db_data:/var/lib/mysql", Some("db_data"), "/var/lib/mysql", &[], MountType::Volume),
    (r"model-cache:/cache", Some("model-cache"), "/cache", &[], MountType::Volume),
    (r"nextcloud_aio_nextcloud:/var/www/html:ro", Some("nextcloud_aio_nextcloud"), "/var/www/html", &["ro"], MountType::Volume),
    (r"nextcloud_aio_database:/var/lib/postgresql/data:rw", Some("nextcloud_aio_database"), "/var/lib/postgresql/data", &["rw"], MountType::Volume),
    (r"snmptraps:/var/lib/zabbix/snmptraps:ro", Some("snmptraps"), "/var/lib/zabbix/snmptraps", &["ro"], MountType::Volume),
    (r"/mnt/photos:/photos:ro,z", Some("/mnt/photos"), "/photos", &["ro", "z"], MountType::Bind),
    // uninterpolated variables: a `:` inside `${...}` does not split
    (r"${UPLOAD_LOCATION}:/data", Some("${UPLOAD_LOCATION}"), "/data", &[], MountType::Volume),
    (r"${DOCKER_SOCKET_LOCATION}:/var/run/docker.sock:ro,z", Some("${DOCKER_SOCKET_LOCATION}"), "/var/run/docker.sock", &["ro", "z"], MountType::Volume),
    (r"${NEXTCLOUD_MOUNT}:${NEXTCLOUD_MOUNT}:rw", Some("${NEXTCLOUD_MOUNT}"), "${NEXTCLOUD_MOUNT}", &["rw"], MountType::Volume),
    (r"kong_prefix_vol:${KONG_PREFIX:-/var/run/kong}", Some("kong_prefix_vol"), "${KONG_PREFIX:-/var/run/kong}", &[], MountType::Volume),
    (r"${DATA:-/a:b}:/data:ro", Some("${DATA:-/a:b}"), "/data", &["ro"], MountType::Volume),
    (r"${A:-${B:-/x:y}}:/data", Some("${A:-${B:-/x:y}}"), "/data", &[], MountType::Volume),
    // relative, home and spaces
    (r"./data:/data", Some("./data"), "/data", &[], MountType::Bind),
    (r"../x:/x", Some("../x"), "/x", &[], MountType::Bind),
    (r"~:/root", Some("~"), "/root", &[], MountType::Bind),
    (r"~/x:/x", Some("~/x"), "/x", &[], MountType::Bind),
    (r"/Volumes/My Photos:/photos", Some("/Volumes/My Photos"), "/photos", &[], MountType::Bind),
    (r"./my data/sub dir:/srv/my data:ro", Some("./my data/sub dir"), "/srv/my data", &["ro"], MountType::Bind),
    (r".hidden:/x", Some(".hidden"), "/x", &[], MountType::Bind),
    // Windows
    (r"C:\data:/data", Some(r"C:\data"), "/data", &[], MountType::Bind),
    (r"c:/data:/data:ro", Some("c:/data"), "/data", &["ro"], MountType::Bind),
    (r"\\.\pipe\docker_engine:\\.\pipe\docker_engine", Some(r"\\.\pipe\docker_engine"), r"\\.\pipe\docker_engine", &[], MountType::Bind),
    (r"\\server\share\dir:/share", Some(r"\\server\share\dir"), "/share", &[], MountType::Bind),
    (r"C:\source\foo:D:\target:ro,rprivate", Some(r"C:\source\foo"), r"D:\target", &["ro", "rprivate"], MountType::Bind),
    (r"c:\program files:d:\s p a c e", Some(r"c:\program files"), r"d:\s p a c e", &[], MountType::Bind),
    (r"c:\:d:\", Some(r"c:\"), r"d:\", &[], MountType::Bind),
    (r"C:\foo\:/foo", Some(r"C:\foo\"), "/foo", &[], MountType::Bind),
    (r"c:/:d:/forward/slashes", Some("c:/"), "d:/forward/slashes", &[], MountType::Bind),
    (r"name:D:", Some("name"), "D:", &[], MountType::Volume),
    (r"./foo:d:\target", Some("./foo"), r"d:\target", &[], MountType::Bind),
    (r"C:\path", None, r"C:\path", &[], MountType::Volume),
    (r"d:\path with space", None, r"d:\path with space", &[], MountType::Volume),
    // compose quirk: a one-letter source reads as a drive letter
    (r"a:/data", None, "a:/data", &[], MountType::Volume),
    // compose quirk: one or two bytes are always a bare target
    (r".", None, ".", &[], MountType::Volume),
    (r"/a", None, "/a", &[], MountType::Volume),
    (r"a:", None, "a:", &[], MountType::Volume),
    (r":", None, ":", &[], MountType::Volume),
    (r"/tmp/x/y:/foo/x/y", Some("/tmp/x/y"), "/foo/x/y", &[], MountType::Bind),
];

fn owned(modes: &[&str]) -> Vec<String> {
    modes.iter().map(|mode| (*mode).to_owned()).collect()
}

#[test]
fn splits_the_spec_table() {
    for &(spec, source, target, modes, mount_type) in SPLITS {
        let volume = split_short(spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
        assert_eq!(
            volume,
            ShortVolume {
                source: source.map(str::to_owned),
                target: target.to_owned(),
                modes: owned(modes),
            },
            "{spec}"
        );
        assert_eq!(classify_short(&volume), mount_type, "{spec}");
    }
}

#[test]
fn accepts_every_known_mode_alone_and_after_ro() {
    for mode in KNOWN_MODES {
        for modes in [mode.to_string(), format!("ro,{mode}"), format!("{mode},rw")] {
            let spec = format!("./src:/dst:{modes}");
            let volume = split_short(&spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
            assert_eq!(volume.modes.join(","), modes, "{spec}");
            assert_eq!(volume.target, "/dst");
        }
    }
}

#[test]
fn accepts_realistic_mode_combinations() {
    let cases: &[(&str, &[&str], bool)] = &[
        ("ro", &["ro"], true),
        ("rw", &["rw"], false),
        ("z", &["z"], false),
        ("Z", &["Z"], false),
        ("ro,z", &["ro", "z"], true),
        ("ro,Z", &["ro", "Z"], true),
        ("rw,Z", &["rw", "Z"], false),
        ("cached", &["cached"], false),
        ("delegated", &["delegated"], false),
        ("consistent", &["consistent"], false),
        ("ro,cached", &["ro", "cached"], true),
        ("nocopy", &["nocopy"], false),
        ("ro,nocopy", &["ro", "nocopy"], true),
        ("rshared", &["rshared"], false),
        ("ro,rslave", &["ro", "rslave"], true),
        ("rw,private,z", &["rw", "private", "z"], false),
        ("ro,rw", &["ro", "rw"], false),
        ("rw,ro", &["rw", "ro"], true),
    ];
    for &(text, modes, ro) in cases {
        let spec = format!("data:/data:{text}");
        let volume = split_short(&spec).unwrap_or_else(|err| panic!("{spec}: {err}"));
        assert_eq!(volume.modes, owned(modes), "{spec}");
        assert_eq!(read_only(&volume.modes), ro, "{spec}");
    }
}

#[test]
fn the_last_propagation_and_selinux_modes_win() {
    let modes = owned(&["Z", "z", "shared", "ro", "rslave"]);
    assert_eq!(short_propagation(&modes), Some(Propagation::Rslave));
    assert_eq!(short_selinux(&modes), Some(SelinuxLabel::Shared));
    assert_eq!(short_propagation(&owned(&["ro", "nocopy"])), None);
    assert_eq!(short_selinux(&owned(&["cached"])), None);
}

#[test]
fn read_only_is_false_without_modes() {
    assert!(!read_only(&[]));
    assert!(!read_only(&owned(&["z", "cached"])));
}

fn err(spec: &str) -> VolumeSyntaxError {
    match split_short(spec) {
        Ok(volume) => panic!("{spec} split into {volume:?}"),
        Err(err) => err,
    }
}

#[test]
fn rejects_bad_specs_with_a_message_naming_them() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("", "volume spec is empty"),
        ("./a:", "volume `./a:` has an empty target"),
        ("data:", "volume `data:` has an empty target"),
        (":/data", "volume `:/data` has an empty source"),
        ("/foo::ro", "volume `/foo::ro` has an empty target"),
        ("./a:/b:", "volume `./a:/b:` has an empty mode"),
        ("./a:/b:ro,", "volume `./a:/b:ro,` has an empty mode"),
        ("./a:/b:,ro", "volume `./a:/b:,ro` has an empty mode"),
        ("/foo:/foo:ro:foo", "volume `/foo:/foo:ro:foo` has too many `:`-separated parts"),
        ("./a:/b:ro:rw:z", "volume `./a:/b:ro:rw:z` has too many `:`-separated parts"),
        ("name:/target:bogus", "volume `name:/target:bogus` has unknown mode `bogus`"),
        ("snmptraps:/var/lib/zabbix/snmptraps:rwz", "volume `snmptraps:/var/lib/zabbix/snmptraps:rwz` has unknown mode `rwz`"),
        ("./a:/b:ro,RW", "volume `./a:/b:ro,RW` has unknown mode `RW`"),
        ("name:/target:nocopy,subpath=etc", "volume `name:/target:nocopy,subpath=etc` has unknown mode `subpath=etc`"),
        // a device path with `:` cannot be written in the short syntax
        ("/dev/usb-0:1.3:1.0-port0:/dev/usb-0:1.3:1.0-port0", "volume `/dev/usb-0:1.3:1.0-port0:/dev/usb-0:1.3:1.0-port0` has too many `:`-separated parts"),
    ];
    for &(spec, message) in cases {
        let error = err(spec);
        assert_eq!(error.to_string(), message, "{spec}");
        assert!(error.hint().is_some(), "{spec} has no hint");
    }
}

#[test]
fn lenient_split_keeps_modes_compose_ignores() {
    let volume = split_short_lenient("snmptraps:/var/lib/zabbix/snmptraps:rwz")
        .expect("compose accepts unknown modes");
    assert_eq!(volume.modes, owned(&["rwz"]));
    assert!(!read_only(&volume.modes));
    assert_eq!(
        split_short_lenient("./a:"),
        Err(VolumeSyntaxError::EmptyTarget {
            spec: "./a:".to_owned()
        })
    );
}

#[test]
fn path_sources_follow_compose() {
    for source in [
        ".",
        "./a",
        "../a",
        ".env",
        "/",
        "/a",
        "~",
        "~/a",
        "~user/a",
        r"C:\a",
        "c:/a",
        "Z:",
        r"\\.\pipe\x",
        r"\\host\share",
    ] {
        assert!(is_path_source(source), "{source}");
    }
    for source in [
        "",
        "data",
        "db_data",
        "a界",
        "1:x",
        "${HOME}/x",
        "a",
        "http://x",
        r"\single",
    ] {
        assert!(!is_path_source(source), "{source}");
    }
}

#[test]
fn mount_type_names_round_trip() {
    for mount_type in [
        MountType::Bind,
        MountType::Volume,
        MountType::Tmpfs,
        MountType::Image,
        MountType::Npipe,
        MountType::Cluster,
    ] {
        assert_eq!(MountType::parse(mount_type.as_str()), Some(mount_type));
    }
    assert_eq!(MountType::parse("Bind"), None);
}

#[test]
fn expands_home_only_for_tilde_and_tilde_slash() {
    let home = Path::new("/home/ann");
    assert_eq!(expand_home("~", home), Some(PathBuf::from("/home/ann")));
    assert_eq!(
        expand_home("~/photos", home),
        Some(PathBuf::from("/home/ann/photos"))
    );
    assert_eq!(
        expand_home("~//x", home),
        Some(PathBuf::from("/home/ann/x"))
    );
    assert_eq!(expand_home("~bob/x", home), None);
    assert_eq!(expand_home("./x", home), None);
    assert_eq!(expand_home("/x/~", home), None);
}

#[test]
fn resolves_sources_lexically() {
    let project = Path::new("/srv/app");
    let home = Path::new("/home/ann");
    let cases: &[(&str, &str)] = &[
        (".", "/srv/app"),
        ("./", "/srv/app"),
        ("./data", "/srv/app/data"),
        ("data/./db/", "/srv/app/data/db"),
        ("../shared", "/srv/shared"),
        ("../../../../etc", "/etc"),
        ("./a/../b", "/srv/app/b"),
        ("~", "/home/ann"),
        ("~/media/../photos", "/home/ann/photos"),
        ("~bob/x", "/srv/app/~bob/x"),
        ("/Volumes/Photos", "/Volumes/Photos"),
        ("/Volumes/Photos/../faststore/./x/", "/Volumes/faststore/x"),
        ("/a//b", "/a/b"),
        ("./my data", "/srv/app/my data"),
        (r"C:\data\..\x", r"C:\data\..\x"),
        ("c:/data", "c:/data"),
        (r"\\.\pipe\docker_engine", r"\\.\pipe\docker_engine"),
    ];
    for &(source, expected) in cases {
        assert_eq!(
            resolve_against(source, project, home),
            PathBuf::from(expected),
            "{source}"
        );
    }
}

#[test]
fn resolving_against_a_relative_project_keeps_leading_parents() {
    let home = Path::new("/home/ann");
    assert_eq!(
        resolve_against("../../x", Path::new("app"), home),
        PathBuf::from("../x")
    );
    assert_eq!(
        resolve_against("..", Path::new("app"), home),
        PathBuf::from(".")
    );
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).expect("test YAML parses")
}

fn long(text: &str) -> LongVolume {
    parse_long(&yaml(text)).unwrap_or_else(|err| panic!("{text}: {err}"))
}

fn long_err(text: &str) -> String {
    match parse_long(&yaml(text)) {
        Ok(volume) => panic!("{text} parsed into {volume:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn parses_a_full_bind_entry() {
    let volume = long(
        r#"
type: bind
source: ./static
target: /opt/app/static
read_only: true
consistency: cached
bind:
  propagation: rshared
  create_host_path: false
  selinux: Z
  recursive: readonly
x-note: kept out
"#,
    );
    assert_eq!(
        volume,
        LongVolume {
            mount_type: MountType::Bind,
            source: Some("./static".to_owned()),
            target: "/opt/app/static".to_owned(),
            read_only: true,
            consistency: Some("cached".to_owned()),
            bind: Some(BindOptions {
                propagation: Some(Propagation::Rshared),
                create_host_path: Some(false),
                selinux: Some(SelinuxLabel::Private),
                recursive: Some(BindRecursive::Readonly),
            }),
            volume: None,
            tmpfs: None,
            image: None,
        }
    );
}

#[test]
fn parses_volume_tmpfs_image_and_npipe_entries() {
    let named = long(
        r#"
type: volume
source: db-data
target: /var/lib/postgresql/data
volume:
  nocopy: "true"
  subpath: pg16
  labels: [com.example=1, bare]
"#,
    );
    assert_eq!(named.mount_type, MountType::Volume);
    assert_eq!(named.source.as_deref(), Some("db-data"));
    let options = named.volume.expect("volume block present");
    assert!(options.nocopy);
    assert_eq!(options.subpath.as_deref(), Some("pg16"));
    assert_eq!(
        options.labels.get("com.example").map(String::as_str),
        Some("1")
    );
    assert_eq!(options.labels.get("bare").map(String::as_str), Some(""));

    let tmpfs = long("{type: tmpfs, target: /run, tmpfs: {size: 64m, mode: '1777'}}");
    assert_eq!(tmpfs.mount_type, MountType::Tmpfs);
    assert_eq!(tmpfs.source, None);
    assert_eq!(
        tmpfs.tmpfs,
        Some(TmpfsOptions {
            size: Some(64 * 1024 * 1024),
            mode: Some(0o1777),
        })
    );
    let sized = long("{type: tmpfs, target: /run, tmpfs: {size: 100000, mode: 511}}");
    assert_eq!(
        sized.tmpfs,
        Some(TmpfsOptions {
            size: Some(100_000),
            mode: Some(511),
        })
    );

    let image = long("{type: image, source: 'alpine:3.20', target: /ro, image: {subpath: etc}}");
    assert_eq!(image.mount_type, MountType::Image);
    assert_eq!(image.image.and_then(|i| i.subpath).as_deref(), Some("etc"));

    let pipe = long(
        r#"{type: npipe, source: '\\.\pipe\docker_engine', target: '\\.\pipe\docker_engine'}"#,
    );
    assert_eq!(pipe.mount_type, MountType::Npipe);
    assert_eq!(pipe.target, r"\\.\pipe\docker_engine");

    let cluster = long("{type: cluster, source: group:db, target: /data}");
    assert_eq!(cluster.mount_type, MountType::Cluster);
    assert!(!cluster.read_only);
}

#[test]
fn reads_booleans_from_yaml_and_interpolated_strings() {
    for (text, expected) in [
        ("true", true),
        ("false", false),
        ("'true'", true),
        ("'false'", false),
        ("'TRUE'", true),
        ("'yes'", true),
        ("'off'", false),
        ("~", false),
    ] {
        let volume = long(&format!(
            "{{type: bind, source: ., target: /a, read_only: {text}}}"
        ));
        assert_eq!(volume.read_only, expected, "{text}");
    }
    let volume = long("{type: bind, source: ., target: /a, bind: {create_host_path: 'true'}}");
    assert_eq!(volume.bind.and_then(|b| b.create_host_path), Some(true));
}

#[test]
fn empty_blocks_read_as_defaults() {
    let volume = long("{type: volume, source: v, target: /v, volume: {}, bind: null}");
    assert_eq!(volume.volume, Some(VolumeOptions::default()));
    assert_eq!(volume.bind, Some(BindOptions::default()));
}

#[test]
fn parses_tmpfs_sizes_like_docker() {
    let cases: &[(&str, Option<u64>)] = &[
        ("0", Some(0)),
        ("1024", Some(1024)),
        ("1k", Some(1024)),
        ("1K", Some(1024)),
        ("64m", Some(64 << 20)),
        ("64mb", Some(64 << 20)),
        ("64MiB", Some(64 << 20)),
        ("1 g", Some(1 << 30)),
        ("1.5g", Some(3 << 29)),
        ("2t", Some(2 << 40)),
        ("1b", Some(1)),
        ("", None),
        ("m", None),
        ("1x", None),
        ("-1m", None),
        ("1..5m", None),
        (".5m", None),
        ("1mm", None),
    ];
    for &(text, expected) in cases {
        assert_eq!(parse_size(text), expected, "{text:?}");
    }
}

#[test]
fn rejects_bad_long_entries_naming_entry_and_key() {
    #[rustfmt::skip]
    let cases: &[(&str, &str)] = &[
        ("{source: ./a, target: /a}", "volume `/a` is missing the required key `type`"),
        ("{type: bind, source: ./a}", "volume `./a` is missing the required key `target`"),
        ("{type: bind}", "volume `bind` is missing the required key `target`"),
        ("{type: bind, source: ./a, target: /a, readonly: true}", "volume `/a` has unknown key `readonly`"),
        ("{type: bind, source: ./a, target: /a, bind: {propagaton: shared}}", "volume `/a` has unknown key `bind.propagaton`"),
        ("{type: volume, source: v, target: /a, volume: {no_copy: true}}", "volume `/a` has unknown key `volume.no_copy`"),
        ("{type: tmpfs, target: /a, tmpfs: {sise: 1}}", "volume `/a` has unknown key `tmpfs.sise`"),
        ("{type: image, source: i, target: /a, image: {path: x}}", "volume `/a` has unknown key `image.path`"),
        ("{type: disk, target: /a}", "volume `/a` key `type` must be one of bind, volume, tmpfs, image, npipe, cluster, found `disk`"),
        ("{type: bind, source: ./a, target: /a, read_only: maybe}", "volume `/a` key `read_only` must be a boolean (`true` or `false`), found `maybe`"),
        ("{type: bind, source: ./a, target: /a, bind: {propagation: up}}", "volume `/a` key `bind.propagation` must be one of shared, rshared, slave, rslave, private, rprivate, found `up`"),
        ("{type: bind, source: ./a, target: /a, bind: {selinux: x}}", "volume `/a` key `bind.selinux` must be `z` or `Z`, found `x`"),
        ("{type: bind, source: ./a, target: /a, bind: {recursive: yes}}", "volume `/a` key `bind.recursive` must be one of enabled, disabled, writable, readonly, found `yes`"),
        ("{type: bind, source: ./a, target: /a, bind: {recursive: true}}", "volume `/a` key `bind.recursive` must be a string, found `true`"),
        ("{type: bind, source: ./a, target: /a, bind: shared}", "volume `/a` key `bind` must be a mapping, found `shared`"),
        ("{type: bind, source: 12, target: /a}", "volume `/a` key `source` must be a string, found `12`"),
        ("{type: tmpfs, target: /a, tmpfs: {size: 12q}}", "volume `/a` key `tmpfs.size` must be a size such as `64m`, found `12q`"),
        ("{type: tmpfs, target: /a, tmpfs: {size: -1}}", "volume `/a` key `tmpfs.size` must be a size in bytes, found `-1`"),
        ("{type: tmpfs, target: /a, tmpfs: {mode: '0989'}}", "volume `/a` key `tmpfs.mode` must be a file mode such as `1777`, found `0989`"),
        ("{type: volume, source: v, target: /a, volume: {labels: 3}}", "volume `/a` key `volume.labels` must be a mapping or a list of `KEY=VALUE`, found `3`"),
        ("{1: x, type: bind, target: /a}", "volume `/a` has unknown key `1`"),
        ("{type: volume}", "volume `volume` is missing the required key `target`"),
        ("{}", "volume `<unnamed>` is missing the required key `type`"),
        ("[a, b]", "volume entry must be a string or a mapping, found a sequence"),
        ("./a:/a", "volume entry must be a string or a mapping, found a string"),
    ];
    for &(text, message) in cases {
        assert_eq!(long_err(text), message, "{text}");
    }
}

#[test]
fn long_errors_have_hints_where_useful() {
    let error = parse_long(&yaml("{type: bind, target: /a, bnd: {}}"))
        .expect_err("unknown key is rejected");
    assert_eq!(
        error.hint(),
        Some("check the spelling; custom keys must start with `x-`")
    );
}

proptest! {
    #[test]
    fn split_short_never_panics(spec in r"[a-zA-Z0-9./~\\:,${}\- _界]{0,24}") {
        let _ = split_short(&spec);
    }

    #[test]
    fn split_short_never_panics_on_any_text(spec in any::<String>()) {
        let _ = split_short(&spec);
    }

    #[test]
    fn plain_source_target_modes_round_trip(
        source in r"(\./|/|~/)?[a-z][a-z0-9_ -]{1,10}",
        target in r"/[a-z0-9_/]{1,12}",
        modes in proptest::sample::subsequence(KNOWN_MODES.to_vec(), 0..3),
    ) {
        let mut spec = format!("{source}:{target}");
        if !modes.is_empty() {
            spec.push(':');
            spec.push_str(&modes.join(","));
        }
        let volume = split_short(&spec).expect("generated spec is valid");
        prop_assert_eq!(volume.target, target);
        prop_assert_eq!(volume.modes, owned(&modes));
        prop_assert_eq!(volume.source, Some(source));
    }
}
