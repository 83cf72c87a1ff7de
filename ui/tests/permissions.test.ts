// Every command ipc.ts invokes must be registered in src-tauri/build.rs and
// granted to the main window in capabilities/default.json; Tauri refuses
// the others at run time ("<cmd> not allowed"), which mocked IPC hides.
import { describe, expect, it } from "vitest";
import ipcSource from "../src/lib/ipc.ts?raw";
import buildRs from "../../src-tauri/build.rs?raw";
import capabilities from "../../src-tauri/capabilities/default.json?raw";

describe("IPC permissions", () => {
  const used = [...ipcSource.matchAll(/call(?:<[^>]*>)?\("([a-z_]+)"/g)].map((m) => m[1]);
  const built = [...buildRs.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
  const granted: string[] = JSON.parse(capabilities).permissions;

  it("finds the commands ipc.ts uses", () => {
    expect(used).toContain("engine_status");
    expect(used).toContain("call_dial");
  });

  it("registers and grants each of them", () => {
    for (const cmd of used) {
      expect(built, `build.rs COMMANDS lacks ${cmd}`).toContain(cmd);
      expect(granted, `capabilities lack allow-${cmd}`).toContain(`allow-${cmd.replace(/_/g, "-")}`);
    }
  });
});
