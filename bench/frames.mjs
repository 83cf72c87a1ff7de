// Frame-time benchmark driver (issue #8), started by bench/frames.sh in its
// Xvfb + D-Bus session: for each `label=app:home` argument it starts that
// Parley binary through tauri-driver/WebKitWebDriver (the e2e helpers),
// waits for the contact list and the published presence, then measures in
// the page with requestAnimationFrame timestamps (and long tasks where the
// WebKit reports them):
//
//   idle    nothing happens: the window's own frame pacing (the baseline)
//   scroll  the list's scroller moves SCROLL_STEP px per frame to the end
//           and back (one step per frame, so a slow build takes longer but
//           is measured over the same frames)
//   search  queries typed one character per TYPE_MS ms and deleted again,
//           each as an input event on the search box
//
// Prints p50/p95/p99/max frame time, the share of frames over 16.7 ms and
// 50 ms, and per keystroke the time until the frame after the update was
// painted; writes everything as JSON to $OUT/frames.json.
import fs from "node:fs";
import path from "node:path";
import { Session, startDriver, windowPng } from "../tests/e2e/webdriver.mjs";

const N = Number(process.env.CONTACTS ?? 2000);
const OUT = process.env.OUT ?? "/tmp/parley-frames";
const SCROLL_STEP = Number(process.env.SCROLL_STEP ?? 250);
const TYPE_MS = Number(process.env.TYPE_MS ?? 60);
const IDLE_MS = Number(process.env.IDLE_MS ?? 5000);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 15000);
const QUERIES = (process.env.QUERIES ?? "contact 1500|contact0042|zz|0199|contact 2").split("|");
// Which published states to wait for before measuring (bench/frames.sh publishes them).
const EXPECT = JSON.parse(process.env.EXPECT_PRESENCE ?? "{}");

// Runs in the page (execute/async): one scenario, frame intervals out.
const MEASURE = `
const [kind, opts, done] = arguments;
const frames = [];
const keys = [];
let last = null;
let running = true;
let longtasks = null;
let po = null;
if (typeof PerformanceObserver !== "undefined" && (PerformanceObserver.supportedEntryTypes || []).includes("longtask")) {
  longtasks = [];
  po = new PerformanceObserver((l) => { for (const e of l.getEntries()) longtasks.push(e.duration); });
  po.observe({ type: "longtask" });
}
let waiters = [];
function tick(t) {
  if (last !== null) frames.push(t - last);
  last = t;
  const w = waiters; waiters = [];
  for (const f of w) f(t);
  if (running) requestAnimationFrame(tick);
}
requestAnimationFrame(tick);
const nextFrame = () => new Promise((r) => waiters.push(r));
const main = document.querySelector("main");
const finish = () => {
  running = false;
  if (po) po.disconnect();
  done({ frames, keys, longtasks, nodes: document.getElementsByTagName("*").length, rows: document.querySelectorAll('[data-testid="contact"]').length });
};
(async () => {
  await nextFrame();
  if (kind === "idle") {
    setTimeout(finish, opts.ms);
  } else if (kind === "scroll") {
    main.scrollTop = 0;
    await nextFrame();
    let dir = 1, guard = 0;
    for (;;) {
      const max = main.scrollHeight - main.clientHeight;
      if (dir > 0) {
        main.scrollTop = Math.min(max, main.scrollTop + opts.step);
        if (main.scrollTop >= max - 1) dir = -1;
      } else {
        main.scrollTop = Math.max(0, main.scrollTop - opts.step);
        if (main.scrollTop <= 0) break;
      }
      await nextFrame();
      if (++guard > opts.maxFrames) break;
    }
    finish();
  } else if (kind === "search") {
    main.scrollTop = 0;
    const input = document.querySelector('input[type="search"]');
    const seq = [];
    for (const q of opts.queries) {
      for (let i = 1; i <= q.length; i++) seq.push(q.slice(0, i));
      for (let i = q.length - 1; i >= 0; i--) seq.push(q.slice(0, i));
    }
    for (const v of seq) {
      const t0 = performance.now();
      input.value = v;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      // The update lands in the next frame; it is on screen once the frame after that starts.
      await nextFrame();
      const t2 = await nextFrame();
      keys.push(t2 - t0);
      await new Promise((r) => setTimeout(r, opts.typeMs));
    }
    finish();
  }
})();
`;

function stats(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return {
    n: s.length,
    p50: q(0.5),
    p95: q(0.95),
    p99: q(0.99),
    max: s[s.length - 1],
    over16: xs.filter((x) => x > 16.7).length / xs.length,
    over50: xs.filter((x) => x > 50).length / xs.length,
  };
}

