"""Test harness for the mailroom Lambda: moto, a local Lambda Runtime API, a CodeCommit fake
and an AWS front door that counts calls and can throttle or delay SES.

Everything listens on 127.0.0.1 on a free port, is waited for until it answers, and is stopped
by its PID (moto, the function) or by shutting its server down (the in-process HTTP servers).

    moto_server  <- boto3 (test setup and checks; SNS publishes)
        ^
        |  SQS, SES v2, DynamoDB (forwarded; SES may be throttled or delayed, DynamoDB may
        |  answer with an injected error or be delayed)
    AwsFront ----- CodeCommit GetBranch/GetFolder/GetFile served from a folder (examples/templates/)
        ^
        |  AWS_ENDPOINT_URL
    bootstrap <--> RuntimeApi (GET .../invocation/next, POST .../response, .../error)
"""

from __future__ import annotations

import base64
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


def bootstrap_path() -> Path:
    """The function binary: MAILROOM_BOOTSTRAP, else the debug build in CARGO_TARGET_DIR."""
    if os.environ.get("MAILROOM_BOOTSTRAP"):
        return Path(os.environ["MAILROOM_BOOTSTRAP"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / "bootstrap"


# ---------------------------------------------------------------- moto


class Moto:
    """moto_server as a child process."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.devnull, "wb")
        # moto_server itself, but for transactions that do not copy whole tables (see the
        # launcher's docstring): the same Python, which has moto.
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "moto_server.py"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=self.log,
        )
        wait_until(lambda: urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=1).status == 200, 30, "moto")

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/moto-api/reset", method="POST"), timeout=5)

    def data(self) -> dict:
        # moto serialises its whole state: after a fault-injection run, thousands of emails,
        # which takes seconds on a loaded machine.
        with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=120) as response:
            return json.load(response)

    def sent_raw_messages(self) -> list[dict]:
        """SES v2 raw sends moto accepted: {id, source, destinations, raw_data}."""
        ses = self.data().get("ses", {})
        return [m for m in ses.get("RawMessage", []) if m]

    def sms_messages(self) -> list[dict]:
        """Texts moto's SNS accepted: {message_id, phone_number, message}."""
        return [m for m in self.data().get("sns", {}).get("SMS", []) if m]

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


# ---------------------------------------------------------------- HTTP servers


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up (the function stopped mid long-poll) is not a test failure."""

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


class _Server:
    """A threading HTTP/1.1 server on a free loopback port, run in a daemon thread."""

    def __init__(self, handler_class) -> None:
        handler_class.owner = self
        # Port 0: the kernel picks a free port as it binds, which no other process can take
        # in between (as it could from a port probed first and bound later).
        self.server = _QuietServer(("127.0.0.1", 0), handler_class)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for the
    # client's delayed ACK (about 40 ms), which would be charged to the function.
    disable_nagle_algorithm = True
    owner = None

    def log_message(self, *args) -> None:  # keep test output readable
        pass

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# ---------------------------------------------------------------- Lambda Runtime API


class RuntimeApi(_Server):
    """The part of the Lambda Runtime API a function uses.

    `invoke(event)` queues an invocation and waits for the function's answer:
    ("response", parsed JSON) or ("error", parsed error document)."""

    def __init__(self) -> None:
        self.pending: queue.Queue = queue.Queue()
        self.answers: dict[str, queue.Queue] = {}
        self.first_poll_at: float | None = None
        self.polls = 0
        self.first_poll = threading.Event()
        self.handed_out_at: dict[str, float] = {}
        self.answered_at: dict[str, float] = {}
        super().__init__(_RuntimeHandler)

    def invoke(self, event: dict, timeout_ms: int = 30_000, wait: float = 60) -> tuple[str, dict]:
        request_id = self.last_request_id = str(uuid.uuid4())
        self.answers[request_id] = queue.Queue()
        deadline_ms = int(time.time() * 1000) + timeout_ms
        self.pending.put((request_id, deadline_ms, json.dumps(event).encode()))
        return self.answers[request_id].get(timeout=wait)


class _RuntimeHandler(_Handler):
    PREFIX = "/2018-06-01/runtime/invocation/"

    def do_GET(self) -> None:
        api: RuntimeApi = self.owner
        if self.path != self.PREFIX + "next":
            return self.reply(404, b"{}")
        api.polls += 1
        if api.first_poll_at is None:
            api.first_poll_at = time.monotonic()
            api.first_poll.set()
        request_id, deadline_ms, body = api.pending.get()
        api.handed_out_at[request_id] = time.monotonic()
        self.reply(
            200,
            body,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mailroom",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            },
        )

    def do_POST(self) -> None:
        api: RuntimeApi = self.owner
        body = self.body()
        rest = self.path[len(self.PREFIX):] if self.path.startswith(self.PREFIX) else ""
        request_id, _, kind = rest.partition("/")
        if kind not in ("response", "error") or request_id not in api.answers:
            return self.reply(404, b"{}")
        api.answered_at[request_id] = time.monotonic()
        self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        api.answers[request_id].put((kind, json.loads(body or b"null")))


# ---------------------------------------------------------------- AWS front door


class AwsFront(_Server):
    """One endpoint for every AWS call of the function (AWS_ENDPOINT_URL).

    * CodeCommit (JSON 1.1, X-Amz-Target CodeCommit_20150413.*): served from `repository`, a
      folder laid out as the templates repository; `codecommit_down` answers 503 instead.
    * SES v2 (REST JSON, /v2/email/...): forwarded to moto after `ses_delay` seconds, or
      answered 429 TooManyRequestsException when `throttle(raw_mime_text)` is true, or (for
      benchmarks, `ses_answers_itself`) accepted here so that a call takes `ses_delay` exactly.
    * DynamoDB (JSON 1.0, X-Amz-Target DynamoDB_20120810.*): forwarded to moto, its answer given
      `dynamodb_delay` seconds after the request at the soonest (moto's own time included, so a
      call takes that long exactly while moto is quicker), or answered with the error `dynamodb_fault(operation, request)`
      names (a code such as "ThrottlingException", HTTP 400; None: no fault), which moto itself
      never answers.
    * SNS (Query protocol, `Action=...` form bodies): `Publish` answered 400 `Throttling` when
      `sms_throttle(phone_number, message)` is true, else forwarded to moto (which keeps texts,
      `Moto.sms_messages`, and says numbers ending in 99 opted out).
    * Everything else (SQS): forwarded to moto.

    `calls` counts operations by "Service.Operation"."""

    def __init__(self, moto_url: str, repository: Path = EXAMPLES / "templates", commit: str = "c0ffee01") -> None:
        self.moto_url = moto_url
        self.repository = repository
        self.commit = commit
        self.codecommit_down = False
        self.throttle = lambda raw: False
        self.sms_throttle = lambda phone, message: False
        self.ses_delay = 0.0
        self.ses_answers_itself = False
        self.ses_arrivals: list[float] = []
        self.dynamodb_delay = 0.0
        self.dynamodb_fault = lambda operation, request: None
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        super().__init__(_FrontHandler)

    def count(self, operation: str) -> None:
        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def reset_counts(self) -> None:
        with self.lock:
            self.calls = {}

    def total(self, service: str | None = None) -> int:
        with self.lock:
            return sum(n for op, n in self.calls.items() if service is None or op.startswith(service + "."))


class _FrontHandler(_Handler):
    def do_POST(self) -> None:
        front: AwsFront = self.owner
        body = self.body()
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith("CodeCommit_20150413."):
            operation = target.split(".", 1)[1]
            front.count(f"CodeCommit.{operation}")
            return self.codecommit(front, operation, json.loads(body or b"{}"))
        if self.path.startswith("/v2/email/outbound-emails"):
            front.count("SESv2.SendEmail")
            front.ses_arrivals.append(time.monotonic())
            request = json.loads(body or b"{}")
            raw = base64.b64decode(request.get("Content", {}).get("Raw", {}).get("Data", "")).decode("utf-8", "replace")
            if front.ses_delay:
                time.sleep(front.ses_delay)
            if front.throttle(raw):
                error = {"__type": "TooManyRequestsException", "message": "Maximum sending rate exceeded."}
                return self.reply(429, json.dumps(error).encode(), {
                    "Content-Type": "application/json",
                    "X-Amzn-ErrorType": "TooManyRequestsException",
                })
            if front.ses_answers_itself:
                answer = {"MessageId": f"stub-{uuid.uuid4().hex}"}
                return self.reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        elif not target and b"Action=" in body:
            form = urllib.parse.parse_qs(body.decode())
            action = form.get("Action", [""])[0]
            front.count(f"SNS.{action}")
            phone, message = form.get("PhoneNumber", [""])[0], form.get("Message", [""])[0]
            if action == "Publish" and front.sms_throttle(phone, message):
                error = ('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
                         "<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t</RequestId></ErrorResponse>")
                return self.reply(400, error.encode(), {"Content-Type": "text/xml"})
        elif target.startswith("AmazonSQS."):
            front.count("SQS." + target.split(".", 1)[1])
        elif target.startswith("DynamoDB_20120810."):
            operation = target.split(".", 1)[1]
            front.count(f"DynamoDB.{operation}")
            code = front.dynamodb_fault(operation, json.loads(body or b"{}"))
            if code:
                error = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}
                return self.reply(400, json.dumps(error).encode(), {"Content-Type": "application/x-amz-json-1.0"})
            return self.forward(front, body, at_least=front.dynamodb_delay)
        else:
            front.count("other." + self.path)
        self.forward(front, body)

    def forward(self, front: AwsFront, body: bytes, at_least: float = 0.0) -> None:
        """Moto's answer, given no sooner than `at_least` seconds after the request came."""
        started = time.monotonic()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(front.moto_url + self.path, data=body, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload, answer_headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, payload, answer_headers = error.code, error.read(), error.headers
        left = at_least - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)
        keep = {k: v for k, v in answer_headers.items() if k.lower() in ("content-type", "x-amzn-requestid", "x-amzn-errortype", "x-amzn-query-error")}
        self.reply(status, payload, keep)

    def codecommit(self, front: AwsFront, operation: str, request: dict) -> None:
        if front.codecommit_down:
            error = {"__type": "ServiceUnavailableException", "message": "CodeCommit is unavailable"}
            return self.reply(503, json.dumps(error).encode(), {"Content-Type": "application/x-amz-json-1.1"})
        root = front.repository
        if operation == "GetBranch":
            answer = {"branch": {"branchName": request.get("branchName"), "commitId": front.commit}}
        elif operation == "GetFolder":
            folder = request.get("folderPath", "/").strip("/")
            path = root / folder
            if not path.is_dir():
                return self.error(400, "FolderDoesNotExistException", f"{folder} does not exist")
            files, folders = [], []
            for child in sorted(path.iterdir()):
                absolute = f"{folder}/{child.name}" if folder else child.name
                entry = {"absolutePath": absolute, "relativePath": child.name, "treeId" if child.is_dir() else "blobId": "0" * 40}
                if child.is_dir():
                    folders.append(entry)
                else:
                    files.append({**entry, "fileMode": "NORMAL"})
            answer = {"commitId": front.commit, "folderPath": folder or "/", "treeId": "1" * 40, "subFolders": folders, "files": files}
        elif operation == "GetFile":
            name = request.get("filePath", "").strip("/")
            path = root / name
            if not path.is_file():
                return self.error(400, "FileDoesNotExistException", f"{name} does not exist")
            content = path.read_bytes()
            answer = {
                "commitId": front.commit,
                "blobId": "0" * 40,
                "filePath": name,
                "fileMode": "NORMAL",
                "fileSize": len(content),
                "fileContent": base64.b64encode(content).decode(),
            }
        else:
            return self.error(400, "InvalidActionException", operation)
        self.reply(200, json.dumps(answer).encode(), {"Content-Type": "application/x-amz-json-1.1"})

    def error(self, status: int, code: str, message: str) -> None:
        self.reply(status, json.dumps({"__type": code, "message": message}).encode(), {"Content-Type": "application/x-amz-json-1.1"})


# ---------------------------------------------------------------- the function


class Function:
    """The real `bootstrap` binary, talking to `runtime` and to AWS through `front`."""

    def __init__(self, runtime: RuntimeApi, front: AwsFront, env: dict[str, str], binary: Path | None = None) -> None:
        self.runtime = runtime
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mailroom-bootstrap-{uuid.uuid4().hex}.log"
        self.log = open(self.log_path, "wb")
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.port}",
            "AWS_LAMBDA_FUNCTION_NAME": "mailroom",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_STREAM_NAME": "test",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/mailroom",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            # As in Lambda: no ~/.aws files, credentials from the environment.
            "HOME": "/nonexistent",
            "AWS_ENDPOINT_URL": front.url,
            "REGION": REGION,
            "CODECOMMIT_REPO": "email-templates",
            **env,
        }
        self.started_at = time.monotonic()
        self.process = subprocess.Popen([str(binary or bootstrap_path())], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)

    def invoke(self, event: dict, timeout_ms: int = 30_000) -> tuple[str, dict]:
        if self.process.poll() is not None:
            raise RuntimeError(f"the function exited with {self.process.returncode}:\n{self.output()}")
        return self.runtime.invoke(event, timeout_ms)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict]:
        lines = []
        for line in self.output().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return lines

    def stop(self, keep_log: bool = False) -> None:
        """Stops the process; its log is removed unless the caller keeps it (and removes it)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        if not keep_log:
            self.log_path.unlink(missing_ok=True)


# ---------------------------------------------------------------- SQS as Lambda sees it


class Queues:
    """A work queue with a dead-letter queue (redrive after 5 receives), standard or FIFO."""

    def __init__(self, moto: Moto, name: str, fifo: bool = False, visibility_timeout: int = 180) -> None:
        self.sqs = moto.client("sqs")
        self.fifo = fifo
        suffix = ".fifo" if fifo else ""
        fifo_attributes = {"FifoQueue": "true"} if fifo else {}
        self.dlq_url = self.sqs.create_queue(QueueName=f"{name}-dlq{suffix}", Attributes=fifo_attributes)["QueueUrl"]
        dlq_arn = self.arn(self.dlq_url)
        self.url = self.sqs.create_queue(
            QueueName=f"{name}{suffix}",
            Attributes={
                **fifo_attributes,
                "VisibilityTimeout": str(visibility_timeout),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            },
        )["QueueUrl"]
        self.queue_arn = self.arn(self.url)

    def arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def send(self, messages: list[Message], group: str = "g1") -> None:
        for index, message in enumerate(messages):
            extra = {"MessageGroupId": group, "MessageDeduplicationId": f"{group}-{index}-{uuid.uuid4().hex}"} if self.fifo else {}
            if message.attributes:
                extra["MessageAttributes"] = message.attributes
            self.sqs.send_message(QueueUrl=self.url, MessageBody=message.body, **extra)

    def receive_event(self, max_records: int = 10) -> dict:
        """Receives up to `max_records` like the event source mapping does, as a Lambda event."""
        records = []
        while len(records) < max_records:
            answer = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(10, max_records - len(records)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            records.extend(self.record(m) for m in messages)
        return {"Records": records}

    def record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {"dataType": value["DataType"], "stringValue": value.get("StringValue")}
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }

    def acknowledge(self, event: dict, response: dict) -> None:
        """What the event source mapping does with a partial batch response: delete every
        record not listed as failed."""
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures") or []}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])

    def counts(self, url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the queue (or of `url`)."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def dead_letters(self) -> list[dict]:
        answer = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
        )
        return answer.get("Messages", [])


@dataclass(frozen=True)
class Message:
    """A message as a producer sends it: body and message attributes (SQS API form)."""

    body: str
    attributes: dict = field(default_factory=dict)


def example_messages(name: str = "quickstart.json") -> list[Message]:
    """The messages of an example event, to send through a real queue."""
    event = json.loads((EXAMPLES / "events" / name).read_text())
    return [
        Message(
            record["body"],
            {
                key: {"DataType": value["dataType"], "StringValue": value["stringValue"]}
                for key, value in (record.get("messageAttributes") or {}).items()
                if value.get("stringValue") is not None
            },
        )
        for record in event["Records"]
    ]


# ---------------------------------------------------------------- lookup tables


LOOKUP_TABLE = "enrollments"


def dynamodb_item(entry: dict) -> dict:
    """A lookup fixture entry (examples/templates/lookups.json) as the DynamoDB item it stands
    for: its key as string attributes, then its `item` (plain JSON) or `Item` (DynamoDB JSON)."""
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer

    if "Item" in entry:
        item = dict(entry["Item"])
    else:
        plain = json.loads(json.dumps(entry["item"]), parse_float=Decimal)
        serializer = TypeSerializer()
        item = {name: serializer.serialize(value) for name, value in plain.items()}
    for name, value in entry["key"].items():
        item[name] = {"S": str(value)}
    return item


def seed_lookups(moto: Moto, fixtures: Path = EXAMPLES / "templates" / "lookups.json", extra: list[dict] = ()) -> None:
    """The example routes' lookup table in moto (`PK`, `SK`, strings), holding what the lookup
    fixtures hold, plus `extra` DynamoDB items."""
    dynamodb = moto.client("dynamodb")
    dynamodb.create_table(
        TableName=LOOKUP_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
    )
    for entry in json.loads(fixtures.read_text())[LOOKUP_TABLE]:
        dynamodb.put_item(TableName=LOOKUP_TABLE, Item=dynamodb_item(entry))
    for item in extra:
        dynamodb.put_item(TableName=LOOKUP_TABLE, Item=item)


def student_item(student_id: str, first_name: str, email: str) -> dict:
    """A student profile as the example routes read it."""
    return {
        "PK": {"S": f"STUDENT#{student_id}"},
        "SK": {"S": "PROFILE"},
        "firstName": {"S": first_name},
        "name": {"S": f"{first_name} Example"},
        "email": {"S": email},
    }


def enrollment_completed(student_id: str, course_id: str = "rust-backend-101") -> str:
    """The ids-only EnrollmentCompleted event, as its producer publishes it."""
    return json.dumps({
        "eventType": "EnrollmentCompleted",
        "studentId": student_id,
        "courseId": course_id,
        "enrollmentType": "paid",
        "enrolledAt": "2026-11-23T09:58:12Z",
        "source": "auto",
    })


def example_repository_with(folder: Path, **routes_changes) -> Path:
    """A copy of examples/templates/ (a templates repository: routes.json beside the templates)
    with top-level routes.json fields replaced, e.g. a shorter retry policy."""
    import shutil

    repository = folder / "repository"
    shutil.copytree(EXAMPLES / "templates", repository)
    routes = json.loads((repository / "routes.json").read_text())
    routes.update(routes_changes)
    (repository / "routes.json").write_text(json.dumps(routes))
    return repository
