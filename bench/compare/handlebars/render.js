// Renders the order confirmation of the examples with Handlebars: the same markup as
// examples/templates/orders/confirmation.html (layout and footer as partials), HTML escaping,
// `money`, `date` and `default` helpers, subject + HTML + text (non-strict: the template
// relies on `default` for optional fields).
// Partials are compiled once up front (a string partial would be compiled on every render).
// Prints one JSON line: microseconds per record for rendering alone and for JSON parse + render.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Handlebars = require('handlebars');

const root = path.resolve(__dirname, '..', '..', '..');
const iterations = Number(process.argv[2] || 2000);
const symbols = { USD: '$', EUR: '€', GBP: '£' };
const hb = Handlebars.create();
hb.registerHelper('default', (value, fallback) => (value === undefined || value === null ? fallback : value));
hb.registerHelper('prefix', (text, count) => String(text).slice(0, count));
hb.registerHelper('money', (amount, currency) => {
  // Decimal rounding on the digits (no floats), as the core's filter does.
  const [whole, fraction = ''] = String(amount).split('.');
  let cents = BigInt(whole + (fraction + '00').slice(0, 2));
  if (Number((fraction + '000')[2]) >= 5) cents += 1n;
  const digits = cents.toString().padStart(3, '0');
  const grouped = digits.slice(0, -2).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const number = `${grouped}.${digits.slice(-2)}`;
  const code = String(currency || '').toUpperCase();
  return code in symbols ? `${symbols[code]}${number}` : `${number} ${code}`.trim();
});
const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September',
  'October', 'November', 'December'];
hb.registerHelper('date', (value) => {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(String(value));
  return `${Number(match[3])} ${months[Number(match[2]) - 1]} ${match[1]}`;
});
const read = (name) => fs.readFileSync(path.join(__dirname, 'templates', name), 'utf8');
hb.registerPartial('layout', hb.compile(read('layout.hbs')));
hb.registerPartial('footer', hb.compile(read('footer.hbs')));
const options = { strict: false };
const html = hb.compile(read('confirmation.hbs'), options);
const text = hb.compile(read('confirmation.txt.hbs'), { ...options, noEscape: true });
const subject = hb.compile('Order {{name}} confirmed', { ...options, noEscape: true });

const body = JSON.parse(fs.readFileSync(path.join(root, 'examples/events/order-raw.json'), 'utf8')).Records[0].body;
const metadata = { messageId: 'm-1', eventType: 'orders/paid', envelope: 'raw', receiveCount: 1,
  now: '2026-11-23T10:00:00Z', route: 'order-confirmation', idempotencyKey: '0123456789abcdef0123456789abcdef' };
const render = (event) => {
  const context = { ...event, mailroom: metadata };
  return [subject(context), html(context), text(context)];
};
const out = render(JSON.parse(body));
if (!out[1].includes('Trail Running Shoe') || !out[1].includes('$129.00')) throw new Error(out[1].slice(0, 300));

const best = (fn) => {
  for (let i = 0; i < iterations; i++) fn(); // warm up the JIT
  let min = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    min = Math.min(min, Number(process.hrtime.bigint() - start) / iterations / 1000);
  }
  return Math.round(min * 10) / 10;
};
const event = JSON.parse(body);
console.log(JSON.stringify({
  engine: `Handlebars ${Handlebars.VERSION} (Node ${process.versions.node})`,
  render_us: best(() => render(event)),
  parse_render_us: best(() => render(JSON.parse(body))),
  html_bytes: out[1].length,
  text_bytes: out[2].length,
}));
