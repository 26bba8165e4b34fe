//! The policy editor page, in a real browser: headless Chromium driven
//! through chromedriver (WebDriver) against the real server on loopback.
//! An officer opens the page, breaks a file and sees the error at its
//! line, is refused a rollout of the broken draft, fixes it into a real
//! change, previews its impact on stored events, rolls it out, and rolls
//! it back from the version list. Plus the page's HTTP side and the check
//! endpoint it uses.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; `tools/test` installs them). `WHISTLE_CHROMEDRIVER`
//! and `WHISTLE_CHROMIUM` name other binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::drafts::{LEAD_A, LEAD_B, ORDER, order_text, setup};
use common::root;
use common::server::{Server, event, free_port, wait_for};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long the page may take to show something after an action.
const PATIENCE: Duration = Duration::from_secs(20);

fn binary(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "the editor test drives a browser and cannot find `{name}`: install Chromium and \
                 its driver (`apt-get install chromium chromium-driver`; `tools/test` does it), \
                 or set {var}"
            )
        })
}

/// A chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = free_port();
        let child = Command::new(binary("WHISTLE_CHROMEDRIVER", "chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let up = wait_for(20, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "chromedriver did not listen on port {port}");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut options = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1400,1000"]
    });
    if let Some(p) = std::env::var_os("WHISTLE_CHROMIUM") {
        options["binary"] = json!(p.to_string_lossy());
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("opening a browser session")
}

/// Runs `test` in a fresh headless browser, closed afterwards.
fn in_browser(test: impl AsyncFnOnce(&Client)) {
    let driver = Driver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = browser(&driver).await;
        test(&c).await;
        c.close().await.unwrap();
    });
}

/// Opens the editor of the server at `base` and waits for its first
/// check of the bundle to come back clean.
async fn open_editor(c: &Client, base: &str) {
    c.goto(&format!("{base}/editor")).await.unwrap();
    wait_text(c, "problem-summary", "a clean check", |t| {
        t.starts_with("No problems")
    })
    .await;
}

/// Opens a bundle file from the list.
async fn open_file(c: &Client, path: &str) {
    let css = format!("#file-list li[data-path='{path}']");
    click_at(c, Locator::Css(&css)).await;
    wait_text(c, "current-path", "the file's path", |t| t == path).await;
}

