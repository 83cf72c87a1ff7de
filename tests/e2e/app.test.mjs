// End-to-end tests in the real Parley window: tauri-driver + WebKitWebDriver
// drive the built app (scripts/e2e.sh runs this under Xvfb, inside
// dbus-run-session with an unlocked gnome-keyring).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Session, startDriver, windowPng } from "./webdriver.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
const app = process.env.PARLEY_APP ?? path.join(targetDir, "debug/parley");
// Screenshots of the main screens, light and dark, land in docs/screenshots
// (PARLEY_SCREENSHOT_DIR elsewhere, or "" for none).
const shots = process.env.PARLEY_SCREENSHOT_DIR ?? path.join(root, "docs/screenshots");
const workspaceVersion = fs.readFileSync(path.join(root, "Cargo.toml"), "utf8").match(/^version = "(.+)"/m)[1];

let driver;
let s;
let home;

// A real notification server for the whole run (dunst), before the app
// starts: else the first notification has D-Bus start one with its
// default config. Its popups are a pixel in the screen's corner, off the
// window the screenshots capture; its context menu ("dmenu") is a script
// that logs what it offers and picks Answer, as a user choosing the
// button would.
const notifications = { dir: "", proc: null };
const dunstctl = (...args) => execFileSync("dunstctl", args, { encoding: "utf8" }).trim();
/** The pid owning org.freedesktop.Notifications on this session's bus, or 0. */
function notificationServer() {
  try {
    const out = execFileSync(
      "dbus-send",
      ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
        "org.freedesktop.DBus.GetConnectionUnixProcessID", "string:org.freedesktop.Notifications"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    return Number(out.match(/uint32 (\d+)/)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function startNotificationServer() {
  const dir = (notifications.dir = fs.mkdtempSync(path.join(os.tmpdir(), "parley-dunst-")));
  const pick = path.join(dir, "pick.sh");
  fs.writeFileSync(pick, `#!/bin/sh\ntee "${dir}/offered.txt" | grep -m1 '^#Answer '\n`, { mode: 0o755 });
  fs.writeFileSync(
    path.join(dir, "dunstrc"),
    `[global]\n    dmenu = ${pick}\n    timeout = 0\n    origin = bottom-right\n    offset = 0x0\n    width = 1\n    height = 1\n    frame_width = 0\n    padding = 0\n    horizontal_padding = 0\n`,
  );
  const proc = (notifications.proc = spawn("dunst", ["-conf", path.join(dir, "dunstrc")], { stdio: "ignore" }));
  for (let i = 0; i < 100 && notificationServer() !== proc.pid; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(notificationServer(), proc.pid, "dunst did not take org.freedesktop.Notifications");
}

before(async () => {
  assert.ok(fs.existsSync(app), `app binary ${app} missing: build it first`);
  await startNotificationServer();
  home = fs.mkdtempSync(path.join(os.tmpdir(), "parley-e2e-"));
  driver = await startDriver({
    PARLEY_CONFIG_DIR: path.join(home, "config"),
    PARLEY_DATA_DIR: path.join(home, "data"),
    // Where the SIP trace export saves (Downloads otherwise).
    PARLEY_EXPORT_DIR: path.join(home, "exports"),
  });
  s = await Session.create(driver.base, { "tauri:options": { application: app } });
});

after(async () => {
  await s?.close().catch(() => {});
  await driver?.stop();
  notifications.proc?.kill();
  if (notifications.dir) fs.rmSync(notifications.dir, { recursive: true, force: true });
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

async function shot(name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  for (const theme of ["light", "dark"]) {
    // data-theme is what the theme setting sets; the OS default is light here.
    await s.execute("document.documentElement.dataset.theme = arguments[0];", [theme]);
    // Let WebKit paint the last DOM change before capturing.
    await s.cmd("POST", "/execute/async", {
      script: "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done()));",
      args: [],
    });
    fs.writeFileSync(path.join(shots, `${name}-${theme}.png`), windowPng());
  }
  await s.execute("delete document.documentElement.dataset.theme;");
}

/** Quits the app and starts it again on the same profile, its window up. */
async function restartApp() {
  await s.close();
  s = await Session.create(driver.base, { "tauri:options": { application: app } });
  await s.find("main h1");
}

const heading = async () => (await s.find("main h1")).text();

test("the window shows the engine's account state from Rust", async () => {
  const state = await s.find('[data-testid="status-state"]');
  await s.waitFor("status text", async () => (await state.text()) === "Local: direct calls");
  assert.equal(await (await s.find('[data-testid="status-account"]')).text(), "Local");
  assert.equal(await heading(), "Contacts");
  // English by default: the OS language here (LANG unset or C) is not Russian.
  const lang = await s.execute("return [document.documentElement.lang, navigator.language];");
  assert.equal(lang[0], "en", `html lang with navigator.language ${lang[1]}`);
  console.log(`navigator.language in the e2e window: ${lang[1]}`);
  await shot("contacts");
});

test("navigation reaches every screen, by click and by keyboard", async () => {
  for (const label of ["Dialpad", "Chats", "History", "Settings", "Contacts"]) {
    const id = label.toLowerCase();
    await (await s.find(`#nav-${id}`)).click();
    await s.waitFor(`${label} heading`, async () => (await heading()) === label);
    assert.equal(await (await s.find(`#nav-${id}`)).attribute("aria-selected"), "true");
  }
  // Alt+2 opens the dialpad; typing builds the target in the account's domain.
  await s.cmd("POST", "/actions", {
    actions: [{ type: "key", id: "kb", actions: [
      { type: "keyDown", value: "\uE00A" }, { type: "keyDown", value: "2" },
      { type: "keyUp", value: "2" }, { type: "keyUp", value: "\uE00A" },
    ] }],
  });
  await s.waitFor("dialpad by Alt+2", async () => (await heading()) === "Dialpad");
  await (await s.find(".dial-input")).type("1234");
  const target = await s.find('[data-testid="dial-target"]');
  await s.waitFor("dial target", async () => (await target.text()) === "sip:1234@127.0.0.1");
  await shot("dialpad");
});

test("settings shows the version the Rust engine reports", async () => {
  await (await s.find("#nav-settings")).click();
  const v = await s.find('[data-testid="engine-version"]');
  await s.waitFor("version", async () => (await v.text()) === workspaceVersion);
  await shot("settings");
});

test("sound settings: the level meter moves while open; the echo test records, plays back and stops", async () => {
  await (await s.find("#nav-settings")).click();
  const meter = await s.find('[data-testid="audio-meter"][role="meter"]', { timeout: 20_000 });
  const status = await s.find('[data-testid="audio-test-status"]');
  const statusIs = (text) => async () => (await status.text()) === text;
  await s.waitFor("metering", statusIs("Listening to the microphone."), 20_000);
  const level = async () => Number(await meter.attribute("aria-valuenow"));
  // The test sound goes to the sound server's null sink, whose monitor is
  // the default microphone: the meter moves with it, then falls back.
  await (await s.find('[data-testid="audio-play-output"]')).click();
  await s.waitFor("the meter moved", async () => (await level()) > 30, 10_000);
  const play = await s.find('[data-testid="audio-play-output"]');
  await s.waitFor("test sound played", async () => (await play.text()) === "Play test sound", 10_000);
  assert.equal((await s.findAll('[data-testid="audio-sound-error"]')).length, 0);
  await s.waitFor("the meter fell back", async () => (await level()) < 10, 10_000);

  await (await s.find('[data-testid="audio-echo"]')).click();
  await s.waitFor("recording", statusIs("Recording: say something…"), 10_000);
  await s.waitFor("playing back", statusIs("Playing back what you said…"), 10_000);
  const stop = await s.find('[data-testid="audio-echo"]');
  assert.equal(await stop.text(), "Stop echo test");
  await stop.click();
  await s.waitFor("metering again", statusIs("Listening to the microphone."), 10_000);
  assert.equal(await (await s.find('[data-testid="audio-echo"]')).text(), "Echo test");
  // Leaving the screen stops the test; coming back starts it again.
  await (await s.find("#nav-dialpad")).click();
  await (await s.find("#nav-settings")).click();
  const again = await s.find('[data-testid="audio-test-status"]', { timeout: 20_000 });
  await s.waitFor("metering after coming back", async () => (await again.text()) === "Listening to the microphone.", 20_000);
});

test("an account added in the window lands in the config and its password in the keyring only", async () => {
  await (await s.find("#nav-settings")).click();
  await (await s.find("button.primary")).click(); // Add account
  await (await s.find('input[name="name"]')).type("Work");
  await (await s.find('input[name="uri"]')).type("sip:alice@127.0.0.1");
  await (await s.find('input[name="password"]')).type("e2e-secret-41");
  await (await s.find('button[type="submit"]')).click();

  const list = await s.find('[data-testid="accounts"]');
  await s.waitFor("account listed", async () => (await list.text()).includes("sip:alice@127.0.0.1"));
  const state = await s.find('[data-testid="status-account"]');
  await s.waitFor("status bar follows", async () => (await state.text()) === "Work");
  await shot("settings-account");

  const config = fs.readFileSync(path.join(home, "config/config.toml"), "utf8");
  assert.match(config, /uri = "sip:alice@127.0.0.1"/);
  assert.doesNotMatch(config, /e2e-secret-41/);
  const stored = execFileSync("secret-tool", ["lookup", "service", "org.parley.Parley", "username", "Work"]).toString();
  assert.equal(stored, "e2e-secret-41");

  // The account can be edited after it was made (the password field left
  // empty keeps the stored one), and the change is saved.
  await (await s.find('button[aria-label="Edit account Work"]')).click();
  const code = await s.find('[data-testid="edit-pickup-code"]');
  await code.clear();
  await code.type("**");
  await (await s.find('[data-testid="edit-save"]')).click();
  const saved = await s.find('[data-testid="edit-status"]');
  await s.waitFor("account saved", async () => (await saved.text()) === "Account saved; registering with the new settings.");
  assert.match(fs.readFileSync(path.join(home, "config/config.toml"), "utf8"), /pickup_code = "\*\*"/);
  assert.equal(
    execFileSync("secret-tool", ["lookup", "service", "org.parley.Parley", "username", "Work"]).toString(),
    "e2e-secret-41",
    "the password was kept",
  );

  await (await s.find('button[aria-label="Remove account Work"]')).click();
  await s.waitFor("local account back", async () => (await state.text()) === "Local");
  assert.throws(() => execFileSync("secret-tool", ["lookup", "service", "org.parley.Parley", "username", "Work"], { stdio: "pipe" }));
});

/** Presses `keys` (WebDriver key values) together, then lets them go. */
async function chord(...keys) {
  await s.cmd("POST", "/actions", {
    actions: [{ type: "key", id: "kb", actions: [
      ...keys.map((value) => ({ type: "keyDown", value })),
      ...keys.reverse().map((value) => ({ type: "keyUp", value })),
    ] }],
  });
}

const desktopJson = () => JSON.parse(fs.readFileSync(path.join(home, "config/desktop.json"), "utf8"));

test("desktop settings: the theme applies at once and is there from the first paint after a restart", async () => {
  await (await s.find("#nav-settings")).click();
  await (await s.find('[data-testid="theme"] option[value="dark"]')).click();
  const theme = () => s.execute("return document.documentElement.dataset.theme ?? null;");
  await s.waitFor("dark theme on <html>", async () => (await theme()) === "dark");
  await s.waitFor("saved", async () => fs.existsSync(path.join(home, "config/desktop.json")) && desktopJson().theme === "dark");
  await s.execute("document.querySelector('[data-testid=\"desktop-settings\"]').scrollIntoView();");
  await shot("settings-desktop");

  // A new app on the same profile: the shell sets the theme before the
  // page's own script runs, so the first paint is dark.
  await restartApp();
  assert.equal(await theme(), "dark");
  const bg = await s.execute("return getComputedStyle(document.documentElement).backgroundColor;");
  assert.equal(bg, "rgb(20, 24, 31)");

  // Back to the system's (light here): data-theme goes.
  await (await s.find("#nav-settings")).click();
  await s.find('[data-testid="theme"]');
  assert.equal(await s.execute("return document.querySelector('[data-testid=\"theme\"]').value;"), "dark");
  await (await s.find('[data-testid="theme"] option[value="system"]')).click();
  await s.waitFor("system theme", async () => (await theme()) === null);
  await s.waitFor("saved", async () => desktopJson().theme === "system");
});

/**
 * The newest WebKit web process of this profile: whether it was started
 * with GPU compositing turned off (it inherits the app's environment,
 * where the shell sets WebKit's variable before the web view exists), and
 * whether it loaded Parley's display-only EGL vendor or Mesa's LLVM.
 */
function webProcess() {
  const profile = `PARLEY_CONFIG_DIR=${path.join(home, "config")}`;
  let newest = null;
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("WebKitWebProcess")) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (!env.includes(profile)) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const started = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      if (!newest || started > newest.started) newest = { started, env, pid };
    } catch {
      // Gone meanwhile.
    }
  }
  assert.ok(newest, "no WebKitWebProcess of this profile");
  const maps = fs.readFileSync(`/proc/${newest.pid}/maps`, "utf8");
  return {
    compositingOff: newest.env.includes("WEBKIT_DISABLE_COMPOSITING_MODE=1"),
    jitOff: newest.env.includes("JSC_useJIT=0"),
    eglVendorFile: (() => {
      const e = newest.env.find((v) => v.startsWith("__EGL_VENDOR_LIBRARY_FILENAMES="));
      return e ? e.slice(e.indexOf("=") + 1) : null;
    })(),
    eglStub: maps.includes("libparley_egl_stub.so"),
    // Mesa's driver: libLLVM and *_dri.so (Mesa 22 here), libgallium-*.so
    // (Mesa 24.2 on), and its EGL vendor.
    llvm: /libLLVM|_dri\.so|libgallium|libEGL_mesa/.test(maps),
  };
}

/** Waits until the UI is up in the web process (its EGL set-up comes before). */
async function webProcessWithUi() {
  await s.find("#nav-settings");
  return webProcess();
}

test("desktop settings: GPU compositing is off by default and the switch applies at the next start", async () => {
  await (await s.find("#nav-settings")).click();
  const box = () => s.execute(`return document.querySelector('[data-testid="hardware-acceleration"]')?.checked ?? null;`);
  const hint = async () => (await s.find('[data-testid="gpu-hint"]')).text();
  await s.waitFor("switch off by default", async () => (await box()) === false);
  assert.match(await hint(), /80 MB less memory/);
  // Without GPU compositing the web process gets its EGL display from
  // Parley's display-only vendor (src-tauri/egl-stub), not Mesa with LLVM.
  let web = await webProcessWithUi();
  assert.equal(web.compositingOff, true);
  assert.equal(path.dirname(web.eglVendorFile), path.join(home, "config"));
  assert.match(path.basename(web.eglVendorFile), /^egl-vendor-[0-9a-f]{16}\.json$/);
  assert.equal(web.eglStub, true, "the display-only EGL vendor is not loaded");
  assert.equal(web.llvm, false, "Mesa's DRI driver or LLVM is mapped");
  // The UI's JavaScript runs in JavaScriptCore's interpreter (memory).
  assert.equal(web.jitOff, true);
  const vendor = JSON.parse(fs.readFileSync(web.eglVendorFile, "utf8"));
  assert.match(vendor.ICD.library_path, /\/libparley_egl_stub\.so$/);

  await (await s.find('[data-testid="hardware-acceleration"]')).click();
  await s.waitFor("saved on", async () => fs.existsSync(path.join(home, "config/desktop.json")) && desktopJson().hardware_acceleration === true);
  assert.match(await hint(), /next time Parley starts/);

  // The next start composites on the GPU (WebKit's default).
  await restartApp();
  await (await s.find("#nav-settings")).click();
  await s.waitFor("still on after the restart", async () => (await box()) === true);
  assert.match(await hint(), /80 MB less memory/);
  web = await webProcessWithUi();
  assert.equal(web.compositingOff, false);
  assert.equal(web.eglVendorFile, null, "GPU compositing keeps the system's EGL");

  // Back to the default for the rest of the run.
  await (await s.find('[data-testid="hardware-acceleration"]')).click();
  await s.waitFor("saved off", async () => desktopJson().hardware_acceleration === false);
  await restartApp();
  web = await webProcessWithUi();
  assert.equal(web.compositingOff, true);
  assert.equal(web.eglStub, true);
});

test("the SIP trace's recording switch is remembered across a restart", async () => {
  await (await s.find("#nav-trace")).click();
  const box = () => s.execute(`return document.querySelector('[data-testid="trace-enabled"]')?.checked ?? null;`);
  await s.waitFor("recording on by default", async () => (await box()) === true);
  await (await s.find('[data-testid="trace-enabled"]')).click();
  await s.waitFor("saved off", async () => fs.existsSync(path.join(home, "config/desktop.json")) && desktopJson().sip_trace === false);
  await restartApp();
  await (await s.find("#nav-trace")).click();
  await s.waitFor("still off after the restart", async () => (await box()) === false);
  await (await s.find('[data-testid="trace-enabled"]')).click();
  await s.waitFor("on again and saved", async () => (await box()) === true && desktopJson().sip_trace === true);
});

test("desktop settings: start at login writes and removes the OS login item", async () => {
  // The XDG autostart entry lives in the real home; one there before the
  // test is put back after it.
  const entry = path.join(os.homedir(), ".config/autostart/Parley.desktop");
  const before = fs.existsSync(entry) ? fs.readFileSync(entry) : null;
  try {
    if (before) fs.rmSync(entry);
    await (await s.find("#nav-settings")).click();
    const login = await s.find('[data-testid="start-at-login"]');
    const checked = () => s.execute("return document.querySelector('[data-testid=\"start-at-login\"]').checked;");
    await s.waitFor("switch loaded off", async () => (await checked()) === false);
    await login.click();
    await s.waitFor("login item written", async () => fs.existsSync(entry));
    assert.match(fs.readFileSync(entry, "utf8"), /--autostart/);
    await s.waitFor("switch on", async () => (await checked()) === true);
    await login.click();
    await s.waitFor("login item removed", async () => !fs.existsSync(entry));
    await s.waitFor("switch off", async () => (await checked()) === false);
  } finally {
    if (before) fs.writeFileSync(entry, before);
    else fs.rmSync(entry, { force: true });
  }
});

test("desktop settings: a global shortcut is checked, registered and cleared", async () => {
  await (await s.find("#nav-settings")).click();
  const answer = await s.find('[data-testid="shortcut-answer"]');
  const error = await s.find('[data-testid="shortcut-answer-error"]');
  assert.equal(await answer.text(), "Not set");
  // A plain letter is refused with the reason.
  await answer.click();
  await s.waitFor("recording", async () => (await answer.attribute("aria-pressed")) === "true");
  await chord("k");
  await s.waitFor("refused", async () => (await error.text()) === "K: add Ctrl, Alt or Super, or the key stops working in other apps");
  // Ctrl+Alt+K: the X server grants the grab; saved in desktop.json.
  await answer.click();
  await chord("\uE009", "\uE00A", "k");
  await s.waitFor("registered", async () => (await answer.text()) === "Ctrl+Alt+K", 10_000);
  assert.equal(await error.text(), "");
  assert.equal(desktopJson().shortcuts.answer, "Ctrl+Alt+K");
  await (await s.find('[data-testid="shortcut-answer-clear"]')).click();
  await s.waitFor("cleared", async () => (await answer.text()) === "Not set");
  assert.equal(desktopJson().shortcuts.answer, null);
});

// X11 helpers for the tray tests.
const xdo = (...args) => execFileSync("xdotool", args, { encoding: "utf8" }).trim();
const xwininfo = (...args) => execFileSync("xwininfo", args, { encoding: "utf8" });
/** Geometry and map state of each top-level window whose line in `xwininfo -root -children` matches. */
const topLevels = (line) =>
  [...xwininfo("-root", "-children").matchAll(/^\s+(0x[0-9a-f]+) (.*)$/gm)]
    .filter(([, , rest]) => line.test(rest))
    .map(([, id]) => {
      const info = xwininfo("-id", id);
      const num = (label) => Number(info.match(new RegExp(`${label}:\\s+(-?\\d+)`))[1]);
      return {
        id,
        mapped: /Map State: IsViewable/.test(info),
        w: num("Width"),
        h: num("Height"),
        x: num("Absolute upper-left X"),
        y: num("Absolute upper-left Y"),
      };
    });
/** The main window ("Parley", 960x640) is mapped on screen. */
const mainShown = () => topLevels(/^"Parley": /).some((w) => w.mapped);
/** A popup menu (a small mapped top-level) of the windows `line` picks. */
const popupMenu = (line) => topLevels(line).find((m) => m.mapped && m.w > 100 && m.w < 400 && m.h > 150 && m.h < 400);
/**
 * Picks Show/Hide in an open tray menu: its third row of eight of equal
 * height under thin separators (status, missed calls | Show/Hide, Answer,
 * Hang up | My status, Do not disturb | Quit). Menus take no keyboard
 * grab under a bare X server, so the pointer picks, as a user would.
 */
async function pickShowHide(line) {
  let m;
  await s.waitFor("the tray menu open", async () => (m = popupMenu(line)) !== undefined, 5_000);
  await new Promise((r) => setTimeout(r, 300)); // drawn
  const row = (m.h - 7) / 8;
  xdo("mousemove", String(m.x + Math.round(m.w / 2)), String(m.y + Math.round(3 + 2.5 * row + 1)));
  await new Promise((r) => setTimeout(r, 200)); // highlighted
  xdo("mousedown", "1");
  await new Promise((r) => setTimeout(r, 150));
  xdo("mouseup", "1");
  await s.waitFor("the tray menu closed", async () => popupMenu(line) === undefined, 5_000);
}
/**
 * Hides the window from the tray's menu, then shows it again the same way;
 * `openMenu` pops the menu whose windows `line` picks.
 */
async function hideAndShowFromTray(openMenu, line) {
  openMenu();
  await pickShowHide(line);
  await s.waitFor("the window hidden from the tray", async () => !mainShown(), 10_000);
  openMenu();
  await pickShowHide(line);
  await s.waitFor("the window shown again from the tray", async () => mainShown(), 10_000);
}
/** Settings' close hint, read again (the screen asks the shell when shown). */
async function closeHint() {
  await (await s.find("#nav-dialpad")).click();
  await (await s.find("#nav-settings")).click();
  return (await s.find('[data-testid="close-hint"]')).text();
}
const NO_TRAY = "No tray is shown";
const TO_TRAY = "Calls and messages still come in";

test("the tray icon docks in a real system tray (trayer), and its menu hides and shows the window", async () => {
  // trayer is an XEmbed system tray: with no StatusNotifierWatcher on the
  // bus, the icon (libayatana-appindicator) falls back to a GTK status
  // icon, which docks there. A click pops its menu, as a user's would.
  // Without a tray closing the window quits; with one it hides.
  assert.ok(mainShown(), "the window is shown to begin with");
  await s.waitFor("no tray yet", async () => (await closeHint()).startsWith(NO_TRAY), 10_000);
  const tray = spawn("trayer", ["--edge", "bottom", "--align", "left", "--widthtype", "request", "--height", "32",
    "--SetDockType", "false", "--transparent", "false", "--tint", "0xffffff"], { stdio: "ignore" });
  try {
    xdo("search", "--sync", "--class", "^trayer$");
    // A status icon docks in the tray that runs when the app starts (as
    // a desktop's panel runs before its apps).
    await restartApp();
    // The status icon's own window (class "tray-icon tray app main"),
    // once trayer has reparented it into its panel.
    const panel = xdo("search", "--sync", "--name", "^panel$");
    const icons = () =>
      [...xwininfo("-tree", "-id", panel).matchAll(/^\s+(0x[0-9a-f]+) "[^"]*": \("tray-icon tray app main"/gm)].map((m) => m[1]);
    await s.waitFor("the icon docked in the tray", async () => icons().length > 0, 15_000);
    // Settings sees the tray host, so closing the window would keep
    // Parley running in the tray.
    await s.waitFor("close-to-tray offered", async () => (await closeHint()).startsWith(TO_TRAY), 10_000);
    // The status icon's menu is the app's own window.
    // A click gives the icon the focus; under a bare X server it opens
    // the menu on Return (its keyboard activation), not on the click.
    await hideAndShowFromTray(() => {
      xdo("mousemove", "--window", icons()[0], "8", "8", "click", "1");
      xdo("key", "Return");
    }, /^"parley": \("parley" "Parley"\)/);
    // The tray quits (a panel restarting): Parley follows the selection's
    // owner, and closing the window would quit again rather than hide it
    // where no icon could bring it back.
    tray.kill();
    await s.waitFor("the tray's end seen by Settings", async () => (await closeHint()).startsWith(NO_TRAY), 10_000);
    await (await s.find("#nav-dialpad")).click();
  } finally {
    tray.kill();
  }
});

test("the tray icon shows in a StatusNotifierItem host (status-notifier-watcher, gtk-sni-tray), its menu hides and shows the window, and Settings follows the watcher", async () => {
  // The other kind of tray (KDE, GNOME's extension, most panels): a
  // StatusNotifierWatcher on the session bus and a host that draws the
  // items it lists, and their menus (dbusmenu), in its own process.
  assert.ok(mainShown(), "the window is shown to begin with");
  await s.waitFor("no tray yet", async () => (await closeHint()).startsWith(NO_TRAY), 10_000);
  const watcher = spawn("status-notifier-watcher", [], { stdio: "ignore" });
  let host;
  const gdbus = (...args) => execFileSync("gdbus", ["call", "--session", ...args], { encoding: "utf8" });
  const items = () =>
    gdbus("--dest", "org.kde.StatusNotifierWatcher", "--object-path", "/StatusNotifierWatcher",
      "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems");
  try {
    await s.waitFor("the watcher on the bus", async () => /\(true,\)/.test(gdbus("--dest", "org.freedesktop.DBus",
      "--object-path", "/org/freedesktop/DBus", "--method", "org.freedesktop.DBus.NameHasOwner", "org.kde.StatusNotifierWatcher")), 10_000);
    // A watcher with no host registered draws nothing: still no tray.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok((await closeHint()).startsWith(NO_TRAY), "a watcher alone is not a tray");
    host = spawn("gtk-sni-tray-standalone", ["--bottom"], { stdio: "ignore" });
    const barLine = /^"gtk-sni-tray-standalone": /;
    let bar;
    await s.waitFor("the host's bar on screen", async () => (bar = topLevels(barLine).find((w) => w.mapped && w.w > 100)), 10_000);
    // Settings follows the watcher's arrival without a restart.
    await s.waitFor("close-to-tray offered", async () => (await closeHint()).startsWith(TO_TRAY), 10_000);
    // The icon registers as an item when the app starts with a watcher.
    await restartApp();
    await s.waitFor("the icon registered with the watcher", async () => /:1\.\d+/.test(items()), 15_000);
    // The host draws it at the start of its bar: something is painted
    // there (the bar is otherwise one flat colour).
    const screen = execFileSync("xwd", ["-root", "-silent"], { maxBuffer: 64 << 20 });
    const colours = Number(execFileSync("convert", ["xwd:-", "-crop", `${bar.h}x${bar.h}+${bar.x}+${bar.y}`, "+repage",
      "-format", "%k", "info:"], { input: screen, encoding: "utf8", maxBuffer: 64 << 20 }));
    assert.ok(colours > 8, `the icon is drawn in the host's bar (${colours} colours)`);
    // Closing the window now hides it in the tray: Settings says so.
    assert.ok((await closeHint()).startsWith(TO_TRAY));
    // A right click on the icon pops its menu, which the host renders from
    // the app's dbusmenu; what is picked there comes back to the app by the
    // item's id.
    await hideAndShowFromTray(
      () => xdo("mousemove", String(bar.x + 15), String(bar.y + Math.round(bar.h / 2)), "click", "3"),
      barLine,
    );
    // The watcher goes (the session's panel quit): Settings follows.
    host.kill();
    watcher.kill();
    await s.waitFor("the watcher's end seen by Settings", async () => (await closeHint()).startsWith(NO_TRAY), 10_000);
    await (await s.find("#nav-dialpad")).click();
  } finally {
    host?.kill();
    watcher.kill();
  }
});

/**
 * parley-peers: Kamailio plus baresip users, and a line protocol to drive
 * them (`bob dial sip:...` -> `reply bob {...}`).
 */
async function startPeers(...users) {
  const proc = spawn(path.join(targetDir, "debug/parley-peers"), ["kamailio", ...users.flatMap((u) => ["--baresip", u])], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = [];
  const waiters = [];
  let buf = "";
  proc.stdout.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      for (const w of [...waiters]) w();
    }
  });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  /** The next line (from `from` on) matching `re`. */
  const line = (re, from = 0, timeout = 30_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.slice(from).find((l) => re.test(l));
        if (hit) {
          waiters.splice(waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`parley-peers: no line matching ${re} (got: ${lines.join(" | ")})`));
      }, timeout);
      waiters.push(check);
      exited.then((code) => reject(new Error(`parley-peers exited (${code})`)));
      check();
    });
  await line(/^ready$/, 0, 60_000);
  const port = Number((await line(/^kamailio \d+$/)).split(" ")[1]);
  return {
    port,
    /** Sends a ctrl_tcp command to `user`'s baresip and returns its reply line. */
    async send(user, command) {
      const from = lines.length;
      proc.stdin.write(`${user} ${command}\n`);
      const reply = await line(new RegExp(`^(reply|error) ${user} `), from);
      assert.match(reply, /^reply .*"ok":true/, `baresip ${user} ${command}`);
      return reply;
    },
    async stop() {
      proc.stdin.end(); // parley-peers stops its peers when its stdin closes
      await exited;
    },
  };
}

