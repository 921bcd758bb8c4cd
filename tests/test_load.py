"""The load test in short (benchmarks/load.py): 4 concurrent clients for about 10 s on the tiny models.

It checks that the app stays correct under concurrent use, every tab at once and text streaming
next to the image tabs: no errors, every endpoint of the mix called, the server still answering
afterwards. It asserts no timings; `python -m benchmarks.load` measures them.
"""

from benchmarks.load import mix_cases, run_load, server_answers, text_client_count
from benchmarks.run import make_input_files
from benchmarks.server import running_app


def test_short_load_run_has_no_errors(tiny_weights, tmp_path):
    cases = mix_cases(make_input_files(tmp_path), tiny_weights)
    assert any(case.is_text for case in cases) and any(case.api_name == "/translate_hair" for case in cases)
    clients = 4
    with running_app(tmp_path / "app.log", "--weights-dir", str(tiny_weights)) as url:
        result = run_load(url, cases, clients, seconds=10, text_clients=text_client_count(clients, cases))
        answers = server_answers(url)
    errors = {name: figures["first_error"] for name, figures in result.by_case().items() if figures["errors"]}
    assert result.errors == 0, errors
    assert {call.case for call in result.calls} == set(cases)  # every endpoint of the mix was called
    assert answers