/// The text of the element with this id.
async fn text(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

/// Waits until the element with this id shows text that `ok` accepts, and
/// returns it; fails with the last text seen.
async fn wait_text(c: &Client, id: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
    let start = std::time::Instant::now();
    loop {
        let t = text(c, id).await;
        if ok(&t) {
            return t;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "#{id} never showed {what}; it shows {t:?} (message: {:?})",
            text(c, "message").await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the element with this id.
async fn click(c: &Client, id: &str) {
    click_at(c, Locator::Id(id)).await;
}

/// Clicks the element found there.
async fn click_at(c: &Client, at: Locator<'_>) {
    c.find(at).await.unwrap().click().await.unwrap();
}

/// Shows one of the panel's tabs.
async fn tab(c: &Client, name: &str) {
    let css = format!(".tabs button[data-tab='{name}']");
    click_at(c, Locator::Css(&css)).await;
}

/// The line the text area's cursor is on.
async fn cursor_line(c: &Client) -> usize {
    let at = js(
        c,
        "const t = document.getElementById('text'); \
         return t.value.slice(0, t.selectionStart).split('\\n').length",
    )
    .await;
    at.as_u64().unwrap() as usize
}

/// Runs a script in the page and returns its value.
async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Replaces the open file's text the way a paste does (an `input` event).
async fn paste(c: &Client, text: &str) {
    paste_into(c, "text", text).await;
}

/// Replaces the text of the text area with this id, as a paste does.
async fn paste_into(c: &Client, id: &str, text: &str) {
    c.execute(
        "const t = document.getElementById(arguments[0]); t.value = arguments[1]; \
         t.dispatchEvent(new Event('input'));",
        vec![json!(id), json!(text)],
    )
    .await
    .unwrap();
}

/// Clicks the button with this id and accepts the confirmation it asks.
async fn click_and_confirm(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = std::time::Instant::now();
    while c.accept_alert().await.is_err() {
        assert!(start.elapsed() < PATIENCE, "#{id} asked no confirmation");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn an_officer_edits_checks_previews_rolls_out_and_back_in_the_browser() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    for i in 0..3 {
        let (st, b) = s.post(
            "/v1/events",
            &event(&format!("N-{i}"), "neighbour_noise"),
            None,
        );
        assert_eq!(st, 201, "{b}");
    }
    let first = s.live_hash();
    let bundle_files = s.get("/v1/policy", None).1["files"]
        .as_array()
        .unwrap()
        .len();
    let original = order_text(&policy);
    in_browser(async |c| {
        // `/` lands on the editor, which shows the version in force and
        // checks it.
        c.goto(&format!("{}/", s.base)).await.unwrap();
        assert!(c.current_url().await.unwrap().as_str().ends_with("/editor"));
        wait_text(c, "live-hash", "the live hash", |t| t == first).await;
        wait_text(c, "problem-summary", "a clean check", |t| {
            t.starts_with("No problems")
        })
        .await;
        let files = c.find_all(Locator::Css("#file-list li")).await.unwrap();
        assert_eq!(
            files.len(),
            bundle_files,
            "one entry per file of the version in force"
        );

        // Open a file and break it by typing at its end.
        open_file(c, ORDER).await;
        let area = c.find(Locator::Id("text")).await.unwrap();
        area.click().await.unwrap();
        js(c, "const t = document.getElementById('text'); t.setSelectionRange(t.value.length, t.value.length);").await;
        area.send_keys("\ncategory broken {").await.unwrap();
        let problems = wait_text(c, "problem-list", "the syntax error", |t| {
            t.contains(&format!("{ORDER}:")) && t.contains("error[E0001]")
        })
        .await;
        let line: usize = problems
            .split(&format!("{ORDER}:"))
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .expect("a line number");
        assert_eq!(line, original.lines().count() + 2, "{problems}");
        let marked = js(
            c,
            "return document.querySelector(\"#file-list li.has-errors\").dataset.path",
        )
        .await;
        assert_eq!(marked, json!(ORDER));

        // The coloured copy under the text holds exactly the text (so the
        // two stay aligned), keywords marked, the error underlined.
        let layer = js(
            c,
            "const h = document.getElementById('highlight'); \
             return [h.textContent === document.getElementById('text').value + '\\n ', \
                     h.querySelectorAll('.k').length > 0, \
                     h.querySelectorAll('.e').length]",
        )
        .await;
        assert_eq!(layer, json!([true, true, 1]), "the highlighting layer");

        // Clicking the error puts the cursor on its line.
        c.find(Locator::Css("#problem-list li"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        assert_eq!(cursor_line(c).await, line);

        // A broken draft is refused and nothing reaches the bundle.
        click_and_confirm(c, "rollout").await;
        wait_text(c, "message", "the refusal", |t| {
            t.starts_with("Not rolled out")
        })
        .await;
        assert_eq!(s.live_hash(), first);
        assert_eq!(order_text(&policy), original);

        // A clash names the other place: a click on the note goes there.
        paste(
            c,
            &format!("{original}\ncategory neighbour_noise \"x\" {{\n  lead grid_team\n}}\n"),
        )
        .await;
        let clash = wait_text(c, "problem-list", "the clash", |t| {
            t.contains("error[E0101]")
        })
        .await;
        assert!(
            clash.contains(&format!("note: {ORDER}:3:10: first declared here")),
            "{clash}"
        );
        click_at(c, Locator::Css("#problem-list .note")).await;
        assert_eq!(cursor_line(c).await, 3);

        // Fixed into a real change: the check names it in words.
        // (It leaves a warning: the new lead was also an assistant.)
        paste(c, &original.replacen(LEAD_A, LEAD_B, 1)).await;
        wait_text(c, "problem-summary", "no errors", |t| {
            t.starts_with("0 error(s), 1 warning(s), 2 of the bundle's tests failing")
        })
        .await;
        let warning = text(c, "problem-list").await;
        assert!(warning.contains("warning[W0205]"), "{warning}");
        assert!(
            warning
                .contains("test failed: a blue noise complaint is settled on the spot by the grid"),
            "{warning}"
        );
        assert!(
            warning.contains("help: the lead is never listed among the assisting departments"),
            "the hint is shown: {warning}"
        );
        tab(c, "changes").await;
        wait_text(c, "semantic", "the change in words", |t| {
            t.contains("neighbour_noise: lead grid_team → committee")
        })
        .await;

        // The preview decides the stored events under both versions.
        click(c, "preview").await;
        wait_text(c, "changes-summary", "the replay", |t| {
            t.contains("3 stored event(s)") && t.contains("3 (100.0%) decided differently")
        })
        .await;
        let impact = text(c, "impact").await;
        assert!(impact.contains("neighbour_noise"), "{impact}");
        assert!(impact.contains("committee"), "{impact}");

        // Roll out: the server makes it live and writes the file.
        click_and_confirm(c, "rollout").await;
        let second = wait_text(c, "live-hash", "the new version", |t| {
            t.starts_with("sha256:") && t != first
        })
        .await;
        assert_eq!(s.live_hash(), second);
        assert!(order_text(&policy).contains(LEAD_B));
        wait_text(c, "draft-state", "an empty draft", |t| t == "no changes").await;

        // Roll back from the version list.
        tab(c, "versions").await;
        wait_text(c, "version-list", "both versions", |t| {
            t.contains("in force") && t.contains("Roll back")
        })
        .await;
        let back = c.find(Locator::Css("#version-list button")).await.unwrap();
        back.click().await.unwrap();
        let start = std::time::Instant::now();
        while c.accept_alert().await.is_err() {
            assert!(start.elapsed() < PATIENCE, "rollback asked no confirmation");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        wait_text(c, "live-hash", "the first version again", |t| t == first).await;
        assert_eq!(s.live_hash(), first);
        assert_eq!(order_text(&policy), original);
    });
}

/// Typed into the token field, as an officer does (the field reacts when
/// it loses focus).
async fn enter_token(c: &Client, token: &str) {
    let field = c.find(Locator::Id("token")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(token).await.unwrap();
    click(c, "policy-name").await;
}

#[test]
fn with_tokens_the_page_asks_for_one_and_an_officers_for_checks() {
    let (tmp, policy, data) = setup();
    let cfg = tmp.path().join("whistle.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[tokens]]\nname = \"desk\"\nsha256 = \"{}\"\nroles = [\"viewer\"]\n\n\
             [[tokens]]\nname = \"chen\"\nsha256 = \"{}\"\nroles = [\"officer\", \"viewer\"]\n",
            common::token_hash("desk-token"),
            common::token_hash("officer-token")
        ),
    )
    .unwrap();
    let s = Server::start(&policy, &data, Some(&cfg));
    let live = || {
        let (st, p) = s.get("/v1/policy", Some("desk-token"));
        assert_eq!(st, 200, "{p}");
        p["hash"].as_str().unwrap().to_string()
    };
    let older = live();
    // A second version, so that the list offers a rollback to the first.
    std::fs::write(
        policy.join(ORDER),
        format!("# reviewed\n{}", order_text(&policy)),
    )
    .unwrap();
    assert!(wait_for(20, || live() != older), "the edit went live");
    let first = live();
    // What an officer's token may do and a viewer's may not.
    let guarded = "return [...document.querySelectorAll('#check, #preview, #simulate, \
                   #version-list button')].map(b => [b.id || b.textContent, b.disabled, b.title])";
    in_browser(async |c| {
        c.goto(&format!("{}/editor", s.base)).await.unwrap();
        // Said in words, not in HTTP's.
        let asked = wait_text(c, "message", "a request for a token", |t| {
            t.contains("needs a token; enter it at the top right")
        })
        .await;
        assert!(!asked.contains("Authorization"), "{asked}");
        assert_eq!(text(c, "live-hash").await, "");

        // A wrong token is said to be refused.
        enter_token(c, "no-such-token").await;
        wait_text(c, "message", "the refusal", |t| {
            t.contains("the server refused the token")
        })
        .await;

        // A viewer sees the bundle, but checking it is an officer's job:
        // the check says it did not run, and why.
        enter_token(c, "desk-token").await;
        wait_text(c, "live-hash", "the live hash", |t| t == first).await;
        wait_text(c, "message", "the role it lacks", |t| {
            t.contains("your token (desk) lacks the officer role")
        })
        .await;
        let summary = text(c, "problem-summary").await;
        assert!(summary.starts_with("Not checked"), "{summary}");
        // The page asked who the token is: it says so, and greys out what
        // the server would refuse, rolling back included.
        wait_text(c, "who", "who the token is", |t| {
            t.starts_with("desk (viewer): read only")
        })
        .await;
        let buttons = js(c, guarded).await;
        let buttons = buttons.as_array().unwrap();
        assert_eq!(buttons.len(), 4, "{buttons:?}");
        assert!(
            buttons.iter().any(|b| b[0] == "Roll back 回滚"),
            "{buttons:?}"
        );
        for b in buttons {
            assert_eq!(b[1], true, "{b}");
            assert!(b[2].as_str().unwrap().contains("officer's token"), "{b}");
        }

        enter_token(c, "officer-token").await;
        wait_text(c, "problem-summary", "a clean check", |t| {
            t.starts_with("No problems")
        })
        .await;
        wait_text(c, "who", "the officer", |t| t == "chen (officer, viewer)").await;
        for b in js(c, guarded).await.as_array().unwrap() {
            assert_eq!(b[1], false, "{b}");
            assert_eq!(b[2], "", "{b}");
        }
        // The token stays with the tab: a reload needs no typing.
        c.refresh().await.unwrap();
        wait_text(c, "problem-summary", "a clean check", |t| {
            t.starts_with("No problems")
        })
        .await;
    });
}

#[test]
fn the_page_says_when_the_bundle_changes_under_it_and_keeps_the_draft() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    let first = s.live_hash();
    let original = order_text(&policy);
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        open_file(c, "policy.whistle").await;
        let draft = format!("{}\n# a note in the draft\n", text_of_editor(c).await);
        paste(c, &draft).await;

        // A save on disk that does not compile: the version shown stays.
        std::fs::write(
            policy.join(ORDER),
            format!("{original}\ncategory broken {{"),
        )
        .unwrap();
        wait_text(c, "banner-text", "the rejected save", |t| {
            t.contains("has 1 error(s) and was not loaded")
        })
        .await;
        assert_eq!(s.live_hash(), first);

        // A good save goes live: the page offers to load it.
        std::fs::write(policy.join(ORDER), original.replacen(LEAD_A, LEAD_B, 1)).unwrap();
        let banner = wait_text(c, "banner-text", "the new version", |t| {
            t.starts_with("Another version went live")
        })
        .await;
        let second = s.live_hash();
        assert_ne!(second, first);
        assert!(banner.contains(&second), "{banner}");
        click(c, "banner-action").await;
        wait_text(c, "live-hash", "the new version", |t| t == second).await;
        let hidden = js(c, "return document.getElementById('banner').hidden").await;
        assert_eq!(hidden, json!(true));
        // The officer's own edit is still there, on top of the new version.
        assert_eq!(text_of_editor(c).await, draft);
        assert_eq!(text(c, "draft-state").await, "1 file(s) changed");
    });
}

/// Two officers edit one file: the page's rollout, made from the version
/// it showed, is refused rather than undo the other's saved change.
#[test]
fn a_rollout_over_a_change_made_meanwhile_is_refused() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    let first = s.live_hash();
    let original = order_text(&policy);
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        open_file(c, ORDER).await;
        paste(c, &format!("# mine\n{original}")).await;
        let theirs = original.replacen(LEAD_A, LEAD_B, 1);
        std::fs::write(policy.join(ORDER), &theirs).unwrap();
        wait_text(c, "banner-text", "the other officer's version", |t| {
            t.starts_with("Another version went live")
        })
        .await;
        click_and_confirm(c, "rollout").await;
        let refusal = wait_text(c, "message", "the refusal", |t| {
            t.starts_with("Not rolled out") && t.contains("changed since the draft was made")
        })
        .await;
        // It names the buttons to press, each of them on screen.
        assert!(
            refusal.contains("redo your edit on it. Press \"Load it\""),
            "{refusal}"
        );
        let shown = js(
            c,
            "return !document.getElementById('banner').hidden && \
                           document.getElementById('banner-action').textContent",
        )
        .await;
        assert_eq!(shown, json!("Load it"));
        assert_eq!(order_text(&policy), theirs);
        assert_ne!(s.live_hash(), first);

        // With another file in the draft, the officer loads the new
        // version, reverts the file and makes the edit again: each file
        // names the version it was made from, and now it goes through.
        open_file(c, "policy.whistle").await;
        let header = format!("# reviewed\n{}", text_of_editor(c).await);
        paste(c, &header).await;
        click(c, "banner-action").await;
        let second = s.live_hash();
        wait_text(c, "live-hash", "the new version", |t| t == second).await;
        // The refusal, about the older version, gives way.
        wait_text(c, "message", "the load", |t| {
            t.starts_with("Loaded the version in force now")
        })
        .await;
        open_file(c, ORDER).await;
        click(c, "revert-file").await;
        wait_text(c, "draft-state", "the revert", |t| t == "1 file(s) changed").await;
        let mine = format!("# mine\n{}", text_of_editor(c).await);
        assert!(mine.contains(LEAD_B), "the reverted file is theirs");
        paste(c, &mine).await;
        click_and_confirm(c, "rollout").await;
        wait_text(c, "message", "the rollout", |t| t.starts_with("Live now")).await;
        assert_eq!(order_text(&policy), mine);
        assert!(
            std::fs::read_to_string(policy.join("policy.whistle"))
                .unwrap()
                .starts_with("# reviewed")
        );
    });
}

#[test]
fn a_draft_is_simulated_against_the_version_in_force_from_the_page() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    let year = std::fs::read_to_string(root().join("examples/scenarios/wuhou-2026.yaml")).unwrap();
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        open_file(c, ORDER).await;
        let original = text_of_editor(c).await;
        paste(c, &original.replacen(LEAD_A, LEAD_B, 1)).await;
        tab(c, "simulate").await;

        // A scenario mistake is named by its field, and nothing starts.
        paste_into(
            c,
            "scenario",
            &year.replace("handlers: 12", "handlers: none"),
        )
        .await;
        click(c, "simulate").await;
        wait_text(c, "message", "the field at fault", |t| {
            t.starts_with("Not simulated") && t.contains("capacity.levels.district.handlers")
        })
        .await;

        paste_into(c, "scenario", &year).await;
        let count = c.find(Locator::Id("sim-events")).await.unwrap();
        count.send_keys("3000").await.unwrap();
        click(c, "simulate").await;
        wait_text(c, "sim-summary", "the finished run", |t| {
            t.contains("Both versions handled the very same events")
        })
        .await;
        let table = text(c, "sim-rows").await;
        assert!(table.contains("respond deadline missed"), "{table}");
        assert!(
            table.contains(" pp"),
            "draft-minus-baseline deltas: {table}"
        );
        let shown = js(c, "return !document.getElementById('sim-download').hidden").await;
        assert_eq!(shown, json!(true), "the report page can be downloaded");
    });
}

