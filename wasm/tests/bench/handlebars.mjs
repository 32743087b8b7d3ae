// The Handlebars side of the wasm benchmark: the same work as mailroom's per-record path for the
// order record (unwrap the EventBridge envelope, find the recipient, idempotency key, subject,
// HTML with layout and partial, text), with equivalent templates in this folder.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import Handlebars from "handlebars";

const here = path.dirname(fileURLToPath(import.meta.url));
const routes = JSON.parse(fs.readFileSync(path.join(here, "../../../examples/templates/routes.json"), "utf8"));
const handlebars = Handlebars.create();
const read = (name) => fs.readFileSync(path.join(here, name), "utf8");
// Partials registered compiled: registered as strings, Handlebars would compile them on every call.
handlebars.registerPartial("layout", handlebars.compile(read("layout.hbs")));
handlebars.registerPartial("footer", handlebars.compile(read("footer.hbs")));
const moneyFormats = new Map();
handlebars.registerHelper("money", (amount, currency) => {
  let format = moneyFormats.get(currency);
  if (format === undefined) {
    format = new Intl.NumberFormat("en-US", { style: "currency", currency });
    moneyFormats.set(currency, format);
  }
  return format.format(Number(amount));
});
const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
handlebars.registerHelper("date", (text) => dateFormat.format(new Date(text)));
handlebars.registerHelper("prefix", (text, length) => String(text).slice(0, length));
const compiled = {
  subject: handlebars.compile("Order {{name}} confirmed", { noEscape: true }),
  html: handlebars.compile(read("confirmation.html.hbs")),
  text: handlebars.compile(read("confirmation.txt.hbs"), { noEscape: true }),
};
/** The per-record path in JavaScript: the Lambda event text in, a report like mailroom's out. */
export function handlebarsPipeline(eventText, now) {
  const event = JSON.parse(eventText);
  const records = event.Records.map((record) => {
    const envelope = JSON.parse(record.body);
    const payload = envelope.detail?.payload ?? envelope;
    const eventType = envelope.detail?.metadata?.["X-Shopify-Topic"] ?? envelope["detail-type"];
    const to = payload.email || payload.contact_email || payload.customer?.email;
    const idempotencyKey = createHash("sha256").update(`order-confirmation\n${envelope.id}`).digest("hex").slice(0, 32);
    const context = {
      ...payload,
      money_currency: payload.presentment_currency ?? payload.currency,
      mailroom: { messageId: record.messageId, eventType, envelope: "eventbridge", idempotencyKey, now: new Date(now).toISOString() },
    };
    const email = {
      from: routes.sender,
      to: [to],
      replyTo: routes.replyTo,
      subject: compiled.subject(context),
      html: compiled.html(context),
      text: compiled.text(context),
      idempotencyKey,
      tags: [
        { name: "route", value: "order-confirmation" },
        { name: "category", value: "orders" },
        { name: "event_type", value: eventType.replace(/[^A-Za-z0-9_.@-]/g, "_") },
      ],
    };
    return { messageId: record.messageId, eventType, route: "order-confirmation", decision: "send", email, providerMessageId: `ses-${record.messageId}` };
  });
  return { records, batchResponse: { batchItemFailures: [] } };
}
