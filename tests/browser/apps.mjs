// Drives a generated offline app's preview in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core) and checks it really works: its main interaction, dark mode, and
// that a reload keeps both; after follow-ups, the features they added and the old ones.
//
// Usage: node apps.mjs <todo|notes|kanban|timer|landing|generic> <previewUrl> [options]
//   --title <text>         the header must read this
//   --fields <a,b,c>       generic: the form must have exactly these fields (#field-<key>)
//   --search               a search box filters the app's items
//   --counter              a counter counts and keeps its count
//   --header <rgb(...)>    the header's background color
//   --request <text>       a requested change is listed
// Exits 0 when every check passes; prints what failed otherwise.
import { check, launch, main, newPage, sleep, waitFor } from "./harness.mjs";

const [kind, url, ...rest] = process.argv.slice(2);
const option = (name) => {
  const at = rest.indexOf(name);
  return at < 0 ? undefined : rest[at + 1];
};
const flag = (name) => rest.includes(name);

const count = (page, selector) => page.locator(selector).count();
const visible = (page, selector) => page.locator(`${selector}:visible`).count();
const text = (page, selector) => page.locator(selector).first().innerText();
const reload = (page) => page.reload({ waitUntil: "load" });
const settled = (page, selector, n, what) =>
  waitFor(async () => (await count(page, selector)) === n, what, 5000);

// Each app's main interaction. `items` is the selector of what search filters, `match` a
// query that matches exactly one of them once `drive` has run.
const APPS = {
  async todo(page) {
    for (const todo of ["Buy milk", "Walk the dog"]) {
      await page.fill("#new-todo", todo);
      await page.click("#add-todo");
    }
    check((await count(page, ".todo-item")) === 2, "two todos added");
    await page.locator(".todo-item .todo-toggle").first().click();
    const completed = () =>
      page.locator(".todo-item").first().evaluate((el) => el.classList.contains("completed"));
    check(await completed(), "the first todo is completed");
    check((await text(page, "#todo-count")) === "1 item left", "the count says 1 item left");
    return {
      items: ".todo-item",
      match: "milk",
      async kept() {
        check((await count(page, ".todo-item")) === 2, "todos persist across reload");
        check(await completed(), "completion persists across reload");
      },
    };
  },

  async notes(page) {
    for (const [title, body] of [
      ["Groceries", "Milk and eggs"],
      ["Ideas", "Build a rocket"],
    ]) {
      await page.fill("#note-title", title);
      await page.fill("#note-body", body);
      await page.click("#save-note");
    }
    check((await count(page, ".note-item")) === 2, "two notes saved");
    // Edit the older note (listed last: newest first).
    await page.locator(".note-item .note-edit").last().click();
    check((await page.inputValue("#note-title")) === "Groceries", "editing loads the note");
    await page.fill("#note-title", "Shopping");
    await page.click("#save-note");
    const titles = () => page.locator(".note-item .note-title").allInnerTexts();
    check((await titles()).includes("Shopping"), "the edit is saved");
    check((await count(page, ".note-item")) === 2, "editing adds no note");
    return {
      items: ".note-item",
      match: "rocket",
      async kept() {
        const after = await titles();
        check(after.length === 2 && after.includes("Shopping"), "notes and the edit persist");
      },
    };
  },

  async kanban(page) {
    for (const card of ["Write tests", "Ship it"]) {
      await page.fill("#new-card", card);
      await page.click("#add-card");
    }
    const inColumn = (column) => count(page, `[data-column=${column}] .kanban-card`);
    check((await inColumn("todo")) === 2, "two cards in To do");
    await page.locator("[data-column=todo] .kanban-card .card-right").first().click();
    check((await inColumn("doing")) === 1, "a card moved to Doing");
    await page.locator("[data-column=doing] .kanban-card .card-right").first().click();
    check((await inColumn("done")) === 1, "and on to Done");
    check((await text(page, "[data-column=done] .column-count")) === "1", "Done counts 1");
    return {
      items: ".kanban-card",
      match: "ship",
      async kept() {
        check((await inColumn("todo")) === 1 && (await inColumn("done")) === 1, "cards keep their columns");
      },
    };
  },

  async timer(page) {
    await page.click("#stopwatch-start");
    await sleep(300);
    await page.click("#stopwatch-lap");
    await sleep(200);
    await page.click("#stopwatch-lap");
    await page.click("#stopwatch-start");
    const reading = await text(page, "#stopwatch-display");
    check(reading !== "00:00.00", `the stopwatch ran (${reading})`);
    check((await count(page, ".lap-item")) === 2, "two laps");
    await page.fill("#timer-minutes", "0");
    await page.fill("#timer-seconds", "1");
    await page.click("#timer-start");
    await waitFor(() => page.locator("#timer-done").isVisible(), "the countdown ends", 5000);
    check((await text(page, "#timer-display")) === "00:00", "the countdown shows 00:00");
    return {
      items: ".lap-item",
      match: "Lap 1",
      async kept() {
        check((await text(page, "#stopwatch-display")) === reading, "the paused stopwatch keeps its time");
        check((await count(page, ".lap-item")) === 2, "laps persist");
        check(await page.locator("#timer-done").isVisible(), "the finished countdown stays finished");
      },
    };
  },

  async landing(page) {
    check((await count(page, "#hero")) === 1 && (await count(page, "#hero-cta")) === 1, "a hero with a call to action");
    check((await count(page, ".feature")) === 3, "three features");
    await page.fill("#signup-email", "not-an-address");
    await page.click("#signup-submit");
    check(
      await page.locator("#signup-message").evaluate((el) => el.classList.contains("error")),
      "a bad address is refused",
    );
    await page.fill("#signup-email", "ada@example.com");
    await page.click("#signup-submit");
    const thanks = () => text(page, "#signup-message");
    check((await thanks()).includes("ada@example.com"), "a good address is thanked");
    const first = await page.locator(".feature h3").first().innerText();
    return {
      items: ".feature",
      match: first,
      async kept() {
        check((await thanks()).includes("ada@example.com"), "the signup is remembered");
      },
    };
  },

  async generic(page) {
    const fields = await page
      .locator("#record-form [id^=field-]")
      .evaluateAll((els) => els.map((el) => ({ key: el.id.slice(6), tag: el.tagName, type: el.type })));
    check(fields.length >= 2, `a form with fields (${fields.map((f) => f.key).join(", ")})`);
    const wanted = option("--fields");
    if (wanted) {
      check(fields.map((f) => f.key).join(",") === wanted, `the fields are ${wanted}`);
    }
    const [first, ...others] = fields;
    const fill = async (name) => {
      await page.fill(`#field-${first.key}`, name);
      for (const field of others) {
        const id = `#field-${field.key}`;
        if (field.type === "checkbox") await page.check(id);
        else if (field.type === "number") await page.fill(id, "20");
        else if (field.type === "date") await page.fill(id, "2024-05-01");
        else if (field.type === "time") await page.fill(id, "08:30");
        else if (field.type === "email") await page.fill(id, "cook@example.com");
        else if (field.type === "url") await page.fill(id, "https://example.com/");
        else if (field.tag === "TEXTAREA") await page.fill(id, "Flour\nMilk\nEggs");
        else await page.fill(id, `${field.key} of ${name}`);
      }
      await page.click("#save-record");
    };
    await fill("Pancakes");
    await fill("Omelette");
    check((await count(page, ".record-item")) === 2, "two records added");
    const titles = () => page.locator(".record-item .record-title").allInnerTexts();
    // Edit the first added (listed last: newest first).
    await page.locator(".record-item .record-edit").last().click();
    check((await page.inputValue(`#field-${first.key}`)) === "Pancakes", "editing loads the record");
    await page.fill(`#field-${first.key}`, "Fluffy pancakes");
    await page.click("#save-record");
    check((await titles()).includes("Fluffy pancakes"), "the edit is saved");
    check((await count(page, ".record-item")) === 2, "editing adds no record");
    const list = others.find((f) => f.tag === "TEXTAREA");
    if (list) {
      check((await page.locator(".record-item").first().innerText()).includes("Milk"), "multi-line fields show");
    }
    // Search is built in.
    await page.fill("#search", "omel");
    check((await visible(page, ".record-item")) === 1, "search finds 1 of 2");
    await page.fill("#search", "");
    check((await visible(page, ".record-item")) === 2, "clearing the search shows both");
    await page.locator(".record-item .record-delete").first().click();
    check((await count(page, ".record-item")) === 1, "a record deleted");
    return {
      items: ".record-item",
      match: "fluffy",
      async kept() {
        check((await titles()).join() === "Fluffy pancakes", "records persist across reload");
      },
    };
  },
};