/// The text of the file open in the editor.
async fn text_of_editor(c: &Client) -> String {
    js(c, "return document.getElementById('text').value")
        .await
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_page_is_served_with_a_strict_content_policy() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    for (path, kind) in [
        ("/editor", "text/html"),
        ("/editor/editor.js", "text/javascript"),
        ("/editor/editor.css", "text/css"),
    ] {
        let res = s.agent.get(&format!("{}{path}", s.base)).call().unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        assert!(
            header("content-security-policy").contains("default-src 'none'"),
            "{path}"
        );
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    }
    // The root and a trailing slash lead to the page.
    for path in ["/", "/editor/"] {
        let res = s.agent.get(&format!("{}{path}", s.base)).call().unwrap();
        assert_eq!(res.status().as_u16(), 200, "{path}");
        let page = res.into_body().read_to_string().unwrap();
        assert!(page.contains("editor.js"), "{path}: {page}");
    }
}

#[test]
fn a_check_answers_with_diagnostics_and_changes_nothing() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    let first = s.live_hash();
    let original = order_text(&policy);

    // The bundle as it is.
    let (st, r) = s.post("/v1/policy/check", &json!({}), None);
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["errors"].as_u64(), r["warnings"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["draft"]["hash"], json!(first));
    assert_eq!(r["draft"]["same_as_live"], json!(true));
    assert_eq!(r["tests"]["failed"], json!([]), "{r}");
    assert!(r["tests"]["passed"].as_u64().unwrap() > 20, "{r}");

    // A draft with an error: where it is, rendered as `whistle check` does.
    let broken = format!("{original}\ncategory broken {{");
    let (st, r) = s.post("/v1/policy/check", &json!({"files": {ORDER: broken}}), None);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["errors"], json!(1));
    assert_eq!(r["draft"], Value::Null);
    let d = &r["diagnostics"][0];
    assert_eq!(d["file"], json!(ORDER));
    assert_eq!(d["line"], json!(original.lines().count() + 2));
    assert!(
        r["rendered"].as_str().unwrap().contains("error[E0001]"),
        "{r}"
    );

    // A real change: its hash and its words.
    let changed = original.replacen(LEAD_A, LEAD_B, 1);
    let (st, r) = s.post(
        "/v1/policy/check",
        &json!({"files": {ORDER: changed}}),
        None,
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["draft"]["changes"], json!(1));
    assert_ne!(r["draft"]["hash"], json!(first));
    assert!(
        r["draft"]["summary"]
            .as_str()
            .unwrap()
            .contains("neighbour_noise: lead grid_team → committee"),
        "{r}"
    );
    // The bundle's own tests, run on the draft: the two about neighbour
    // noise's lead now fail, and say where and why.
    let failed = r["tests"]["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{r}");
    assert!(
        failed
            .iter()
            .all(|t| t["location"].as_str().unwrap().starts_with("tests/")),
        "{r}"
    );
    assert!(
        failed[0]["failures"]
            .to_string()
            .contains("expected `grid_team`, got `committee`"),
        "{r}"
    );

    // Bad requests name what is wrong.
    let (st, r) = s.post(
        "/v1/policy/check",
        &json!({"files": {"../x.whistle": ""}}),
        None,
    );
    assert_eq!(
        (st, r["error"]["code"].as_str()),
        (422, Some("bad_path")),
        "{r}"
    );
    let (st, r) = s.post("/v1/policy/check", &json!({"days": 3}), None);
    assert_eq!(
        (st, r["error"]["code"].as_str()),
        (422, Some("invalid")),
        "{r}"
    );
    let (st, r) = s.post_raw("/v1/policy/check", b"{\"files\": ");
    assert_eq!(st, 400, "{r}");

    // Nothing was changed by any of it.
    assert_eq!(s.live_hash(), first);
    assert_eq!(order_text(&policy), original);
}

