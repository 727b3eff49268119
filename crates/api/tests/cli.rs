//! The `itsm catalog` commands, run as a user runs them.

mod support;

use std::path::Path;
use std::process::Output;

use support::{config_dir, sqlite_url};

fn itsm(args: &[&str], config: &Path) -> Output {
    support::itsm(config).args(args).output().expect("itsm runs")
}

#[test]
fn check_prints_a_summary_and_succeeds() {
    let out = itsm(&["catalog", "check"], &config_dir());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ok: 40 line items of 27 agencies"), "{stdout}");
    assert!(stdout.contains("total ¥8271400.00 = contract total"), "{stdout}");
    // One row per item, every metric in it, e.g. item 5's working-time
    // response and item 31's containment; the table fits 120 columns, Chinese
    // characters counted as two (rewritten from three fixed metric columns,
    // which ran to 190 columns and left containment out).
    assert!(
        stdout.lines().any(|l| l.contains("建筑垃圾大数据监管") && l.contains("响应 15m in / 30m out")),
        "{stdout}"
    );
    assert!(stdout.contains("遏制 1h"), "{stdout}");
    let widest = stdout
        .lines()
        .map(|l| {
            l.chars()
                .map(|c| if (c as u32) >= 0x2E80 && !('┆'..='╿').contains(&c) { 2 } else { 1 })
                .sum::<usize>()
        })
        .max();
    assert!(widest.is_some_and(|w| w <= 120), "widest line {widest:?}: {stdout}");
    assert!(
        stdout.contains("contract rule system_down_response: response 1h in 7x24 [critical]"),
        "{stdout}"
    );
    // No 2027 holiday data ships: the check names the year and the items.
    assert!(stdout.contains("warning: no holiday data for cn 2027"), "{stdout}");
    assert!(stdout.contains("cn 2027-01-01..2027-05-21: items 3, 7, 12, 14, 31"), "{stdout}");
}

#[test]
fn a_year_imported_covers_the_service_and_runs_from_any_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(dir.path());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/api/fixtures");
    // Run where there is no config folder at all: the built-in one is used.
    let run = |args: &[&str], with_db: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_itsm"));
        command.args(args).current_dir(dir.path()).env_remove("ITSM_CONFIG_DIR");
        if with_db {
            command.env("ITSM_DATABASE_URL", &url);
        }
        command.output().expect("itsm runs")
    };
    let before = run(&["catalog", "check"], false);
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
    assert!(String::from_utf8_lossy(&before.stdout).contains("no holiday data for cn 2027"));
    let bad = run(&["calendar", "import", "nowhere.toml"], true);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read nowhere.toml"));
    let toml = fixtures.join("cn-2027-test.toml");
    let ok = run(&["calendar", "import", toml.to_str().expect("utf-8")], true);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let said = String::from_utf8_lossy(&ok.stdout);
    assert!(said.contains("stored cn 2027: 3 holiday dates, 1 make-up workdays"), "{said}");
    // With the database, the check reads the stored year: 2027 is covered.
    let after = run(&["catalog", "check"], true);
    let after = String::from_utf8_lossy(&after.stdout);
    assert!(!after.contains("no holiday data"), "{after}");
    // An iCalendar feed too.
    let ics = fixtures.join("cn-2027-test.ics");
    let feed = run(&["calendar", "import", ics.to_str().expect("utf-8")], true);
    assert!(feed.status.success(), "{}", String::from_utf8_lossy(&feed.stderr));
}

