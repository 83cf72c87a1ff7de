// The app rendered in Russian: the Language select in Settings switches
// every screen at once without a reload, and back; the contacts screen,
// the status bar and the presence picker read Russian throughout.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import type { ContactEntry } from "../src/lib/bindings/ContactEntry";
import type { Event } from "../src/lib/bindings/Event";
import { info, ms } from "./fixtures";

let emit: (e: Event) => void = () => {};
const accounts = [
  { name: "Work", uri: "sip:alice@127.0.0.1", display_name: null, transport: "udp", local: false, registration: { state: "registered", expires_in_s: 600 } },
];
const bob: ContactEntry = {
  id: ms(1),
  contact: { name: "Bob", sip_uri: "sip:bob@127.0.0.1", phones: [], favourite: false, presence: true, blf: false },
};
vi.mock("../src/lib/ipc", () => ({
  engineStatus: vi.fn(async () => ({ version: "9.9.9", accounts })),
  onEngineEvent: vi.fn(async (h: (e: Event) => void) => {
    emit = h;
    return () => {};
  }),
  contacts: vi.fn(async () => [bob]),
  watchPresence: vi.fn(async () => {}),
  watchLine: vi.fn(async () => {}),
  conversations: vi.fn(async () => []),
  pendingWatchers: vi.fn(async () => []),
  onLinkError: vi.fn(async () => () => {}),
  unseenMissedCalls: vi.fn(async () => 3),
  publishPresence: vi.fn(async () => {}),
  addAccount: vi.fn(async () => {}),
  removeAccount: vi.fn(async () => {}),
}));

import App from "../src/App.svelte";
import { app, resetWatches } from "../src/lib/app.svelte";
import { setLocale } from "../src/lib/i18n.svelte";

beforeEach(() => {
  localStorage.clear();
  resetWatches();
  app.calls = [];
});
afterEach(() => {
  cleanup();
  setLocale("en");
  localStorage.clear();
});

describe("the app in Russian", () => {
  it("switches language from Settings at once and back", async () => {
    location.hash = "#/settings";
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Registered"));
    const select = screen.getByRole("combobox", { name: "Language" }) as HTMLSelectElement;
    expect(select.value).toBe("en");

    await fireEvent.change(select, { target: { value: "ru" } });
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Настройки");
    expect(screen.getAllByRole("tab").map((t) => t.textContent?.trim().replace(/\d+$/, "").trim())).toEqual([
      "Контакты",
      "Набор номера",
      "Чаты",
      "История",
      "Настройки",
      "SIP-трассировка",
    ]);
    expect(screen.getByRole("navigation", { name: "Главное меню" })).toBeTruthy();
    expect(screen.getByTestId("missed-badge").getAttribute("aria-label")).toBe("3 пропущенных");
    expect(screen.getByTestId("status-state").textContent).toBe("Зарегистрирована");
    expect(screen.getByRole("button", { name: "Добавить учётную запись" })).toBeTruthy();
    expect(screen.getByRole("combobox", { name: "Язык" })).toBe(select);
    expect(document.documentElement.lang).toBe("ru");
    expect(localStorage.getItem("parley.language")).toBe("ru");

    await fireEvent.change(select, { target: { value: "en" } });
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Settings");
    expect(screen.getByRole("tab", { name: "Contacts" })).toBeTruthy();
    expect(document.documentElement.lang).toBe("en");
  });

  it("renders the contacts screen in Russian", async () => {
    setLocale("ru");
    location.hash = "#/contacts";
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Зарегистрирована"));
    expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("Контакты");
    expect(screen.getByRole("searchbox", { name: "Поиск контактов" })).toBeTruthy();
    const list = await screen.findByRole("list", { name: "Контакты" });
    const row = within(list).getByTestId("contact");
    expect(within(row).getByRole("group", { name: "Действия для Bob" })).toBeTruthy();
    expect(within(row).getByRole("button", { name: "Позвонить Bob" }).textContent).toBe("Позвонить");
    expect(within(row).getByRole("button", { name: "Написать Bob" })).toBeTruthy();
    expect(within(row).getByTestId("contact-presence").textContent?.trim()).toBe("Неизвестно");

    emit({ event: "presence", uri: "sip:bob@127.0.0.1", availability: "busy", note: null } as Event);
    await waitFor(() => expect(within(row).getByTestId("contact-presence").textContent?.trim()).toBe("Не беспокоить"));

    const presence = screen.getByRole("combobox", { name: "Мой статус присутствия" }) as HTMLSelectElement;
    expect([...presence.options].map((o) => o.textContent)).toEqual(["На месте", "Нет на месте", "Не беспокоить", "Говорит по телефону", "Невидимка"]);

    await fireEvent.input(screen.getByRole("searchbox", { name: "Поиск контактов" }), { target: { value: "zzz" } });
    expect(screen.getByText("Нет контактов по запросу «zzz».")).toBeTruthy();
  });

  it("shows an incoming call and the call panel in Russian", async () => {
    setLocale("ru");
    location.hash = "#/dialpad";
    render(App);
    await waitFor(() => expect(screen.getByTestId("status-state").textContent).toBe("Зарегистрирована"));
    emit({ event: "incoming_call", call: info({ id: 5, direction: "incoming", state: "incoming" }) } as Event);
    const dialog = await screen.findByRole("alertdialog");
    expect(within(dialog).getByText("Входящий звонок")).toBeTruthy();
    expect(within(dialog).getByRole("button", { name: "Ответить" })).toBeTruthy();
    expect(within(dialog).getByRole("button", { name: "Отклонить" }).getAttribute("title")).toBe("Отклонить (Esc)");

    emit({ event: "call_state", call: info({ id: 5, direction: "incoming", state: "connected", answered_ms: ms(1_000_500) }) } as Event);
    await waitFor(() => expect(screen.getByTestId("call-state").textContent).toBe("Соединено"));
    expect(screen.getByRole("group", { name: "Управление звонком" })).toBeTruthy();
    expect(screen.getByTestId("call-hold").textContent).toBe("Удержать");
    expect(screen.getByTestId("call-hangup").textContent).toBe("Отбой");
    expect(screen.getByTestId("call-timer").getAttribute("aria-label")).toBe("Время разговора");
  });
});
