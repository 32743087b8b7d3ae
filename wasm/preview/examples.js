// The shipped examples the page starts from when no folder is served (`mailroom preview` serves
// one as templates.json). Paths are relative to the served examples/ folder; keep this list in
// step with examples/ (the browser test loads every file).

export const EXAMPLE_TEMPLATES = [
  'layout.html',
  'partials/footer.html',
  'enrollment/organizer.html',
  'enrollment/organizer.txt',
  'orders/confirmation.html',
  'orders/confirmation.txt',
  'orders/created.html',
  'orders/created.sms.txt',
  'orders/status-changed.html',
  'orders/status-changed.sms.txt',
  'orders/cancelled.html',
  'orders/cancelled.sms.txt',
  'orders/payment-processed.html',
  'orders/payment-processed.sms.txt',
  'users/welcome.html',
  'welcome/enrollment-completed.html',
];

/** The answers to the example routes' lookups (examples/templates/lookups.json, the core's fixtures format). */
export const EXAMPLE_LOOKUPS = 'lookups.json';

export const EXAMPLE_EVENTS = [
  'order-raw.json',
  'order-sns.json',
  'order-eventbridge.json',
  'enrollment-raw.json',
  'enrollment-sns.json',
  'enrollment-eventbridge.json',
  'welcome-raw.json',
  'welcome-sns.json',
  'welcome-eventbridge.json',
  'quickstart.json',
  'domain-events.json',
];

/** What the page opens first. */
export const START = { template: 'orders/confirmation.html', event: 'order-sns.json' };