#[test]
fn show_json_has_the_normalized_catalog() {
    let out = itsm(&["catalog", "show", "--json"], &config_dir());
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["contract"]["registration_number"], "洛采公开-2026-54");
    assert_eq!(v["contract"]["total_yuan"], "8271400.00");
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), 40);
    let five = &items[4];
    assert_eq!(five["seq"], 5);
    assert_eq!(five["amount_yuan"], "180000.00");
    assert_eq!(five["service_window"], "7x24");
    let first = &five["targets"][0];
    assert_eq!(first["metric"], "response");
    assert_eq!(first["minutes"], 15);
    assert_eq!(first["calendar"], "7x24");
    assert_eq!(first["when"], serde_json::json!({"opened": "inside", "calendar": "5x8"}));
    assert!(five["source_text"]["requirements"].as_str().is_some_and(|s| s.contains("实时")));
    assert!(five["inspection"].as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn a_broken_catalog_fails_with_clear_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["catalog", "calendars"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(config_dir().join(sub)).expect("read") {
            let path = entry.expect("entry").path();
            std::fs::copy(&path, dir.path().join(sub).join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let items = dir.path().join("catalog/items.toml");
    let text = std::fs::read_to_string(&items).expect("read");
    std::fs::write(&items, text.replacen("duration = \"0.5h\"", "duration = \"half an hour\"", 1))
        .expect("write");
    let out = itsm(&["catalog", "check"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("catalog/items.toml: item[0] seq=1 target[0] response: duration \"half an hour\""),
        "{stderr}"
    );

    let missing = itsm(&["catalog", "check"], &dir.path().join("nowhere"));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the folder"));
}

#[test]
fn user_add_creates_accounts_and_explains_refusals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(dir.path());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = support::itsm(&config_dir())
            .args(args)
            .env("ITSM_DATABASE_URL", &url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("itsm runs");
        if let Some(text) = stdin {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
        }
        child.wait_with_output().expect("itsm finishes")
    };
    let ok = run(
        &["user", "add", "--username", "edu.li", "--role", "agency_user", "--agency", "洛阳市教育局"],
        None,
    );
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(out.contains("created edu.li (agency_user)") && out.contains("password: "), "{out}");
    // A generated password has been seen by whoever ran the command: its owner must change it.
    assert!(out.contains("must be changed at the first sign-in"), "{out}");
    let piped = run(
        &["user", "add", "--username", "zhang", "--role", "engineer", "--password-stdin"],
        Some("a good long password\n"),
    );
    assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
    assert!(!String::from_utf8_lossy(&piped.stdout).contains("password:"), "a given password is not echoed");
    for (args, message) in [
        (&["user", "add", "--username", "edu.li", "--role", "engineer"][..], "is taken"),
        (&["user", "add", "--username", "x", "--role", "boss"][..], "is not a role"),
        (
            &["user", "add", "--username", "x", "--role", "agency_user", "--agency", "nowhere"][..],
            "does not exist",
        ),
    ] {
        let out = run(args, None);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn openapi_prints_the_checked_in_spec() {
    let out = itsm(&["openapi"], &config_dir());
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let file = std::fs::read_to_string(config_dir().join("../openapi/openapi.json")).expect("checked in");
    assert_eq!(printed, serde_json::from_str::<serde_json::Value>(&file).expect("JSON"));
}

#[test]
fn report_writes_csv_and_xlsx_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(dir.path());
    // The header row of a CSV file, read by the `csv` crate after its UTF-8 byte-order mark.
    fn csv_header(b: &[u8]) -> Vec<String> {
        let Some(body) = b.strip_prefix("\u{feff}".as_bytes()) else { return Vec::new() };
        let mut r = csv::ReaderBuilder::new().from_reader(body);
        r.headers().map(|h| h.iter().map(str::to_owned).collect()).unwrap_or_default()
    }
    // Rewritten: a CSV file is one table (the line items' by default), with a byte-order mark.
    for (format, view, check) in [
        (
            "csv",
            "items",
            (|b: &[u8]| csv_header(b)[..4] == ["序号", "运维项目", "服务单位", "指标"]) as fn(&[u8]) -> bool,
        ),
        ("csv", "breaches", |b: &[u8]| csv_header(b)[..2] == ["工单号", "标题"]),
        ("xlsx", "items", |b: &[u8]| {
            b.starts_with(b"PK\x03\x04") && b.windows(15).any(|w| w == b"xl/workbook.xml")
        }),
        ("json", "items", |b: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v["from"] == "2026-06-01")
        }),
    ] {
        let out = dir.path().join(format!("june-{view}.{format}"));
        let run = support::itsm(&config_dir())
            .args(["report", "--month", "2026-06", "--format", format, "--view", view, "--out"])
            .arg(&out)
            .env("ITSM_DATABASE_URL", &url)
            .output()
            .expect("itsm runs");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let bytes = std::fs::read(&out).expect("written");
        assert!(check(&bytes), "{format} ({view}) output is not what it should be");
        // `--out -` writes the same to standard output, and nothing else.
        let piped = support::itsm(&config_dir())
            .args(["report", "--month", "2026-06", "--format", format, "--view", view, "--out", "-"])
            .current_dir(dir.path())
            .env("ITSM_DATABASE_URL", &url)
            .output()
            .expect("itsm runs");
        assert!(piped.status.success(), "{}", String::from_utf8_lossy(&piped.stderr));
        assert!(check(&piped.stdout), "{format} ({view}) on standard output is not what it should be");
        assert!(!dir.path().join("-").exists(), "no file named -");
    }
    for (args, says) in [
        (["--month", "2026-13", "--view", "items"], "is not like 2026-06"),
        (
            ["--month", "2026-06", "--view", "all"],
            "--view all: items, agencies, contract, breaches or inspections",
        ),
    ] {
        let bad = support::itsm(&config_dir())
            .arg("report")
            .args(args)
            .args(["--out", "/dev/null"])
            .env("ITSM_DATABASE_URL", &url)
            .output()
            .expect("itsm runs");
        assert!(!bad.status.success());
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains(says),
            "{}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
    // An agency by its name, as people write it; one that does not exist is said so.
    let by_name = support::itsm(&config_dir())
        .args(["report", "--month", "2026-06", "--format", "json", "--agency", "洛阳市教育局", "--out"])
        .arg(dir.path().join("edu.json"))
        .env("ITSM_DATABASE_URL", &url)
        .output()
        .expect("itsm runs");
    assert!(by_name.status.success(), "{}", String::from_utf8_lossy(&by_name.stderr));
    let unknown = support::itsm(&config_dir())
        .args(["report", "--month", "2026-06", "--agency", "洛阳市不存在局", "--out", "/dev/null"])
        .env("ITSM_DATABASE_URL", &url)
        .output()
        .expect("itsm runs");
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(said.contains("洛阳市不存在局") && said.contains("does not exist"), "{said}");
}

/// `itsm serve` with its log going to a pipe (as to a file): the lines until
/// it listens, then it is stopped.
fn serve_log(extra: &[&str]) -> String {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = support::itsm(&config_dir())
        .arg("serve")
        .args(extra)
        .env("ITSM_DATABASE_URL", sqlite_url(dir.path()))
        .env("ITSM_LISTEN", "127.0.0.1:0")
        .env("ITSM_METRICS_LISTEN", "127.0.0.1:0")
        .env("ITSM_OUTBOX_DIR", dir.path().join("outbox"))
        .env("ITSM_ADMIN_PASSWORD", "Correct-Horse-Battery-9")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("itsm serve starts");
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.expect("a line of the log");
        let done = line.contains("listening");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines.join("\n")
}

#[test]
fn serve_logs_plain_text_to_a_file_and_json_when_asked() {
    let human = serve_log(&[]);
    assert!(human.contains("listening"), "{human}");
    assert!(!human.contains('\u{1b}'), "no colour codes outside a terminal: {human:?}");
    let json = serve_log(&["--json-logs"]);
    let first: Vec<serde_json::Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    let starting = first.iter().find(|v| v["message"] == "starting").expect("a start line");
    let settings = starting["settings"].as_str().expect("settings");
    assert!(settings.contains("log_format: Json"), "the start line says what is in force: {settings}");
}