/// Presses keys together (the first ones held while the next go down),
/// as a person does, on whatever has the focus.
async fn press(c: &Client, keys: &[char]) {
    let mut a = KeyActions::new("keyboard".into());
    for &k in keys {
        a = a.then(KeyAction::Down { value: k });
    }
    for &k in keys.iter().rev() {
        a = a.then(KeyAction::Up { value: k });
    }
    c.perform_actions(a).await.unwrap();
}

/// Selects `from..to` of the open file's text (offsets in characters of
/// its lines: `(line, column)`, both from 1) with the text area focused.
async fn select(c: &Client, from: (usize, usize), to: (usize, usize)) {
    c.execute(
        "const t = document.getElementById('text'); \
         const at = ([line, col]) => t.value.split('\\n').slice(0, line - 1) \
             .reduce((n, l) => n + l.length + 1, 0) + col - 1; \
         t.focus(); t.setSelectionRange(at(arguments[0]), at(arguments[1]));",
        vec![json!([from.0, from.1]), json!([to.0, to.1])],
    )
    .await
    .unwrap();
}

/// The text with lines `lines` (from 1) changed by `f`.
fn with_lines(
    text: &str,
    lines: std::ops::RangeInclusive<usize>,
    f: impl Fn(&str) -> String,
) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| {
            if lines.contains(&(i + 1)) {
                f(l)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The keyboard: Tab indents the selected lines and Shift+Tab outdents
/// them, Ctrl+Z undoes either, Esc then Tab leaves the text; the bundle's
/// files and the problems are reached with Tab and opened with Enter.
#[test]
fn the_keyboard_indents_leaves_the_text_and_opens_list_entries() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        open_file(c, ORDER).await;
        let original = text_of_editor(c).await;
        let tab: char = Key::Tab.into();
        let shift: char = Key::Shift.into();
        let control: char = Key::Control.into();

        // Tab on a selection across lines 4 to 6 indents those lines and
        // loses nothing; Ctrl+Z takes it back.
        select(c, (4, 3), (6, 5)).await;
        press(c, &[tab]).await;
        let indented = with_lines(&original, 4..=6, |l| format!("  {l}"));
        assert_eq!(text_of_editor(c).await, indented, "Tab indents the lines");
        wait_text(c, "draft-state", "the change", |t| t == "1 file(s) changed").await;
        press(c, &[control, 'z']).await;
        assert_eq!(
            text_of_editor(c).await,
            original,
            "Ctrl+Z undoes the indent"
        );
        wait_text(c, "draft-state", "no change", |t| t == "no changes").await;

        // Shift+Tab outdents the cursor's line, by the two spaces the
        // language indents with; Ctrl+Z again takes it back.
        select(c, (4, 5), (4, 5)).await;
        press(c, &[shift, tab]).await;
        let outdented = with_lines(&original, 4..=4, |l| l.replacen("  ", "", 1));
        assert_eq!(text_of_editor(c).await, outdented, "Shift+Tab outdents");
        press(c, &[control, 'z']).await;
        assert_eq!(text_of_editor(c).await, original);

        // Without a selection, Tab is two spaces at the cursor.
        select(c, (4, 1), (4, 1)).await;
        press(c, &[tab]).await;
        let spaced = with_lines(&original, 4..=4, |l| format!("  {l}"));
        assert_eq!(text_of_editor(c).await, spaced, "two spaces at the cursor");
        press(c, &[control, 'z']).await;
        assert_eq!(text_of_editor(c).await, original);

        // Esc then Tab leaves the text, which stays as it was.
        select(c, (4, 1), (4, 1)).await;
        press(c, &[Key::Escape.into()]).await;
        press(c, &[tab]).await;
        let focused = js(c, "return document.activeElement.id").await;
        assert_ne!(focused, json!("text"), "Esc, Tab moves the focus on");
        assert_eq!(text_of_editor(c).await, original);

        // The files are reached with the keyboard and opened with Enter.
        let reachable = js(
            c,
            "const li = document.querySelector(\"#file-list li[data-path='policy.whistle']\"); \
             li.focus(); return document.activeElement === li",
        )
        .await;
        assert_eq!(reachable, json!(true), "a file entry takes the focus");
        press(c, &[Key::Enter.into()]).await;
        wait_text(c, "current-path", "the file opened", |t| {
            t == "policy.whistle"
        })
        .await;

        // So are the problems: Enter on one goes to its line.
        let broken = format!("{}\ncategory broken {{", text_of_editor(c).await);
        paste(c, &broken).await;
        wait_text(c, "problem-list", "the error", |t| {
            t.contains("error[E0001]")
        })
        .await;
        select(c, (1, 1), (1, 1)).await;
        let reachable = js(
            c,
            "const li = document.querySelector('#problem-list li'); \
             li.focus(); return document.activeElement === li",
        )
        .await;
        assert_eq!(reachable, json!(true), "a problem takes the focus");
        press(c, &[Key::Enter.into()]).await;
        assert_eq!(cursor_line(c).await, broken.lines().count());
    });
}

