"""Every named endpoint of the app is documented in the README and answers a valid call.

The list of endpoints comes from the running app itself, so a new endpoint without a README
example or a call here makes this test fail.
"""

import pytest
from gradio_client import handle_file

from benchmarks.server import ROOT
from training.faces import cartoon_face
from training.mnist import draw_digit

PRESET = "man with glasses - man without + woman without = woman with glasses"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    import numpy as np

    folder = tmp_path_factory.mktemp("api-inputs")
    draw_digit("one").save(folder / "one.png")
    draw_digit("zero").save(folder / "zero.png")
    cartoon_face(200, {"Blond_Hair": 0, "Eyeglasses": 0}, np.random.default_rng(0)).save(folder / "face.png")
    return {name: handle_file(str(folder / f"{name}.png")) for name in ("one", "zero", "face")}


def valid_calls(inputs: dict) -> dict[str, tuple]:
    """One valid argument list per endpoint, and what the answer must hold (a check on the result)."""
    return {
        "/reconstruct_digit": ((inputs["one"],), lambda result: len(result) == 4),
        "/sample_digits": ((3, 0), lambda result: len(result) == 3),
        "/interpolate_digits": ((inputs["one"], inputs["zero"], 4), lambda result: len(result) == 4),
        "/beta_vae": ((inputs["one"], "4"), lambda result: len(result) == 2 and len(result[1]) == 5),
        "/compare_betas": ((inputs["zero"], 0), lambda result: len(result[0]) == len(result[1]) == 3),
        "/generate_faces": ((3, 0, 1.0, "DCGAN"), lambda result: len(result) == 3),
        "/interpolate_faces": ((0, 1, 4, 1.0), lambda result: len(result[0]) == 4 and result[1].endswith(".gif")),
        "/conditional_faces": ((3, 0, "with glasses"), lambda result: len(result) == 3),
        "/slide_glasses": ((0, 0.5), lambda result: len(result) == 2 and len(result[1]) == 9),
        "/glasses_arithmetic": ((PRESET, 0, 0, 0, 0, None, None, None, None), lambda result: len(result[1]) == 3),
        "/edit_glasses": ((inputs["face"], 1.5), lambda result: len(result) == 2),
        "/interpolate_vae": ((inputs["face"], inputs["face"], 3), lambda result: len(result) == 3),
        "/sample_vae_faces": ((2, 0), lambda result: len(result) == 2),
        "/translate_hair": ((inputs["face"], "Automatic"), lambda result: "Automatic" in result[3]),
        "/complete_text": (
            ("The fox", 5, 0.8, 50, 0.95, 1.1, 0, None),
            lambda result: result[0].startswith("The fox") and "tokens/s" in result[1],
        ),
        "/model_card": (("faces-dcgan",), lambda result: "## Training" in result),
        "/model_status": ((), lambda result: "faces-dcgan" in result),
    }


def named_endpoints(client) -> set[str]:
    return set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])


def test_every_endpoint_has_a_call_here_and_an_example_in_the_readme(tiny_client, inputs):
    endpoints = named_endpoints(tiny_client)
    assert endpoints == set(valid_calls(inputs))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [name for name in sorted(endpoints) if f'api_name="{name}"' not in readme] == []


@pytest.mark.parametrize("endpoint", sorted(valid_calls({"one": None, "zero": None, "face": None})))
def test_endpoint_answers_a_valid_call(tiny_client, inputs, endpoint):
    arguments, check = valid_calls(inputs)[endpoint]
    assert check(tiny_client.predict(*arguments, api_name=endpoint))
