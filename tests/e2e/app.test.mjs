// End-to-end tests in the real Parley window: tauri-driver + WebKitWebDriver
// drive the built app (scripts/e2e.sh runs this under Xvfb, inside
// dbus-run-session with an unlocked gnome-keyring).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Session, startDriver } from "./webdriver.mjs";

const root = path.resolve(import.meta.dirname, "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(root, "target");
const app = process.env.PARLEY_APP ?? path.join(targetDir, "debug/parley");
const shots = process.env.PARLEY_SCREENSHOT_DIR;
const workspaceVersion = fs.readFileSync(path.join(root, "Cargo.toml"), "utf8").match(/^version = "(.+)"/m)[1];

let driver;
let s;
let home;

before(async () => {
  assert.ok(fs.existsSync(app), `app binary ${app} missing: build it first`);
  home = fs.mkdtempSync(path.join(os.tmpdir(), "parley-e2e-"));
  driver = await startDriver({
    PARLEY_CONFIG_DIR: path.join(home, "config"),
    PARLEY_DATA_DIR: path.join(home, "data"),
  });
  s = await Session.create(driver.base, { "tauri:options": { application: app } });
});

after(async () => {
  await s?.close().catch(() => {});
  await driver?.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

async function shot(name) {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  // Let WebKit paint the last DOM change before capturing.
  await s.cmd("POST", "/execute/async", {
    script: "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done()));",
    args: [],
  });
  fs.writeFileSync(path.join(shots, `${name}.png`), await s.screenshot());
}

const heading = async () => (await s.find("main h1")).text();

test("the window shows the engine's account state from Rust", async () => {
  const state = await s.find('[data-testid="status-state"]');
  await s.waitFor("status text", async () => (await state.text()) === "Local: direct calls");
  assert.equal(await (await s.find('[data-testid="status-account"]')).text(), "Local");
  assert.equal(await heading(), "Contacts");
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

  await (await s.find('button[aria-label="Remove account Work"]')).click();
  await s.waitFor("local account back", async () => (await state.text()) === "Local");
  assert.throws(() => execFileSync("secret-tool", ["lookup", "service", "org.parley.Parley", "username", "Work"], { stdio: "pipe" }));
});

test("an account added in the window registers with a real Kamailio", async () => {
  const peers = spawn(path.join(targetDir, "debug/parley-peers"), ["kamailio"], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const port = await new Promise((resolve, reject) => {
      let out = "";
      peers.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/kamailio (\d+)/);
        if (m) resolve(Number(m[1]));
      });
      peers.on("exit", (code) => reject(new Error(`parley-peers exited (${code})`)));
    });
    await (await s.find("#nav-settings")).click();
    await (await s.find("button.primary")).click(); // Add account
    await (await s.find('input[name="name"]')).type("Office");
    await (await s.find('input[name="uri"]')).type("sip:alice@127.0.0.1");
    await (await s.find('input[name="password"]')).type("alice123");
    await (await s.find('input[name="proxy"]')).type(`sip:127.0.0.1:${port}`);
    await (await s.find('button[type="submit"]')).click();

    const account = await s.find('[data-testid="status-account"]');
    await s.waitFor("status bar shows the account", async () => (await account.text()) === "Office");
    const state = await s.find('[data-testid="status-state"]');
    await s.waitFor("registered", async () => (await state.text()) === "Registered", 15_000);
    await shot("registered");

    await (await s.find('button[aria-label="Remove account Office"]')).click();
    await s.waitFor("local account back", async () => (await account.text()) === "Local");
  } finally {
    peers.stdin.end(); // parley-peers stops Kamailio when its stdin closes
    await new Promise((resolve) => (peers.exitCode !== null ? resolve() : peers.on("exit", resolve)));
  }
});
