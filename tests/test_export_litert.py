"""LiteRT exports run in a process that has the LiteRT interpreter and numpy only."""

import export_checks
import numpy as np
import pytest

from keras_fcn.export.layout import OUTPUTS
from keras_fcn.export.litert import (
    check_input_size,
    resize_image,
    write_litert,
)
from keras_fcn.export.runtimes import litert_function

pytestmark = pytest.mark.slow  # two conversions and a calibration: tens of seconds

SIZE = (48, 40)

# The LiteRT interpreter's part of the fresh process (`export_checks.run_alone`).
RUNTIME = """
from ai_edge_litert.interpreter import Interpreter

interpreter = Interpreter(model_path=sys.argv[1])
run = interpreter.get_signature_runner()


def segment(images):
    outputs = run(images=images)
    return outputs["class_ids"], outputs.get("probabilities", np.zeros(0))


details = interpreter.get_input_details()[0]
described = {
    "input": [details["name"], details["shape_signature"].tolist(), str(details["dtype"])],
    "signature": interpreter.get_signature_list(),
    "int8_tensors": sum(t["dtype"] == np.int8 for t in interpreter.get_tensor_details()),
}
"""


@pytest.fixture(scope="module")
def exports(small_fcn, tmp_path_factory):
    directory = tmp_path_factory.mktemp("litert")
    calibration = export_checks.synthetic_calibration_images()
    paths = {}
    # float32 with the probabilities, to compare them; int8 with the default, class ids only.
    for precision, outputs in (("float32", OUTPUTS), ("int8", ("class_ids",))):
        (directory / precision).mkdir()
        info = write_litert(
            small_fcn, str(directory / precision), precision, calibration, SIZE, outputs
        )
        assert (info.format, info.precision, info.input_size) == ("litert", precision, SIZE)
        assert info.outputs == outputs
        paths[precision] = str(directory / precision / info.artefact)
    return paths


def test_float32_export_runs_in_the_litert_interpreter_alone(small_fcn, exports, tmp_path):
    [images] = export_checks.synthetic_images((2, *SIZE))
    described, [(class_ids, probabilities)] = export_checks.run_alone(
        RUNTIME, exports["float32"], [images], tmp_path
    )
    assert described["modules"] == []
    assert described["input"][1:] == [[-1, *SIZE, 3], "<class 'numpy.uint8'>"]
    assert described["signature"]["serving_default"] == {
        "inputs": ["images"],
        "outputs": ["class_ids", "probabilities"],
    }
    export_checks.assert_float32_export_segments_like_keras(
        class_ids, probabilities, small_fcn, images
    )


def test_int8_export_is_full_integer_and_agrees_with_float32(small_fcn, exports, tmp_path):
    [images] = export_checks.synthetic_images((2, *SIZE), seed=20)
    described, [(class_ids, _)] = export_checks.run_alone(
        RUNTIME, exports["int8"], [images], tmp_path
    )
    assert described["modules"] == []
    assert described["signature"]["serving_default"]["outputs"] == ["class_ids"]
    assert described["input"][2] == "<class 'numpy.uint8'>"  # raw pixels in, as float32's
    assert described["int8_tensors"] >= 40  # weights and activations of every layer
    expected_ids, _ = export_checks.keras_outputs(small_fcn, images)
    # Every tensor is int8 here, the logits included, and the test net is random (its classes
    # are often close): 0.987 of its pixels agree. The accuracy guard decides on real data.
    assert np.mean(class_ids == expected_ids) > 0.95


def test_litert_function_takes_the_export_size_only(exports):
    segment = litert_function(exports["float32"], threads=1)
    assert segment(export_checks.synthetic_images((1, *SIZE))[0]).shape == (1, *SIZE)
    with pytest.raises(ValueError, match="takes 48×40 images only, received 64×64"):
        segment(np.zeros((1, 64, 64, 3), "uint8"))


def test_the_input_size_is_required_and_checked(small_fcn, tmp_path):
    with pytest.raises(ValueError, match="--input-size HEIGHT WIDTH"):
        write_litert(small_fcn, str(tmp_path))
    with pytest.raises(ValueError, match="input_size=\\(height, width\\)"):
        check_input_size((512, 0))
    with pytest.raises(ValueError, match="float32 or int8"):
        write_litert(small_fcn, str(tmp_path), "bfloat16", input_size=SIZE)


def test_resize_keeps_uint8_and_an_image_already_at_size():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    assert resize_image(image, (4, 6)) is image
    resized = resize_image(image, (2, 3))
    assert resized.dtype == np.uint8 and resized.shape == (2, 3, 3)


def test_int8_export_keeps_the_preprocessed_pixels(tmp_path):
    """The RGB→BGR flip and the mean subtraction survive full-integer quantization.

    The net is the preprocessing and a fixed 1×1 convolution scaling by 1/40, so that the
    probabilities are a smooth function of the preprocessed pixels: a flip whose int8 output
    is read with other quantization parameters than its input's (as LiteRT's REVERSE_V2
    once was) moves them by tenths.
    """
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from keras_fcn.backbones.preprocessing import VGGPreprocessing

    images = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(3, 1, use_bias=False)
    model = keras.Model(images, conv(VGGPreprocessing()(images)))
    conv.set_weights([np.eye(3, dtype="float32")[None, None] / 40])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (9, *SIZE, 3)).astype(np.uint8)
    write_litert(model, str(tmp_path), "int8", list(pixels[:8]), SIZE, OUTPUTS)
    runner = Interpreter(model_path=str(tmp_path / "model.tflite")).get_signature_runner()
    probabilities = runner(images=pixels[8:])["probabilities"]
    _, expected = export_checks.keras_outputs(model, pixels[8:])
    assert np.abs(probabilities - expected).max() < 0.03
