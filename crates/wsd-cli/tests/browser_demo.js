// Drives the demo page of `wsd serve` in headless Chromium; run by browser.rs.
//
//   node browser_demo.js CHROMIUM_PATH PAGE_URL...
//
// For each page it waits for the open state, echoes a text and a binary message
// through the page's own form and button, and prints what it saw as
// `PAGE_INDEX<TAB>FIELD<TAB>VALUE` lines (browser.rs makes the assertions, so a
// failure names the value that was wrong; tab-separated lines need no JSON parser).
// playwright-core is found through NODE_PATH (tests/interop/node_modules); one
// browser serves every page so Chromium starts once.
"use strict";

const { chromium } = require("playwright-core");

// Every wait is bounded so a broken page fails in seconds, not at the CI timeout.
const STEP_MS = 10000;

async function drive(browser, pageUrl) {
  const page = await browser.newPage();
  page.setDefaultTimeout(STEP_MS);
  const consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  await page.goto(pageUrl);
  await page.waitForSelector("#state.state-open");

  // Non-ASCII and long enough that permessage-deflate actually compresses it.
  const text = "héllo wsd \u2713 " + "echo ".repeat(40) + Math.random().toString(36).slice(2);
  await page.fill("#message", text);
  await page.click("#send");
  const textEcho = await page.waitForSelector("#log li[data-dir=in][data-type=text] .payload");

  await page.click("#send-binary");
  const binarySent = await page.textContent("#log li[data-dir=out][data-type=binary] .payload");
  const binaryEcho = await page.waitForSelector("#log li[data-dir=in][data-type=binary] .payload");

  const seen = {
    pageUrl,
    url: await page.textContent("#url"),
    state: await page.textContent("#state"),
    protocol: await page.textContent("#protocol"),
    extensionsShown: await page.textContent("#extensions"),
    // The raw value too: the page shows "none" for an empty string.
    extensions: await page.evaluate(() => socket.extensions),
    textSent: text,
    textEcho: await textEcho.textContent(),
    binarySent,
    binaryEcho: await binaryEcho.textContent(),
    rtt: await page.textContent("#rtt"),
    echoes: await page.textContent("#echoes"),
    consoleErrors: consoleErrors.join(" | "),
  };
  await page.close();
  return seen;
}

async function main() {
  const [executablePath, ...pages] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: STEP_MS * 3,
    // Root needs --no-sandbox; the rest keep Chromium from reaching for the network
    // (a closed network refuses its connections and slows it down).
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // The TLS pages use a certificate made for the test.
      "--ignore-certificate-errors",
    ],
  });
  try {
    for (const [index, pageUrl] of pages.entries()) {
      const seen = await drive(browser, pageUrl);
      for (const [field, value] of Object.entries(seen)) {
        console.log([index, field, String(value).replace(/[\t\r\n]+/g, " ")].join("\t"));
      }
    }
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error("browser_demo.js: " + (error && error.stack ? error.stack : error));
  process.exit(1);
});
