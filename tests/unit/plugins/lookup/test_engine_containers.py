"""lab.multihost.engine_containers asks an engine's API on a unix socket which containers run.

The engine here is a real HTTP server on a unix socket in a temporary directory that answers
GET /containers/json as dockerd does (its body trimmed to the field read); no dockerd is needed."""

import http.server
import json
import socketserver
import threading

import pytest
from ansible.errors import AnsibleLookupError
from ansible_collections.lab.multihost.plugins.lookup.engine_containers import engine_socket, running_names

LISTED = [{'Id': 'a1', 'Names': ['/docker-node2'], 'State': 'running'},
          {'Id': 'b2', 'Names': ['/docker-node1'], 'State': 'running'}]


class _Engine(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps(LISTED).encode() if self.path == '/containers/json' else b'{}'
        self.send_response(200 if self.path == '/containers/json' else 404)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        return super().get_request()[0], ('local', 0)


@pytest.fixture
def engine(tmp_path):
    path = str(tmp_path / 'docker.sock')
    server = _UnixServer(path, _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path
    server.shutdown()
    server.server_close()


def test_the_running_containers_by_name(engine):
    assert running_names(engine) == ['docker-node1', 'docker-node2']


def test_an_engine_that_does_not_answer_is_named(tmp_path):
    with pytest.raises(AnsibleLookupError, match='does not answer on .*nothing.sock'):
        running_names(str(tmp_path / 'nothing.sock'))


def test_the_socket_docker_host_names_or_the_default():
    assert engine_socket({'DOCKER_HOST': 'unix:///run/user/0/docker.sock'}) == '/run/user/0/docker.sock'
    assert engine_socket({'DOCKER_HOST': 'tcp://10.0.0.1:2376'}) == '/var/run/docker.sock'
    assert engine_socket({}) == '/var/run/docker.sock'
