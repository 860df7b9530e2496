"""The lab's counter: every GET / increments `hits` in redis."""

import os
import socket

from flask import Flask
from redis import Redis, RedisError
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry


def read_password():
    """The redis password from the secret file REDIS_PASSWORD_FILE names (None without one)."""
    path = os.environ.get("REDIS_PASSWORD_FILE")
    if not path:
        return None
    with open(path) as f:
        return f.read().strip() or None


app = Flask(__name__)
server = {
    "host": os.environ.get("REDIS_HOST", "127.0.0.1"),
    "port": int(os.environ.get("REDIS_PORT", "6379")),
    "password": read_password(),
}
redis = Redis(
    **server,
    socket_connect_timeout=1,
    socket_timeout=2,
    # Reconnect after redis restarts or moves (a new container, a new address).
    # Not on timeouts: an INCR that timed out may have counted already.
    health_check_interval=10,
    retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
    retry_on_error=[RedisConnectionError],
)
# Health checks answer fast, without retries: 503 within about a second.
probe = Redis(
    **server,
    socket_connect_timeout=1,
    socket_timeout=1,
)


@app.route("/")
def hello():
    try:
        hits = redis.incr("hits")
    except RedisError as exc:
        return f"redis unavailable: {exc}\n", 503
    return f"Hello Container World! I have been seen {hits} times and my hostname is {socket.gethostname()}.\n"


@app.route("/healthz")
def healthz():
    try:
        probe.ping()
    except RedisError as exc:
        return f"redis unavailable: {exc}\n", 503
    return "ok\n"


if __name__ == "__main__":
    # How the original lab ran it: flask's development server, debug on.
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "5000")), debug=True)
