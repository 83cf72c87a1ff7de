// A minimal W3C WebDriver client (fetch + JSON), enough to drive the real
// Parley window through tauri-driver. Kept tiny on purpose: no browser
// downloads, no framework, every call visible.
import { execFileSync, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import net from "node:net";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class WebDriverError extends Error {}

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async create(base, capabilities) {
    const r = await request(base, "POST", "/session", { capabilities: { alwaysMatch: capabilities } });
    return new Session(base, r.sessionId);
  }

  cmd(method, path, body) {
    return request(this.base, method, `/session/${this.id}${path}`, body);
  }

  async find(css, { timeout = 10_000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        const el = await this.cmd("POST", "/element", { using: "css selector", value: css });
        return new Element(this, elementId(el));
      } catch (e) {
        if (Date.now() > deadline) throw new WebDriverError(`no element ${css}: ${e.message}`);
        await sleep(100);
      }
    }
  }

  async findAll(css) {
    const els = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return els.map((e) => new Element(this, elementId(e)));
  }

  /** Polls `fn` until it returns a truthy value. */
  async waitFor(what, fn, timeout = 10_000) {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await fn();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) throw new WebDriverError(`timed out waiting for ${what} (last: ${last})`);
      await sleep(100);
    }
  }

  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  close() {
    return this.cmd("DELETE", "");
  }
}

export class Element {
  constructor(session, id) {
    this.s = session;
    this.id = id;
  }
  click() {
    return this.s.cmd("POST", `/element/${this.id}/click`, {});
  }
  text() {
    return this.s.cmd("GET", `/element/${this.id}/text`);
  }
  attribute(name) {
    return this.s.cmd("GET", `/element/${this.id}/attribute/${name}`);
  }
  type(text) {
    return this.s.cmd("POST", `/element/${this.id}/value`, { text });
  }
  clear() {
    return this.s.cmd("POST", `/element/${this.id}/clear`, {});
  }
}

async function request(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || json?.value?.error) {
    const v = json?.value ?? {};
    throw new WebDriverError(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ""}`.trim());
  }
  return json.value;
}

/**
 * The app's top-level X window as PNG, as the X server shows it. Not
 * WebDriver's screenshot: that waits for a composited frame, and the app
 * draws without GPU compositing by default (Settings > Desktop), so the
 * command would never return.
 */
export function windowPng() {
  const xwd = execFileSync("xwd", ["-name", "Parley", "-silent"], { maxBuffer: 64 << 20 });
  return execFileSync("convert", ["xwd:-", "png:-"], { input: xwd, maxBuffer: 64 << 20 });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitPort(port, timeout) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => (s.end(), resolve(true)));
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new WebDriverError(`nothing listens on ${port}`);
    await sleep(100);
  }
}

/**
 * Starts tauri-driver (which starts WebKitWebDriver) on free ports and
 * returns { base, stop }. `env` is passed on to the app it launches.
 */
export async function startDriver(env) {
  const port = await freePort();
  const nativePort = await freePort();
  const proc = spawn("tauri-driver", ["--port", String(port), "--native-port", String(nativePort)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  await Promise.race([
    waitPort(port, 15_000),
    exited.then((code) => {
      throw new WebDriverError(`tauri-driver exited early (${code})`);
    }),
  ]);
  return {
    base: `http://127.0.0.1:${port}`,
    stop: async () => {
      proc.kill("SIGTERM");
      await Promise.race([exited, sleep(3000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}

function elementId(ref) {
  const id = ref?.[ELEMENT] ?? ref?.ELEMENT;
  if (!id) throw new WebDriverError(`not an element reference: ${JSON.stringify(ref)}`);
  return id;
}