async function run(label, app, home) {
  const env = {
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, ".config"),
    XDG_DATA_HOME: path.join(home, ".local/share"),
    XDG_CACHE_HOME: path.join(home, ".cache"),
    PARLEY_CONFIG_DIR: path.join(home, ".config/parley"),
    PARLEY_DATA_DIR: path.join(home, ".local/share/parley"),
  };
  const driver = await startDriver(env);
  let s;
  try {
    s = await Session.create(driver.base, { "tauri:options": { application: app } });
    await s.cmd("POST", "/timeouts", { script: 600_000 });
    const t0 = Date.now();
    // The whole list known to the page: aria-setsize on the virtualised
    // list, the number of rows on a build that renders them all.
    await s.waitFor(
      `${N} contacts listed`,
      async () =>
        (await s.execute(
          `const r = document.querySelector('[data-testid="contact"]');
           return r ? Number(r.getAttribute("aria-setsize")) || document.querySelectorAll('[data-testid="contact"]').length : 0;`,
        )) === N,
      300_000,
    );
    const shownPresence = () =>
      s.execute(
        `return [...document.querySelectorAll('[data-testid="contact"]')].slice(0, 8).map((r) => r.dataset.contact + ": " + (r.querySelector('[data-testid="contact-presence"]')?.textContent ?? "-"));`,
      );
    for (const [name, text] of Object.entries(EXPECT)) {
      await s
        .waitFor(
        `${name} shown as ${text}`,
        async () =>
          (
            await s.execute(
              `const p = document.querySelector('[data-contact="' + arguments[0] + '"] [data-testid="contact-presence"]');
               return p ? p.textContent : "";`,
              [name],
            )
          ).startsWith(text),
        300_000,
      )
        .catch(async (e) => {
          fs.mkdirSync(OUT, { recursive: true });
          fs.writeFileSync(path.join(OUT, `${label}-timeout.png`), windowPng());
          throw new Error(`${e.message}; first rows: ${(await shownPresence()).join(" | ")}`);
        });
    }
    console.error(`${label}: list and presence up after ${((Date.now() - t0) / 1000).toFixed(1)} s, settling ${SETTLE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const measure = (kind, opts) => s.cmd("POST", "/execute/async", { script: MEASURE, args: [kind, opts] });
    const idle = await measure("idle", { ms: IDLE_MS });
    const scroll = await measure("scroll", { step: SCROLL_STEP, maxFrames: 20_000 });
    const search = await measure("search", { queries: QUERIES, typeMs: TYPE_MS });
    const unknown = await s.execute(
      `return [...document.querySelectorAll('[data-testid="contact-presence"]')].filter((p) => p.textContent.startsWith("Unknown")).length;`,
    );
    return { label, app, idle, scroll, search, unknownShown: unknown };
  } finally {
    await s?.close().catch(() => {});
    await driver.stop();
  }
}

const runs = [];
for (const arg of process.argv.slice(2)) {
  const m = arg.match(/^([^=]+)=([^:]+):(.+)$/);
  if (!m) throw new Error(`argument ${arg}: want label=app:home`);
  runs.push(await run(m[1], m[2], m[3]));
}
fs.mkdirSync(OUT, { recursive: true });
fs.writeFileSync(path.join(OUT, "frames.json"), JSON.stringify(runs));

const f = (x) => (x === undefined || x === null ? "-" : x.toFixed(1));
const pct = (x) => `${(x * 100).toFixed(1)}%`;
console.log(`${N} contacts with presence; scroll ${SCROLL_STEP} px/frame down and up; search: ${QUERIES.map((q) => JSON.stringify(q)).join(" ")} typed and deleted, a key per ${TYPE_MS} ms`);
console.log(
  `${"build".padEnd(10)} ${"phase".padEnd(7)} ${"frames".padStart(6)} ${"p50".padStart(6)} ${"p95".padStart(6)} ${"p99".padStart(6)} ${"max".padStart(7)} ${">16.7".padStart(6)} ${">50".padStart(6)} | ${"DOM".padStart(6)} ${"rows".padStart(5)} | key→paint p50 p95 max`,
);
console.log("-".repeat(118));
for (const r of runs) {
  for (const phase of ["idle", "scroll", "search"]) {
    const m = r[phase];
    const st = stats(m.frames);
    const ks = stats(m.keys);
    const keyCol = ks ? `${f(ks.p50).padStart(13)} ${f(ks.p95).padStart(5)} ${f(ks.max).padStart(5)}` : "";
    console.log(
      `${r.label.padEnd(10)} ${phase.padEnd(7)} ${String(st.n).padStart(6)} ${f(st.p50).padStart(6)} ${f(st.p95).padStart(6)} ${f(st.p99).padStart(6)} ${f(st.max).padStart(7)} ${pct(st.over16).padStart(6)} ${pct(st.over50).padStart(6)} | ${String(m.nodes).padStart(6)} ${String(m.rows).padStart(5)} |${keyCol}`,
    );
  }
  const lt = r.scroll.longtasks;
  console.log(`${r.label.padEnd(10)} long tasks: ${lt === null ? "not reported by this WebKit" : `${lt.length} while scrolling, ${r.search.longtasks.length} while searching`}`);
}
if (runs.length > 1) {
  const [a, b] = runs;
  const p = (phase, k) => stats(a[phase].frames)[k] / stats(b[phase].frames)[k];
  console.log(`ratio ${a.label}/${b.label}: scroll p95 ${p("scroll", "p95").toFixed(2)}, p99 ${p("scroll", "p99").toFixed(2)}; search p95 ${p("search", "p95").toFixed(2)}, p99 ${p("search", "p99").toFixed(2)}`);
}
for (const r of runs) {
  const base = stats(r.idle.frames);
  const p = (phase) => stats(r[phase].frames).p95 / base.p95;
  console.log(`ratio ${r.label} to its idle window (p95): scroll ${p("scroll").toFixed(2)}, search ${p("search").toFixed(2)}`);
}
