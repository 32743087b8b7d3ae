#!/usr/bin/env python3
"""Writes the example Lambda SQS events in examples/events/.

Event bodies are JSON inside JSON (and SNS messages are JSON inside that), which is miserable to
edit by hand; this script keeps the readable source of every example. Run it after changing one:
    python3 examples/scripts/make_events.py
"""
import hashlib
import json
from pathlib import Path

EVENTS = Path(__file__).resolve().parent.parent / "events"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:mailroom-notifications"
SENT = 1795428000000  # 2026-11-23T10:00:00Z


def organizer_enrollment():
    return {
        "mailto": "Dana Organizer <dana.organizer@academy.example.com>",
        "organizerName": "Dana",
        "studentName": "Ana Núñez",
        "courseName": "Rust for Backend Engineers",
        "enrolledAt": "2026-11-23T09:58:12Z",
        "seatsLeft": 3,
    }


def enrollment_completed(student_id="stu_81723"):
    # Exactly what the enrollment API publishes: ids only. The welcome route looks the student
    # and the course up (examples/templates/lookups.json holds them for the CLI).
    return {
        "eventType": "EnrollmentCompleted",
        "studentId": student_id,
        "courseId": "rust-backend-101",
        "enrollmentType": "paid",
        "enrolledAt": "2026-11-23T09:58:12Z",
        "source": "auto",
    }


def shopify_order():
    def money(amount, shop="USD", presentment="EUR", rate=0.92):
        return {
            "shop_money": {"amount": amount, "currency_code": shop},
            "presentment_money": {"amount": f"{float(amount) * rate:.2f}", "currency_code": presentment},
        }

    items = [
        ("Trail Running Shoe", "EU 42 / Midnight", "TRS-42-MID", 1, "129.00"),
        ("Merino Running Socks", "M / Charcoal", "MRS-M-CHR", 3, "14.50"),
        ("Hydration Vest 5L", "S/M", "HV5-SM", 1, "89.90"),
        ("Energy Gel Sampler", None, "EGS-12", 2, "19.95"),
    ]
    return {
        "id": 5893012345678,
        "admin_graphql_api_id": "gid://shopify/Order/5893012345678",
        "name": "#1071",
        "order_number": 1071,
        "email": "ana.nunez@example.org",
        "contact_email": "ana.nunez@example.org",
        "created_at": "2026-11-23T10:57:31+01:00",
        "currency": "USD",
        "presentment_currency": "USD",
        "customer_locale": "es",
        "financial_status": "paid",
        "subtotal_price": "336.25",
        "total_tax": "26.90",
        "total_price": "363.15",
        "total_price_set": money("363.15"),
        "customer": {
            "id": 7012345678901,
            "email": "ana.nunez@example.org",
            "first_name": "Ana",
            "last_name": "Núñez",
        },
        "line_items": [
            {
                "id": 14000000000 + n,
                "title": title,
                "variant_title": variant,
                "sku": sku,
                "quantity": qty,
                "price": price,
                "price_set": money(price),
            }
            for n, (title, variant, sku, qty, price) in enumerate(items)
        ],
        "shipping_address": {
            "name": "Ana Núñez",
            "address1": "Calle Mayor 12",
            "city": "Madrid",
            "zip": "28013",
            "country": "Spain",
        },
    }


CUSTOMER = {"name": "Ana Núñez", "email": "ana.nunez@example.org", "phone": "+34 612 345 678"}


def domain_event(event_type, data, n):
    """A domain event as the order service publishes it: `eventId`, `eventType`, `source`,
    `timestamp` and `data` (DOMAIN.md), carried by EventBridge with the type as detail-type."""
    return {
        "eventId": f"evt_{event_type.lower()}_{n:04d}",
        "eventType": event_type,
        "source": "shop.orders" if event_type != "USER_CREATED" else "shop.accounts",
        "timestamp": "2026-11-23T09:58:00Z",
        "data": data,
    }


def domain_events():
    """The five domain event types; the four about an order also text the customer."""
    return {
        "order-created": domain_event("ORDER_CREATED", {
            "orderId": "ord_1001", "userId": "usr_42", "customer": CUSTOMER,
            "items": [{"name": "Rust mug", "quantity": 2, "price": "12.50"},
                      {"name": "Ferris sticker pack", "quantity": 1, "price": "4.90"}],
            "total": "29.90", "currency": "EUR"}, 1),
        "order-status-changed": domain_event("ORDER_STATUS_CHANGED", {
            "orderId": "ord_1001", "userId": "usr_42", "customer": CUSTOMER,
            "previousStatus": "processing", "status": "shipped",
            "trackingUrl": "https://track.example.com/ord_1001"}, 2),
        "order-cancelled": domain_event("ORDER_CANCELLED", {
            "orderId": "ord_1002", "userId": "usr_42", "customer": CUSTOMER,
            "reason": "an item is out of stock", "refundAmount": "15.00", "currency": "EUR"}, 3),
        "payment-processed": domain_event("PAYMENT_PROCESSED", {
            "paymentId": "pay_7781", "orderId": "ord_1001", "customer": CUSTOMER,
            "amount": "29.90", "currency": "EUR", "method": "card", "last4": "4242"}, 4),
        "user-created": domain_event("USER_CREATED", {
            "userId": "usr_42", "name": "Ana Núñez", "email": "ana.nunez@example.org",
            "phone": "+34 612 345 678"}, 5),
    }


