"""The app when things go wrong: a Hub that hangs or refuses a revision, weights missing or corrupt.

Each test starts the real app (`python app.py`) on the tiny models; the "Hub" is a local socket
or a small HTTP server on the loopback, so no test needs the network.
"""

import http.server
import shutil
import socket
import threading

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from benchmarks.server import running_app


def status_lines(client: Client) -> dict[str, str]:
    """/model_status as {model name: its line}."""
    lines = client.predict(api_name="/model_status").splitlines()
    return {line.split("**")[1]: line.split("**: ", 1)[1] for line in lines}


@pytest.fixture
def silent_hub():
    """A "Hub" that accepts connections and never answers: the worst case of a bad network."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


class RevisionNotFound(http.server.BaseHTTPRequestHandler):
    """Answers every request as the Hub answers for a revision that does not exist."""

    def do_GET(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "RevisionNotFound")
        self.send_header("X-Error-Message", "Invalid rev id: nope")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"error": "Invalid rev id: nope"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def hub_without_the_revision():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RevisionNotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_hub_that_never_answers_falls_back_to_shipped_weights(tiny_weights, tmp_path, silent_hub):
    online = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": silent_hub, "HF_HUB_CACHE": str(tmp_path / "cache")}
    with running_app(tmp_path / "app.log", "--weights-dir", str(tiny_weights), env=online) as url:
        client = Client(url, verbose=False)
        status = status_lines(client)
        assert "Hub unreachable: no answer within 3 s" in status["digits-ae"]  # the 3 s deadline, said on the page
        assert all(line.startswith(("shipped weights", "disabled")) for line in status.values())
        assert len(client.predict(2, 0, api_name="/sample_digits")) == 2
    # (That only the first model waits, the others skipping the Hub, is tested in tests/test_loading.py.)


def test_bad_revision_is_named_on_the_page(tiny_weights, tmp_path, hub_without_the_revision):
    online = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub_without_the_revision, "HF_HUB_CACHE": str(tmp_path / "c")}
    args = ["--weights-dir", str(tiny_weights), "--repo", "digits-vae=someone/mnist-vae@nope"]
    with running_app(tmp_path / "app.log", *args, env=online) as url:
        status = status_lines(Client(url, verbose=False))
    assert "revision 'nope' not found in Hub repo someone/mnist-vae" in status["digits-vae"]
    assert status["digits-vae"].startswith("shipped weights")  # and the app carries on with its own copy


def test_one_corrupt_and_one_missing_model_disable_only_their_tabs(tiny_weights, tmp_path, digit_files):
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights, weights)
    (weights / "faces-vae" / "model.safetensors").write_bytes(b"not a safetensors file")
    shutil.rmtree(weights / "digits-ae")
    with running_app(tmp_path / "app.log", "--weights-dir", str(weights)) as url:
        client = Client(url, verbose=False)
        status = status_lines(client)
        assert status["faces-vae"].startswith("disabled") and "SafetensorError" in status["faces-vae"]
        assert status["digits-ae"].startswith("disabled: no weights found")
        with pytest.raises(AppError, match="The model 'faces-vae' is unavailable"):
            client.predict(4, 0, api_name="/sample_vae_faces")
        with pytest.raises(AppError, match="The model 'digits-ae' is unavailable"):
            client.predict(handle_file(str(digit_files["one"])), api_name="/reconstruct_digit")
        assert len(client.predict(3, 0, 1.0, "DCGAN", api_name="/generate_faces")) == 3  # the other tabs work
        assert len(client.predict(3, 0, api_name="/sample_digits")) == 3
