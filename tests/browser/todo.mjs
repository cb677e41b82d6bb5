// Drives a generated todo app's preview in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core; no browser is ever downloaded) and checks it really works.
// Usage: node todo.mjs <previewUrl> [--search]
// Exits 0 when every check passes; prints what failed otherwise.
import { chromium } from "playwright-core";

const [url, ...flags] = process.argv.slice(2);
const search = flags.includes("--search");
const executablePath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

function check(condition, what) {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`ok - ${what}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--headless"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (err) => errors.push(String(err)));
  await page.goto(url, { waitUntil: "load" });
  await page.evaluate(() => localStorage.clear());
  await page.reload({ waitUntil: "load" });

  for (const text of ["Buy milk", "Walk the dog"]) {
    await page.fill("#new-todo", text);
    await page.click("#add-todo");
  }
  check((await page.locator(".todo-item").count()) === 2, "two todos added");
  await page.locator(".todo-item .todo-toggle").first().click();
  check(
    await page.locator(".todo-item").first().evaluate((el) => el.classList.contains("completed")),
    "the first todo is completed",
  );
  await page.click("#theme-toggle");
  check(
    (await page.evaluate(() => document.documentElement.dataset.theme)) === "dark",
    "dark mode is on",
  );

  await page.reload({ waitUntil: "load" });
  check((await page.locator(".todo-item").count()) === 2, "todos persist across reload");
  check(
    await page.locator(".todo-item").first().evaluate((el) => el.classList.contains("completed")),
    "completion persists across reload",
  );
  check(
    (await page.evaluate(() => document.documentElement.dataset.theme)) === "dark",
    "dark mode persists across reload",
  );

  if (search) {
    await page.fill("#search", "milk");
    const visible = await page.locator(".todo-item:visible").count();
    check(visible === 1, "search filters the todos (1 of 2 visible)");
    await page.fill("#search", "");
    check((await page.locator(".todo-item:visible").count()) === 2, "clearing the search shows all");
  }
  check(errors.length === 0, `no page errors ${errors.join("; ")}`);
} catch (err) {
  console.error(String(err));
  process.exitCode = 1;
} finally {
  await browser.close();
}