/// A rollout on its way locks the text and the actions (its answer
/// replaces the draft); a check that cannot run takes away what an earlier
/// one found; and with the server gone every action says so in words.
#[test]
fn a_rollout_locks_the_page_and_a_stopped_server_is_said_in_words() {
    let (_tmp, policy, data) = setup();
    let mut s = Server::start(&policy, &data, None);
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        js(
            c,
            "window.uncaught = []; \
             addEventListener('error', (e) => uncaught.push(String(e.message))); \
             addEventListener('unhandledrejection', (e) => uncaught.push(String(e.reason)));",
        )
        .await;
        open_file(c, ORDER).await;
        let original = text_of_editor(c).await;

        // What a rollout on its way locks.
        let locked = "return ['text', 'rollout', 'check', 'preview', 'discard', 'new-file'] \
                      .map((id) => { const e = document.getElementById(id); \
                                     return id === 'text' ? e.readOnly : e.disabled; })";

        // The rollout's answer takes 1.5 s: meanwhile nothing can change.
        js(
            c,
            "const f = window.fetch; window.fetch = (u, o) => u === '/v1/policy/rollout' \
               ? new Promise((r) => setTimeout(r, 1500)).then(() => f(u, o)) : f(u, o);",
        )
        .await;
        paste(c, &format!("# mine\n{original}")).await;
        click_and_confirm(c, "rollout").await;
        assert_eq!(
            js(c, locked).await,
            json!([true, true, true, true, true, true]),
            "while the rollout runs"
        );
        wait_text(c, "message", "the rollout", |t| t.starts_with("Live now")).await;
        assert_eq!(
            js(c, locked).await,
            json!([false, true, false, false, true, false]),
            "after it (nothing to roll out or discard)"
        );

        // A broken draft: the error is listed, marked and underlined.
        let broken = format!("{original}\ncategory broken {{");
        paste(c, &broken).await;
        wait_text(c, "problem-list", "the error", |t| {
            t.contains("error[E0001]")
        })
        .await;
        let marks = "return [document.getElementById('problem-list').children.length, \
                     document.getElementById('gutter').textContent.includes('✖'), \
                     document.querySelectorAll('#highlight .e').length]";
        assert_eq!(js(c, marks).await, json!([1, true, 1]));

        // The server stops; the next check cannot run, and what the last
        // one found goes with the reason.
        s.kill();
        paste(c, &format!("{broken}\n")).await;
        let summary = wait_text(c, "problem-summary", "the check that did not run", |t| {
            t.starts_with("Not checked")
        })
        .await;
        assert!(
            summary.contains("the server cannot be reached"),
            "{summary}"
        );
        assert_eq!(
            js(c, marks).await,
            json!([0, false, 0]),
            "the stale marks go"
        );

        // Every action says the server cannot be reached, and none stays
        // busy.
        let clear = "document.getElementById('message').textContent = ''";
        js(c, clear).await;
        click(c, "preview").await;
        wait_text(c, "message", "the preview's failure", |t| {
            t == "Not previewed: the server cannot be reached (it may be stopped, or the network is down)."
        })
        .await;
        js(c, clear).await;
        click_and_confirm(c, "rollout").await;
        wait_text(c, "message", "the rollout's failure", |t| {
            t.starts_with("Rollout: the server could not be reached")
        })
        .await;
        assert_eq!(
            js(c, locked).await,
            json!([false, false, false, false, false, false]),
            "no longer busy"
        );
        js(c, clear).await;
        tab(c, "versions").await;
        wait_text(c, "message", "the version list's failure", |t| {
            t.starts_with("The version list cannot be shown: the server cannot be reached")
        })
        .await;
        js(c, clear).await;
        tab(c, "simulate").await;
        paste_into(c, "scenario", "name: x\n").await;
        click(c, "simulate").await;
        wait_text(c, "message", "the simulation's failure", |t| {
            t.starts_with("Not simulated: the server cannot be reached")
        })
        .await;
        wait_text(c, "banner-text", "the server gone", |t| {
            t.starts_with("The server does not answer")
        })
        .await;
        assert_eq!(js(c, "return uncaught").await, json!([]), "nothing thrown");
    });
}

