"""Random JSON thrown at every argument of every named endpoint of the running app (hypothesis).

Whatever a client sends (None, booleans, huge numbers, NaN, strings, lists, dicts, file references that
point nowhere), the answer is a result or a message for a person: no Python exception text reaches the
client, and the server keeps answering.
"""

from __future__ import annotations

import re

import pytest
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_bad_input import assert_server_answers, call_with_raw_json

# What Python's own error text looks like, as opposed to the app's messages.
PYTHON_ERROR_TEXT = re.compile(
    r"Traceback|\b[A-Z]\w*(Error|Exception)\b|unhashable|has no attribute|NoneType|Errno|not subscriptable|"
    r"validation errors? for|input_value=|Expected a `|object is not|argument must be|takes \d+ positional"
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["", "nan", "None", "DCGAN", "Automatic", "text-gpt2-small", "text-lstm", "../../etc/passwd", "🦊" * 5]
    ),
)
file_references = st.fixed_dictionaries(
    {},
    optional={
        "path": st.one_of(st.none(), st.text(max_size=20), st.integers(), st.just("/etc/passwd")),
        "url": st.one_of(st.none(), st.text(max_size=20), st.just("data:image/png;base64,AAAA")),
        "meta": st.just({"_type": "gradio.FileData"}),
    },
)
json_values = st.recursive(
    st.one_of(scalars, file_references),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def endpoint_arities(client) -> dict[str, int]:
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    return {name: len(info["parameters"]) for name, info in endpoints.items()}


@pytest.fixture(scope="module")
def arities(tiny_client) -> dict[str, int]:
    return endpoint_arities(tiny_client)


def shows_python_error(message: str) -> bool:
    return bool(PYTHON_ERROR_TEXT.search(message))


def test_the_pattern_catches_python_error_text():
    assert shows_python_error("[Errno 2] No such file or directory: 'None'")
    assert shows_python_error("unhashable type: 'list'")
    assert shows_python_error("TypeError: '>' not supported")
    assert not shows_python_error("Count must be a number, got NaN.")
    assert not shows_python_error("No image was given for “Face photo”: upload one (or pick an example) first.")


@pytest.mark.parametrize(
    "endpoint",
    [
        "/reconstruct_digit", "/sample_digits", "/interpolate_digits", "/generate_faces", "/interpolate_faces",
        "/glasses_arithmetic", "/edit_glasses", "/interpolate_vae", "/sample_vae_faces", "/translate_hair",
        "/complete_text", "/model_card", "/model_status",
    ],
)  # fmt: skip
def test_random_json_gets_a_result_or_a_message(tiny_client, arities, endpoint):
    if endpoint not in arities:
        pytest.fail(f"{endpoint} is not a named endpoint of the app any more: update this list")

    @settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(json_values, min_size=arities[endpoint], max_size=arities[endpoint]))
    def check(arguments):
        try:
            call_with_raw_json(tiny_client, endpoint, *arguments)
        except AppError as error:
            message = str(error)
            assert message and not shows_python_error(message), f"{endpoint}{tuple(arguments)!r}: {message}"

    check()
    assert_server_answers(tiny_client)
