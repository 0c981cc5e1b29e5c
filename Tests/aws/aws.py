"""The AWS side of Tests/aws/aws.sh: a local AWS-compatible server, and boto3 to look at it.

  aws.py serve DIR      moto in server mode on 127.0.0.1, with its authentication on (every
                        request but the first few, which make the IAM user, must carry a valid
                        SigV4 signature), and in front of it a throttling proxy that answers
                        the first two messages it sees whose body holds "throttle-me" with
                        AWS's ThrottlingException, then passes them on. Writes DIR/ports
                        ("MOTO PROXY") and DIR/aws.json (keys, queue URLs, topic ARN), then
                        serves until killed (or 600 s).
  aws.py receive DIR QUEUE [N]   prints, as JSON lines, the messages of QUEUE (a key of
                        aws.json's queues), deleting them, after at least one receive of up
                        to 1 s, and until N arrived or 10 s passed.

Nothing here reaches AWS: every endpoint is 127.0.0.1.
"""
import http.client
import http.server
import json
import os
import sys
import threading
import time

REGION = "us-east-1"


def client(service, endpoint, keys):
    import boto3
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=keys[0], aws_secret_access_key=keys[1])


class ThrottlingProxy(http.server.BaseHTTPRequestHandler):
    """Answers the first two requests holding "throttle-me" as AWS does when it throttles;
    passes every other request to moto unchanged (the Host header too, which is signed)."""
    upstream = None
    throttled = 0
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            throttle = b"throttle-me" in body and ThrottlingProxy.throttled < 2
            if throttle:
                ThrottlingProxy.throttled += 1
        if throttle:
            answer = json.dumps({"__type": "com.amazonaws.sqs#ThrottlingException", "message": "Rate exceeded"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.0")
            self.send_header("x-amzn-query-error", "ThrottlingException;Sender")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=10)
        connection.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        answer = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def serve(work):
    # The first actions go unauthenticated: they make the IAM user whose keys sign the rest.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    from moto.server import ThreadedMotoServer
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    port = moto._server.server_port
    endpoint = f"http://127.0.0.1:{port}"

    import boto3
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint,
                       aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="setup")
    iam.create_user(UserName="httpq")
    iam.put_user_policy(UserName="httpq", PolicyName="all",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="httpq")["AccessKey"]
    keys = (key["AccessKeyId"], key["SecretAccessKey"])

    sqs = client("sqs", endpoint, keys)
    sns = client("sns", endpoint, keys)
    queues = {
        "orders": sqs.create_queue(QueueName="orders")["QueueUrl"],
        "fifo": sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"],
        "events": sqs.create_queue(QueueName="events")["QueueUrl"],
    }
    topic = sns.create_topic(Name="order-events")["TopicArn"]
    events_arn = sqs.get_queue_attributes(QueueUrl=queues["events"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=events_arn)

    ThrottlingProxy.upstream = port
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ThrottlingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()

    with open(os.path.join(work, "aws.json.tmp"), "w") as f:
        json.dump({"access_key_id": keys[0], "secret_access_key": keys[1], "endpoint": endpoint,
                   "proxy": f"http://127.0.0.1:{proxy.server_address[1]}", "queues": queues, "topic": topic}, f)
    os.rename(os.path.join(work, "aws.json.tmp"), os.path.join(work, "aws.json"))
    time.sleep(600)


def receive(work, queue, wanted):
    with open(os.path.join(work, "aws.json")) as f:
        aws = json.load(f)
    sqs = client("sqs", aws["endpoint"], (aws["access_key_id"], aws["secret_access_key"]))
    got = []
    deadline = time.time() + 10
    while True:   # at least one receive, so that wanting none still looks
        answer = sqs.receive_message(QueueUrl=aws["queues"][queue], MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in answer.get("Messages", []):
            got.append({"body": m["Body"],
                        "attributes": {k: v.get("StringValue", v.get("BinaryValue") and "binary")
                                       for k, v in m.get("MessageAttributes", {}).items()},
                        "group": m.get("Attributes", {}).get("MessageGroupId"),
                        "dedupe": m.get("Attributes", {}).get("MessageDeduplicationId")})
            sqs.delete_message(QueueUrl=aws["queues"][queue], ReceiptHandle=m["ReceiptHandle"])
        if len(got) >= wanted or time.time() > deadline:
            break
    for m in got:
        print(json.dumps(m, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    elif sys.argv[1] == "receive":
        receive(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    else:
        sys.exit(__doc__)
