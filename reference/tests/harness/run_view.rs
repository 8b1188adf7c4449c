//! The run view (`labsim run --html`): lanes, roles, crashes and bands drawn
//! from a real run; an illegal history's operations in red; and the page
//! rendered by headless Chromium (when it is installed; CI installs it and
//! sets LABSIM_REQUIRE_CHROMIUM=1 so that the screenshot must succeed).

use checker::{KvInput, KvOutput, Operation};
use labsim::run_view::RunView;
use scenarios::labs::kv::scenarios::with_checked_history;
use scenarios::runner::{simulate, Outcome, Run};
use std::cell::RefCell;
use std::process::Command;
use std::rc::Rc;

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("labsim-view-{}-{name}", std::process::id()))
}

/// `labsim run NAME --seed SEED --html`: the page.
fn drawn(name: &str, seed: &str) -> String {
    let path = temp(&format!("{}.html", name.replace('/', "-")));
    let out = Command::new(env!("CARGO_BIN_EXE_labsim"))
        .args(["run", name, "--seed", seed, "--html", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let page = std::fs::read_to_string(&path).unwrap();
    screenshot(&path);
    let _ = std::fs::remove_file(path);
    page
}

#[test]
fn a_raft_run_is_drawn_with_roles_terms_crashes_and_cut_links() {
    let page = drawn("raft/figure_8_2c", "3");
    for lane in ["raft-0", "raft-1", "raft-2", "raft-3", "raft-4"] {
        assert!(page.contains(&format!(">{lane}</text>")), "a lane for {lane}");
    }
    assert!(page.contains("leader in term"), "leaderships are drawn");
    assert!(page.contains(" down from "), "crashes are drawn");
    assert!(page.contains("links cut: "), "cut links are shaded");
    assert!(page.contains(">passed</pre>"));
    let cut = page.split("<title>links cut: ").nth(1).expect("a cut period").split("</title>").next().unwrap();
    assert!(cut.contains("raft-") && (cut.contains(" cut off") || cut.contains("-&gt;")), "names its links: {cut}");
    let legend = page.split(r#"<p class="key">"#).nth(1).unwrap().split("</p>").next().unwrap();
    assert!(legend.contains("down") && !legend.contains("Get") && !legend.contains("unreliable"), "{legend}");
    assert!(page.contains(r#"width="100%""#) && page.contains("viewBox="), "the drawing fits the window");
}

#[test]
fn a_kv_run_is_drawn_with_its_unreliable_period_and_operations() {
    let page = drawn("kv/persist_partition_unreliable_linearizable_3a", "3");
    assert!(page.contains("unreliable: "), "the unreliable period is shaded");
    assert!(page.contains(">kv-4</text>") && page.contains(">client 1</text>"));
    assert!(page.contains("Append {"), "operations are drawn with their inputs");
    assert!(page.contains("called at ") && page.contains(" ms)"), "operations say when, in s and ms");
    let legend = page.split(r#"<p class="key">"#).nth(1).unwrap().split("</p>").next().unwrap();
    assert!(legend.contains("Append") && legend.contains("Get") && legend.contains("unreliable"), "{legend}");
}

fn op(client: u64, input: KvInput, output: KvOutput, call: u64, ret: u64) -> Operation<KvInput, KvOutput> {
    Operation { client, input, output: Some(output), call, ret: Some(ret) }
}

/// A run whose clients saw a stale value after a write had returned.
fn stale_read(run: &Run) -> Outcome {
    let outcome = simulate::<sim::testing::EchoNode, _>(run, |h| async move {
        let (c, s) = sim::testing::setup(&h, 2);
        h.call(c, s[0], sim::testing::echo(vec![1])).await.map_err(|e| e.to_string())?;
        Ok(())
    });
    let put = |v: &str| KvInput::Put { key: "k".into(), value: v.into() };
    let get = KvInput::Get { key: "k".into() };
    let history = vec![
        op(1, put("a"), KvOutput::Done, 10, 20),
        op(1, put("b"), KvOutput::Done, 50, 60),
        op(2, get, KvOutput::Value("a".into()), 70, 80),
    ];
    with_checked_history(outcome, history)
}

#[test]
fn an_illegal_historys_unplaceable_operations_are_red() {
    let view = Rc::new(RefCell::new(RunView::default()));
    let outcome = stale_read(&Run::new(5).with_event_sink(RunView::sink(view.clone())));
    assert!(outcome.result.is_err());
    let page = view.borrow().html("stale read", &outcome);
    assert!(page.contains("FAILED: history is not linearizable"), "the verdict is on the page");
    assert!(page.contains(r##"fill="#e53935""##) && page.contains("#2 Get"), "the stale read is red");
    let bad = page.split(r#"<rect id="first-unplaceable""#).nth(1).expect("the first unplaceable operation is marked");
    let width: f64 = bad.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
    assert!(width >= 8.0 && bad.contains(r##"stroke="#7f0000""##), "outlined, never a sliver: {width}");
    assert!(page.contains("scrollIntoView"), "the page scrolls to it");
    assert!(page.contains(">client 1</text>") && page.contains(">client 2</text>"));
    let path = temp("stale.html");
    std::fs::write(&path, page).unwrap();
    screenshot(&path);
    let _ = std::fs::remove_file(path);
}

/// Renders the page in headless Chromium and checks the screenshot.
fn screenshot(page: &std::path::Path) {
    let Some(chromium) =
        ["chromium", "chromium-browser"].into_iter().find(|c| Command::new(c).arg("--version").output().is_ok())
    else {
        assert!(
            std::env::var_os("LABSIM_REQUIRE_CHROMIUM").is_none(),
            "LABSIM_REQUIRE_CHROMIUM is set but chromium is missing"
        );
        eprintln!("chromium is not installed: the screenshot check is skipped");
        return;
    };
    let png = page.with_extension("png");
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1600,900"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000, "a real picture: {} bytes", bytes.len());
    let _ = std::fs::remove_file(png);
}