await main(async (cleanups) => {
  const drive = APPS[kind];
  if (!drive || !url) throw new Error(`usage: node apps.mjs <${Object.keys(APPS).join("|")}> <url> [options]`);
  const browser = await launch();
  cleanups.push(() => browser.close());
  const page = await newPage(browser);
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(url, { waitUntil: "load" });
  await page.evaluate(() => localStorage.clear());
  await reload(page);
  await page.waitForSelector("#app-title");

  const title = option("--title");
  if (title) check((await text(page, "#app-title")) === title, `the header reads "${title}"`);

  const app = await drive(page);

  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await background();
  await page.click("#theme-toggle");
  const dark = () => page.evaluate(() => document.documentElement.classList.contains("dark"));
  check(await dark(), "dark mode is on");
  check((await page.evaluate(() => document.documentElement.dataset.theme)) === "dark", "data-theme is dark");
  // The body's colors ease over 150 ms.
  await waitFor(async () => (await background()) !== light, `the page turns dark (from ${light})`, 2000);
  check(true, `the page turns dark (${light} -> ${await background()})`);

  let counted;
  if (flag("--counter")) {
    check((await text(page, "#counter-value")) === "0", "the counter starts at 0");
    await page.click("#counter-increment");
    await page.click("#counter-increment");
    await page.click("#counter-decrement");
    counted = await text(page, "#counter-value");
    check(counted === "1", "the counter counts");
  }

  await reload(page);
  await page.waitForSelector("#app-title");
  check(await dark(), "dark mode persists across reload");
  await app.kept();
  if (counted) check((await text(page, "#counter-value")) === counted, "the count persists across reload");

  if (flag("--search")) {
    const all = await count(page, app.items);
    await page.fill("#search", app.match);
    await settled(page, `${app.items}`, 1, `search "${app.match}" leaves 1 of ${all}`);
    check((await visible(page, app.items)) === 1, `search "${app.match}" filters to 1 of ${all}`);
    await page.fill("#search", "zzzz-nothing");
    check((await count(page, "#search-empty")) === 1, "no match says so");
    await page.fill("#search", "");
    await settled(page, app.items, all, "clearing the search shows everything");
    check((await count(page, app.items)) === all, "clearing the search shows everything");
  }
  const header = option("--header");
  if (header) {
    const color = await page.evaluate(() => getComputedStyle(document.querySelector("#app-header")).backgroundColor);
    check(color === header, `the header is ${header} (${color})`);
  }
  const request = option("--request");
  if (request) {
    check((await page.locator(".request-note").allInnerTexts()).includes(request), `the request "${request}" is listed`);
  }
  check(errors.length === 0, `no page errors ${errors.join("; ")}`);
});