const callState = async () => (await s.find('[data-testid="call-state"]')).text();

describe("with Kamailio and baresip (bob, auto-answer)", () => {
  let peers;
  before(async () => {
    peers = await startPeers("bob");
  });
  after(async () => {
    await peers?.stop();
  });

  test("an account added in the window registers with a real Kamailio", async () => {
    await (await s.find("#nav-settings")).click();
    await (await s.find("button.primary")).click(); // Add account
    await (await s.find('input[name="name"]')).type("Office");
    await (await s.find('input[name="uri"]')).type("sip:alice@127.0.0.1");
    await (await s.find('input[name="password"]')).type("alice123");
    await (await s.find('input[name="proxy"]')).type(`sip:127.0.0.1:${peers.port}`);
    await (await s.find('button[type="submit"]')).click();

    const account = await s.find('[data-testid="status-account"]');
    await s.waitFor("status bar shows the account", async () => (await account.text()) === "Office");
    const state = await s.find('[data-testid="status-state"]');
    await s.waitFor("registered", async () => (await state.text()) === "Registered", 15_000);
    await shot("registered");

    // Disabled in its row: unregistered at Kamailio; enabled again and
    // re-registered by hand, back to Registered.
    const rowState = () =>
      s.execute(`return [...document.querySelectorAll('[data-testid="accounts"] li')].find((li) => li.querySelector('[aria-label="Edit account Office"]'))?.querySelector('.acct-state')?.textContent ?? null;`);
    await (await s.find('input[aria-label="Account Office enabled"]')).click();
    await s.waitFor("disabled", async () => (await rowState()) === "Disabled", 10_000);
    await (await s.find('input[aria-label="Account Office enabled"]')).click();
    await s.waitFor("registered again", async () => (await rowState()) === "Registered", 15_000);
    await (await s.find('button[aria-label="Register account Office again"]')).click();
    await s.waitFor("re-registered", async () => (await rowState()) === "Registered", 15_000);
  });

  test("a call to baresip from the dialpad connects, holds, resumes and hangs up", async () => {
    await (await s.find("#nav-dialpad")).click();
    const input = await s.find(".dial-input");
    await input.clear();
    await input.type("bob");
    const target = await s.find('[data-testid="dial-target"]');
    await s.waitFor("dial target", async () => (await target.text()) === "sip:bob@127.0.0.1");
    await (await s.find('[data-testid="call-button"]')).click();

    await s.waitFor("connected", async () => (await callState()) === "Connected", 20_000);
    assert.equal(await (await s.find('[data-testid="call-peer"]')).text(), "bob");
    const timer = await s.find('[data-testid="call-timer"]');
    await s.waitFor("timer runs", async () => (await timer.text()) !== "0:00", 5_000);
    await shot("call-connected");

    await (await s.find('[data-testid="call-hold"]')).click();
    await s.waitFor("on hold", async () => (await callState()) === "On hold", 10_000);
    const hold = await s.find('[data-testid="call-hold"]');
    assert.equal(await hold.text(), "Resume");
    assert.equal(await hold.attribute("aria-pressed"), "true");
    await shot("call-on-hold");
    await hold.click(); // Resume
    await s.waitFor("resumed", async () => (await callState()) === "Connected", 10_000);

    await (await s.find('[data-testid="call-hangup"]')).click();
    const end = await s.find('[data-testid="call-end"]');
    await s.waitFor("ended by us", async () => (await end.text()) === "You hung up", 10_000);
    await shot("call-ended");
    await (await s.find(".call-panel button.secondary")).click(); // Close
    await s.waitFor("call pane gone", async () => (await s.findAll('[data-testid="calls"]')).length === 0);
    // The dialpad now offers to call bob again.
    assert.equal(await (await s.find('[data-testid="redial"]')).text(), "Redial bob");
  });

  test("the SIP trace shows the call's INVITE/200/ACK/BYE ladder and a raw message, masked, and exports it", async () => {
    await (await s.find("#nav-trace")).click();
    await s.waitFor("SIP trace heading", async () => (await heading()) === "SIP trace");
    const dialogs = () =>
      s.execute(`return [...document.querySelectorAll('[data-testid="trace-dialog"]')].map((d) => d.dataset.method);`);
    await s.waitFor("the call and the registration listed", async () => {
      const methods = await dialogs();
      return methods.includes("INVITE") && methods.includes("REGISTER");
    });
    await (await s.find('[data-testid="trace-dialog"][data-method="INVITE"]')).click();
    await s.find('[data-testid="trace-ladder"]');
    const labels = await s.execute(
      `return [...document.querySelectorAll('[data-testid="trace-arrow"]')].map((a) => a.dataset.label);`,
    );
    // In order (Kamailio may challenge the INVITE; hold and resume add re-INVITEs).
    let at = 0;
    for (const want of ["INVITE", "200 OK", "ACK", "BYE", "200 OK"]) {
      const i = labels.indexOf(want, at);
      assert.ok(i >= 0, `${want} after arrow ${at} in ${labels.join(", ")}`);
      at = i + 1;
    }
    const columns = await s.execute(`return document.querySelectorAll('[data-testid="trace-column"]').length;`);
    assert.ok(columns >= 2, "our UA and Kamailio");
    const first = await s.find('[data-testid="trace-arrow"][data-label="INVITE"]');
    assert.match(await first.attribute("aria-label"), /^Sent INVITE from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+ at /);
    await first.click();
    const raw = await s.find('[data-testid="trace-raw-text"]');
    assert.match(await raw.text(), /^INVITE sip:bob@127\.0\.0\.1/);
    const challenged = labels.findIndex((l) => /^407 /.test(l));
    if (challenged >= 0) {
      // The INVITE again, with credentials: kept, the response masked.
      const again = labels.indexOf("INVITE", challenged);
      await s.execute(`document.querySelectorAll('[data-testid="trace-arrow"]')[${again}].click();`);
      await s.waitFor("the authorised INVITE shown", async () => /Proxy-Authorization: Digest /.test(await (await s.find('[data-testid="trace-raw-text"]')).text()));
      assert.match(await (await s.find('[data-testid="trace-raw-text"]')).text(), /response="\*{8}"/);
    }
    await s.execute(`document.querySelector('[data-testid="trace-raw"]').scrollIntoView({ block: "end" });`);
    await shot("sip-trace");
    // No secret anywhere in the view: each raw message, one after another.
    const texts = await s.execute(`return document.querySelectorAll('[data-testid="trace-arrow"]').length;`);
    for (let i = 0; i < texts; i++) {
      await s.execute(`document.querySelectorAll('[data-testid="trace-arrow"]')[${i}].click();`);
      const text = await s.execute(`return document.querySelector('[data-testid="trace-raw-text"]').textContent;`);
      assert.ok(!text.includes("alice123"), "no password in a raw message");
      assert.ok(!/response="(?!\*{8}")/.test(text), `an unmasked digest response: ${text}`);
    }
    await (await s.find('[data-testid="trace-export"]')).click();
    const saved = await s.find('[data-testid="trace-exported"]');
    const shown = (await saved.text()).replace(/^Saved to /, "");
    assert.equal(path.dirname(shown), path.join(home, "exports"));
    const exported = fs.readFileSync(shown, "utf8");
    assert.match(exported, /^==== INVITE sip:bob@127\.0\.0\.1/);
    assert.match(exported, /---- \S+ \S+ UTC sent 127\.0\.0\.1:\d+ --> 127\.0\.0\.1:\d+ BYE \(UDP\) ----\nBYE sip:/);
    assert.ok(!exported.includes("alice123"));
  });

  test("a call from baresip rings in a focused panel and is answered", async () => {
    await peers.send("bob", "dial sip:alice@127.0.0.1");
    const panel = await s.find('[data-testid="incoming-call"]', { timeout: 15_000 });
    assert.equal(await (await s.find('[data-testid="incoming-peer"]')).text(), "bob");
    await s.waitFor("Answer has focus", async () => (await s.execute("return document.activeElement.textContent.trim();")) === "Answer");
    assert.equal(await panel.attribute("role"), "alertdialog");
    await shot("incoming-call");

    // Enter on the focused Answer button answers.
    await s.cmd("POST", "/actions", {
      actions: [{ type: "key", id: "kb", actions: [{ type: "keyDown", value: "\uE007" }, { type: "keyUp", value: "\uE007" }] }],
    });
    await s.waitFor("connected", async () => (await callState()) === "Connected", 15_000);
    await s.waitFor("incoming panel gone", async () => (await s.findAll('[data-testid="incoming-call"]')).length === 0);

    await peers.send("bob", "hangup");
    const end = await s.find('[data-testid="call-end"]');
    await s.waitFor("ended by bob", async () => (await end.text()) === "The other side hung up", 10_000);
  });

  /** Closes the panels of ended calls so the screen shows. */
  async function closeEndedCalls() {
    // A test that failed mid-call leaves it live or ringing: end it, so
    // one failure does not fail every test after it.
    for (const b of await s.findAll('[data-testid="incoming-call"] button.decline')) await b.click().catch(() => {});
    for (const b of await s.findAll('[data-testid="call-hangup"]')) await b.click().catch(() => {});
    await s.waitFor("live calls ended", async () => (await s.findAll('[data-testid="call-hangup"], [data-testid="incoming-call"]')).length === 0);
    for (const close of await s.findAll(".call-panel button.secondary")) await close.click();
    await s.waitFor("call pane gone", async () => (await s.findAll('[data-testid="calls"]')).length === 0);
  }

  const historyRows = () =>
    s.execute(`return [...document.querySelectorAll('[data-testid="history-entry"]')].map((r) => ({
      outcome: r.dataset.outcome,
      peer: r.querySelector('[data-testid="history-peer"]').textContent,
      text: r.querySelector('[data-testid="history-outcome"]').textContent,
    }));`);

  test("calls land in History; a missed call shows the badge until History is opened", async () => {
    await closeEndedCalls();
    await (await s.find("#nav-contacts")).click();
    // bob calls and gives up before anyone answers: a missed call.
    await peers.send("bob", "dial sip:alice@127.0.0.1");
    await s.find('[data-testid="incoming-call"]', { timeout: 15_000 });
    await peers.send("bob", "hangup");
    const badge = await s.find('[data-testid="missed-badge"]', { timeout: 10_000 });
    assert.equal(await badge.text(), "1");
    await closeEndedCalls();

    await (await s.find("#nav-history")).click();
    await s.waitFor("History heading", async () => (await heading()) === "History");
    await s.waitFor("badge cleared", async () => (await s.findAll('[data-testid="missed-badge"]')).length === 0, 10_000);
    let rows = [];
    await s.waitFor("three calls listed", async () => (rows = await historyRows()).length === 3, 10_000);
    // Newest first: the missed call, the answered call from bob, our call to bob.
    assert.deepEqual(rows.map((r) => r.outcome), ["missed", "answered", "answered"]);
    assert.equal(rows[0].text, "Missed");
    for (const r of rows) assert.match(r.peer, /bob/i);
    assert.match(rows[2].text, /^\d+:\d\d$/, "an answered call shows its duration");
    await shot("history");

    await (await s.find('[data-testid="history-filter-missed"]')).click();
    await s.waitFor("missed only", async () => (rows = await historyRows()).length === 1, 10_000);
    assert.equal(rows[0].outcome, "missed");
    await (await s.find('[data-testid="history-filter-all"]')).click();
    await s.waitFor("all again", async () => (await historyRows()).length === 3, 10_000);
  });

  test("in the background, a call from baresip shows a desktop notification (dunst) whose Answer answers", async () => {
    await closeEndedCalls();
    dunstctl("close-all");
    // Another window takes the X input focus, so Parley is in the background
    // (it notifies only then; there is no window manager under Xvfb).
    const other = spawn("xlogo", [], { stdio: "ignore" });
    try {
      const xlogo = execFileSync("xdotool", ["search", "--sync", "--name", "^xlogo$"], { encoding: "utf8" }).trim().split("\n")[0];
      execFileSync("xdotool", ["windowfocus", "--sync", xlogo]);
      // The X server moved the focus; wait until the window has taken
      // the focus-out in (Parley notifies only while unfocused).
      await s.waitFor("Parley in the background", async () => (await s.execute("return document.hasFocus()")) === false, 5_000);

      await peers.send("bob", "dial sip:alice@127.0.0.1");
      await s.find('[data-testid="incoming-call"]', { timeout: 15_000 });
      await s.waitFor("the notification shown", async () => dunstctl("count", "displayed") === "1", 10_000);
      // Answer from the notification: dunst's menu picks it and dunst sends
      // ActionInvoked to Parley.
      const menu = path.join(notifications.dir, "offered.txt");
      fs.rmSync(menu, { force: true });
      dunstctl("context"); // dunst runs the menu on its own time
      let offered = "";
      await s.waitFor("dunst's menu offered the actions", async () => {
        offered = fs.existsSync(menu) ? fs.readFileSync(menu, "utf8") : "";
        return offered.includes("#Decline") && offered.includes("#Answer");
      });
      assert.match(offered, /^#Answer \(Incoming call\) \[\d+,answer\]$/m);
      assert.match(offered, /^#Decline \(Incoming call\) \[\d+,decline\]$/m);
      await s.waitFor("connected", async () => (await callState()) === "Connected", 15_000);
      // Answered: Parley takes its notification back.
      await s.waitFor("the notification closed", async () => dunstctl("count", "displayed") === "0", 10_000);

      await peers.send("bob", "hangup");
      const end = await s.find('[data-testid="call-end"]');
      await s.waitFor("ended by bob", async () => (await end.text()) === "The other side hung up", 10_000);
    } finally {
      other.kill();
    }
    await closeEndedCalls();
  });

  test("a sip: link opened while the app runs starts the call in the running window", async () => {
    await (await s.find("#nav-contacts")).click();
    // The OS runs `parley URI`: the same binary, profile and session bus.
    const second = spawn(app, ["sip:bob@127.0.0.1"], {
      env: { ...process.env, PARLEY_CONFIG_DIR: path.join(home, "config"), PARLEY_DATA_DIR: path.join(home, "data") },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const code = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        second.kill("SIGKILL");
        reject(new Error("the second parley did not exit within 15 s"));
      }, 15_000);
      second.on("exit", (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    assert.equal(code, 0, "the second launch hands the link over and exits");

    await s.waitFor("connected to bob", async () => (await s.findAll('[data-testid="call-state"]')).length > 0 && (await callState()) === "Connected", 20_000);
    assert.equal(await (await s.find('[data-testid="call-peer"]')).text(), "bob");
    await (await s.find('[data-testid="call-hangup"]')).click();
    const end = await s.find('[data-testid="call-end"]');
    await s.waitFor("ended by us", async () => (await end.text()) === "You hung up", 10_000);
    await closeEndedCalls();
  });

  test("settings: checking for updates without a network ends in an error, not a spinner", async () => {
    await (await s.find("#nav-settings")).click();
    await (await s.find('[data-testid="update-check"]')).click();
    const status = await s.find('[data-testid="update-status"]');
    await s.waitFor("update check failed", async () => (await status.text()).startsWith("Cannot check for updates: "), 30_000);
    const button = await s.find('[data-testid="update-check"]');
    assert.equal(await button.text(), "Check for updates");
  });

  test("sound settings saved in the window reach the config and the next call's codec", async () => {
    await (await s.find("#nav-settings")).click();
    await s.find('[data-testid="codec-list"]', { timeout: 20_000 });
    const checked = (c) => s.execute(`return document.querySelector('[data-testid="codec-${c}"]').checked;`);
    const save = async () => {
      await (await s.find('[data-testid="audio-save"]')).click();
      const status = await s.find('[data-testid="audio-status"]');
      await s.waitFor("saved", async () => (await status.text()) === "Saved. New calls use these settings.", 10_000);
    };
    // PCMU only.
    for (const c of ["opus", "g722", "pcma"]) if (await checked(c)) await (await s.find(`[data-testid="codec-${c}"]`)).click();
    assert.equal(await checked("pcmu"), true);
    await save();
    await shot("settings-audio");
    const config = fs.readFileSync(path.join(home, "config", "config.toml"), "utf8");
    assert.match(config, /\[media\][^[]*codecs = \["pcmu"\]/s, config);

    await (await s.find("#nav-dialpad")).click();
    const input = await s.find(".dial-input");
    await input.clear();
    await input.type("bob");
    await (await s.find('[data-testid="call-button"]')).click();
    await s.waitFor("connected", async () => (await callState()) === "Connected", 20_000);
    const codec = async () => {
      const plain = await s.findAll('[data-testid="call-codec"]');
      if (plain.length) return plain[0].text();
      const q = await s.findAll('[data-testid="call-quality"]');
      return q.length ? q[0].attribute("title") : "";
    };
    await s.waitFor("codec shown", async () => (await codec()).includes("/"), 10_000);
    assert.match(await codec(), /pcmu\/8000/);
    await (await s.find('[data-testid="call-hangup"]')).click();
    const end = await s.find('[data-testid="call-end"]');
    await s.waitFor("ended by us", async () => (await end.text()) === "You hung up", 10_000);
    await closeEndedCalls();

    // Every codec again, for the tests that follow.
    await (await s.find("#nav-settings")).click();
    await s.find('[data-testid="codec-list"]', { timeout: 20_000 });
    for (const c of ["opus", "g722", "pcma"]) if (!(await checked(c))) await (await s.find(`[data-testid="codec-${c}"]`)).click();
    await save();
  });

  test("bob added as a contact shows his presence, and its changes", async () => {
    // Close the ended call's panel so the screenshots show the screen.
    for (const close of await s.findAll(".call-panel button.secondary")) await close.click();
    await s.waitFor("call pane gone", async () => (await s.findAll('[data-testid="calls"]')).length === 0);
    await (await s.find("#nav-contacts")).click();
    await (await s.find("button.primary")).click(); // Add contact
    await (await s.find('[data-testid="contact-form"] input[name="name"]')).type("Bob");
    await (await s.find('[data-testid="contact-form"] input[name="sip"]')).type("sip:bob@127.0.0.1");
    await (await s.find('[data-testid="contact-form"] button[type="submit"]')).click();
    const sel = '[data-contact="Bob"] [data-testid="contact-presence"]';
    await s.find(sel, { timeout: 10_000 });
    // Found afresh each time: the row re-renders as states arrive.
    const presence = { text: async () => (await s.find(sel)).text() };
    // baresip publishes "online" once registered.
    let shown = "";
    await s
      .waitFor("bob available", async () => (shown = await presence.text()).startsWith("Available"), 15_000)
      .catch((e) => assert.fail(`${e.message}; the contact shows "${shown}"`));
    await shot("contacts-presence");
    await peers.send("bob", "presence_offline");
    await s.waitFor("bob offline", async () => (await presence.text()).startsWith("Offline"), 10_000);
    await peers.send("bob", "presence_online");
    await s.waitFor("bob back", async () => (await presence.text()).startsWith("Available"), 10_000);
  });

  test("chat with bob both ways, with delivery state", async () => {
    await (await s.find('button[aria-label="Message Bob"]')).click();
    await s.waitFor("chats open", async () => (await heading()) === "Chats");
    const composer = await s.find('[data-testid="composer"]');
    await composer.type("hello bob from parley\uE007"); // Enter sends
    const state = await s.find('[data-testid="message-state"]', { timeout: 10_000 });
    await s.waitFor("sent", async () => (await state.text()) === "Sent", 15_000);

    // baresip's current contact is alice (the first of its list).
    await peers.send("bob", "message hi alice from baresip");
    await s.waitFor("bob's message shown", async () => {
      const texts = await Promise.all((await s.findAll('[data-testid="message"] .msg-text')).map((m) => m.text()));
      return texts.includes("hi alice from baresip");
    }, 15_000);
    const texts = await Promise.all((await s.findAll('[data-testid="message"] .msg-text')).map((m) => m.text()));
    assert.deepEqual(texts, ["hello bob from parley", "hi alice from baresip"]);
    // Read on screen: no unread badge on the open conversation.
    assert.equal((await s.findAll('[data-testid="unread"]')).length, 0);
    await shot("chat");
  });

  test("in Russian: the main screens read Russian, then English again", async () => {
    const pick = async (lang) => {
      await (await s.find("#nav-settings")).click();
      await (await s.find(`[data-testid="language"] option[value="${lang}"]`)).click();
    };
    await pick("ru");
    await s.waitFor("Settings in Russian", async () => (await heading()) === "Настройки");
    const navTexts = () => s.execute(`return [...document.querySelectorAll('nav [role="tab"]')].map((t) => { const c = t.cloneNode(true); c.querySelector('.badge')?.remove(); return c.textContent.trim(); });`);
    assert.deepEqual(await navTexts(), ["Контакты", "Набор номера", "Чаты", "История", "Настройки", "SIP-трассировка"]);
    assert.equal(await s.execute("return document.documentElement.lang;"), "ru");
    assert.equal(await (await s.find('[data-testid="status-state"]')).text(), "Зарегистрирована");
    await shot("settings-ru");

    await (await s.find("#nav-contacts")).click();
    await s.waitFor("Contacts in Russian", async () => (await heading()) === "Контакты");
    await s.waitFor("bob's presence in Russian", async () => (await (await s.find('[data-contact="Bob"] [data-testid="contact-presence"]')).text()).startsWith("На месте"));
    await shot("contacts-presence-ru");

    await (await s.find('button[aria-label="Написать Bob"]')).click();
    await s.waitFor("Chats in Russian", async () => (await heading()) === "Чаты");
    const state = await s.find('[data-testid="message-state"]');
    assert.equal(await state.text(), "Отправлено");
    await shot("chat-ru");

    await (await s.find("#nav-history")).click();
    await s.waitFor("History in Russian", async () => (await heading()) === "История");
    await s.waitFor("history listed", async () => (await historyRows()).length > 0, 10_000);
    assert.equal((await historyRows()).find((r) => r.outcome === "missed")?.text, "Пропущен");
    await shot("history-ru");

    await (await s.find("#nav-dialpad")).click();
    await s.waitFor("Dialpad in Russian", async () => (await heading()) === "Набор номера");
    const input = await s.find(".dial-input");
    await input.clear();
    await input.type("bob");
    await shot("dialpad-ru");
    await (await s.find('[data-testid="call-button"]')).click();
    await s.waitFor("connected, in Russian", async () => (await s.findAll('[data-testid="call-state"]')).length > 0 && (await callState()) === "Соединено", 20_000);
    assert.equal(await (await s.find('[data-testid="call-hangup"]')).text(), "Отбой");
    const timer = await s.find('[data-testid="call-timer"]');
    await s.waitFor("timer runs", async () => (await timer.text()) !== "0:00", 5_000);
    await shot("call-connected-ru");
    await (await s.find('[data-testid="call-hangup"]')).click();
    const end = await s.find('[data-testid="call-end"]');
    await s.waitFor("ended by us, in Russian", async () => (await end.text()) === "Вы положили трубку", 10_000);
    await closeEndedCalls();

    // The SIP trace in Russian: its heading, and the call's ladder.
    await (await s.find("#nav-trace")).click();
    await s.waitFor("SIP trace in Russian", async () => (await heading()) === "SIP-трассировка");
    await (await s.find('[data-testid="trace-dialog"][data-method="INVITE"]')).click();
    await s.find('[data-testid="trace-ladder"]');
    await shot("sip-trace-ru");

    await pick("en");
    await s.waitFor("Settings in English", async () => (await heading()) === "Settings");
    assert.deepEqual(await navTexts(), ["Contacts", "Dialpad", "Chats", "History", "Settings", "SIP trace"]);
    assert.equal(await s.execute("return document.documentElement.lang;"), "en");
  });

  test("removing the account brings the local account back", async () => {
    await (await s.find("#nav-settings")).click();
    await (await s.find('button[aria-label="Remove account Office"]')).click();
    const account = await s.find('[data-testid="status-account"]');
    await s.waitFor("local account back", async () => (await account.text()) === "Local");
  });
});