/// In a narrow window the toolbars wrap: every control stays on screen.
/// And a new file's path is one the server accepts, or it is refused.
#[test]
fn a_narrow_window_shows_every_control_and_new_paths_are_checked() {
    let (_tmp, policy, data) = setup();
    let s = Server::start(&policy, &data, None);
    in_browser(async |c| {
        open_editor(c, &s.base).await;
        open_file(c, ORDER).await;
        let original = text_of_editor(c).await;
        paste(c, &original.replacen(LEAD_A, LEAD_B, 1)).await;
        wait_text(c, "draft-state", "the change", |t| t == "1 file(s) changed").await;
        for width in [800, 1024] {
            c.set_window_size(width, 900).await.unwrap();
            let off = js(
                c,
                "const w = window.innerWidth; \
                 const off = [...document.querySelectorAll('button, input, textarea')] \
                   .filter((e) => e.offsetParent !== null) \
                   .filter((e) => { const r = e.getBoundingClientRect(); \
                                    return r.left < 0 || r.right > w + 0.5; }) \
                   .map((e) => e.id || e.textContent); \
                 return [document.documentElement.scrollWidth <= w, off]",
            )
            .await;
            assert_eq!(off, json!([true, []]), "at {width} px");
        }

        // Not a bundle file: refused, and not added.
        for (path, why) in [
            ("notes.txt", "is not a bundle file"),
            ("../x.whistle", "leaves the bundle"),
            (
                "categories/.x.whistle",
                "hidden files are not part of a bundle",
            ),
            ("rules/areas.yaml", "is not a bundle file"),
        ] {
            click(c, "new-file").await;
            c.send_alert_text(path).await.unwrap();
            c.accept_alert().await.unwrap();
            let said = wait_text(c, "message", "the refusal", |t| {
                t.starts_with("No new file")
            })
            .await;
            assert!(said.contains(why), "{path}: {said}");
            let listed = js(
                c,
                "return [...document.querySelectorAll('#file-list li')].map((li) => li.dataset.path)",
            )
            .await;
            let added = path.trim_start_matches("../");
            assert!(
                !listed
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p.as_str().unwrap().ends_with(added)),
                "{path} was added: {listed}"
            );
            js(c, "document.getElementById('message').textContent = ''").await;
        }
        // A bundle file is added, its path as the server writes it.
        click(c, "new-file").await;
        c.send_alert_text("./categories//roads.whistle")
            .await
            .unwrap();
        c.accept_alert().await.unwrap();
        wait_text(c, "current-path", "the new file", |t| {
            t == "categories/roads.whistle"
        })
        .await;
    });
}
