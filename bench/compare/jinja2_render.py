"""Renders the order confirmation of the examples with Jinja2, as the core renders it with
minijinja: the same template files (examples/templates, Jinja syntax is shared), HTML
auto-escaping, strict undefined variables, `money` and `date` filters, subject + HTML + text.

Prints one JSON line: microseconds per record for rendering alone and for JSON parse + render.
"""
import datetime
import decimal
import json
import sys
import time
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount, currency=None):
    code = (currency or "").upper()
    value = decimal.Decimal(str(amount)).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
    return f"{SYMBOLS.get(code, '')}{value:,.2f}" if code in SYMBOLS else f"{value:,.2f} {code}".strip()


def date(value, fmt=None):
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return f"{moment.day} {moment.strftime('%B %Y')}"


def main():
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROOT / "examples" / "templates"),
        autoescape=lambda name: name is not None and not name.endswith(".txt"),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["money"] = money
    env.filters["date"] = date
    html = env.get_template("orders/confirmation.html")
    text = env.get_template("orders/confirmation.txt")
    subject = env.from_string("Order {{ name }} confirmed")
    body = json.loads((ROOT / "examples/events/order-raw.json").read_text())["Records"][0]["body"]
    metadata = {"messageId": "m-1", "eventType": "orders/paid", "envelope": "raw", "receiveCount": 1,
                "now": "2026-11-23T10:00:00Z", "route": "order-confirmation",
                "idempotencyKey": "0123456789abcdef0123456789abcdef"}

    def render(event):
        context = dict(event, mailroom=metadata)
        return subject.render(context), html.render(context), text.render(context)

    out = render(json.loads(body))
    assert "Trail Running Shoe" in out[1] and "$129.00" in out[1], out[1][:200]

    def best(fn):
        timings = []
        for _ in range(5):
            start = time.perf_counter_ns()
            for _ in range(iterations):
                fn()
            timings.append((time.perf_counter_ns() - start) / iterations / 1000)
        return min(timings)

    event = json.loads(body)
    print(json.dumps({
        "engine": f"Jinja2 {jinja2.__version__} (Python {sys.version.split()[0]})",
        "render_us": round(best(lambda: render(event)), 1),
        "parse_render_us": round(best(lambda: render(json.loads(body))), 1),
        "html_bytes": len(out[1]), "text_bytes": len(out[2]),
    }))


if __name__ == "__main__":
    main()