def uid(seed):
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def sns(message, topic, event_type=None):
    envelope = {
        "Type": "Notification",
        "MessageId": uid("sns" + json.dumps(message, sort_keys=True)),
        "TopicArn": f"arn:aws:sns:us-east-1:123456789012:{topic}",
        "Message": json.dumps(message, ensure_ascii=False),
        "Timestamp": "2026-11-23T09:59:59.512Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:example",
    }
    if event_type:
        envelope["MessageAttributes"] = {"eventType": {"Type": "String", "Value": event_type}}
    return envelope


def eventbridge(detail, detail_type, source):
    return {
        "version": "0",
        "id": uid("eb" + detail_type + json.dumps(detail, sort_keys=True)),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-11-23T09:59:59Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def shopify_eventbridge(order, topic):
    return eventbridge(
        {
            "payload": order,
            "metadata": {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": "trail-supply.myshopify.com",
                "X-Shopify-Order-Id": str(order["id"]),
                "X-Shopify-Test": "false",
                "X-Shopify-API-Version": "2025-10",
                "X-Shopify-Webhook-Id": uid("webhook" + topic),
                "X-Shopify-Event-Id": uid("event" + topic + str(order["id"])),
                "X-Shopify-Triggered-At": "2026-11-23T09:57:33.000Z",
            },
        },
        "shopifyWebhook",
        "aws.partner/shopify.com/123456/trail-supply",
    )


def record(name, body, message_attributes=None, receive_count=1):
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return {
        "messageId": uid("msg" + name),
        "receiptHandle": "AQEB" + hashlib.sha256(name.encode()).hexdigest(),
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(SENT),
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": str(SENT + 250),
        },
        "messageAttributes": message_attributes or {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE,
        "awsRegion": "us-east-1",
    }


def attribute(value):
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


def main():
    order = shopify_order()
    completed = enrollment_completed()
    organizer = organizer_enrollment()
    examples = {
        "enrollment-raw": record("enrollment-raw", organizer),
        "enrollment-sns": record("enrollment-sns", sns(organizer, "enrollments")),
        "enrollment-eventbridge": record(
            "enrollment-eventbridge", eventbridge(organizer, "EnrollmentNotification", "academy.enrollments")
        ),
        "order-raw": record("order-raw", order, {"eventType": attribute("orders/paid")}),
        "order-sns": record("order-sns", sns(order, "shopify-orders", "orders/paid")),
        "order-eventbridge": record("order-eventbridge", shopify_eventbridge(order, "orders/paid")),
        "welcome-raw": record("welcome-raw", completed),
        "welcome-sns": record("welcome-sns", sns(completed, "enrollments")),
        "welcome-eventbridge": record(
            "welcome-eventbridge",
            eventbridge(completed, "EnrollmentCompleted", "academy.enrollments"),
        ),
    }
    EVENTS.mkdir(exist_ok=True)
    for name, rec in examples.items():
        write(EVENTS / f"{name}.json", {"Records": [rec]})
    # The order service's domain events through EventBridge, one file each and one batch of all.
    domain = {
        name: record(f"{name}-eventbridge", eventbridge(event, event["eventType"], event["source"]))
        for name, event in domain_events().items()
    }
    for name, rec in domain.items():
        write(EVENTS / "domain" / f"{name}.json", {"Records": [rec]})
    write(EVENTS / "domain-events.json", {"Records": list(domain.values())})
    # The quick start: every example, plus three records that can never be sent.
    broken = [
        record("not-json", "{\"mailto\": \"dana@academy.example.com\", "),
        record("no-recipient", {**organizer, "mailto": ""}),
        # A student the enrollments table has no profile for: rejected with lookup_missing.
        record("unknown-student", sns(enrollment_completed("stu_00000"), "enrollments")),
    ]
    write(EVENTS / "quickstart.json", {"Records": [*examples.values(), *broken]})


def write(path, value):
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(EVENTS.parent.parent)}")


if __name__ == "__main__":
    main()
