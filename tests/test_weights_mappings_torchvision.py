"""torchvision's state dicts, written by torch itself, loaded into keras_fcn's nets by name."""

import keras
import numpy as np
import pytest
import resnet_reference
import torchvision_segmentation_reference as segmentation_reference

from keras_fcn.backbones import TORCHVISION, resnet
from keras_fcn.models import TorchvisionDeepLabV3, TorchvisionFCN
from keras_fcn.weights.mappings.torchvision import (
    load_torchvision_weights,
    torchvision_name,
    torchvision_state_dict,
)

torch = pytest.importorskip("torch")

IMAGES = np.random.default_rng(4).normal(0, 1, (1, 3, 33, 39))


def save_state_dict(path, parameters: dict) -> str:
    """`torch.save` of the parameters as float32 tensors, with BN's counters as torch has them."""
    state = {
        name: torch.from_numpy(np.asarray(value, np.float32)) for name, value in parameters.items()
    }
    for name in [name for name in parameters if name.endswith("running_var")]:
        state[name.replace("running_var", "num_batches_tracked")] = torch.tensor(7)
    torch.save(state, path)
    return str(path)


@pytest.fixture(scope="module")
def backbone():
    images = keras.Input((None, None, 3))
    return keras.Model(images, resnet(images, layout=TORCHVISION, output_stride=8)["P5"])


def test_a_torch_written_backbone_computes_torchvision_resnet50(tmp_path, backbone):
    parameters = resnet_reference.random_parameters(np.random.default_rng(5))
    state = {f"backbone.{name}": value for name, value in parameters.items()}
    state["aux_classifier.4.weight"] = np.ones((21, 256, 1, 1))
    path = save_state_dict(tmp_path / "net.pth", state)
    report = load_torchvision_weights(backbone, path)
    assert report.skipped == {"aux_classifier.4": "the auxiliary head is not built (aux=False)"}
    assert "backbone.layer3.5.conv2" in report.loaded and "backbone.bn1" in report.loaded
    expected = resnet_reference.torchvision_resnet50(IMAGES, parameters)["P5"]
    actual = keras.ops.convert_to_numpy(
        backbone(np.transpose(IMAGES, (0, 2, 3, 1)).astype("float32"))
    )
    assert resnet_reference.relative_error(np.transpose(actual, (0, 3, 1, 2)), expected) <= 1e-5


def test_a_file_missing_a_module_or_of_another_shape_is_named(tmp_path, backbone):
    parameters = resnet_reference.random_parameters(np.random.default_rng(6))
    state = {f"backbone.{name}": value for name, value in parameters.items()}
    state["decoder.0.weight"] = np.ones((2, 2, 1, 1))
    with pytest.raises(ValueError, match=r"other.pth is not the file.*lacks: decoder.0"):
        load_torchvision_weights(backbone, save_state_dict(tmp_path / "other.pth", state))
    del state["decoder.0.weight"]
    del state["backbone.layer4.2.bn3.running_var"]
    with pytest.raises(ValueError, match=r"layer 'backbone.layer4.2.bn3' holds blobs of shapes"):
        load_torchvision_weights(backbone, save_state_dict(tmp_path / "short.pth", state))
    state = {f"backbone.{name}": value for name, value in parameters.items()}
    state["backbone.layer1.0.conv2.weight"] = np.ones((64, 64, 5, 5))
    with pytest.raises(
        ValueError, match=r"wide.pth: layer 'backbone.layer1.0.conv2'.*\(64, 64, 3, 3\)"
    ):
        load_torchvision_weights(backbone, save_state_dict(tmp_path / "wide.pth", state))


def test_head_layers_map_to_torchvisions_modules():
    names = {
        "aspp_0_conv": "classifier.0.convs.0.0",
        "aspp_2_bn": "classifier.0.convs.2.1",
        "aspp_pooling_conv": "classifier.0.convs.4.1",
        "aspp_projection_bn": "classifier.0.project.1",
        "head_conv": "classifier.1",
        "head_bn": "classifier.2",
        "logits": "classifier.4",
        "aux_head_conv": "aux_classifier.0",
        "aux_logits": "aux_classifier.4",
        "conv5_block3_3_bn": "backbone.layer4.2.bn3",
        "conv2_block1_0_conv": "backbone.layer1.0.downsample.0",
    }
    assert {name: torchvision_name(name) for name in names} == names
    assert torchvision_name("head_bn", deeplab_head=False) == "classifier.1"


@pytest.mark.parametrize(
    "head, builder, aux",
    [("deeplabv3", TorchvisionDeepLabV3, False), ("fcn", TorchvisionFCN, True)],
    ids=["deeplabv3", "fcn-with-aux"],
)
def test_a_torch_written_net_loads_and_computes_torchvisions_logits(tmp_path, head, builder, aux):
    """The whole net, backbone and head, from a state dict torch wrote with its aux head."""
    parameters = segmentation_reference.random_parameters(np.random.default_rng(7), head, 21, True)
    state = {  # torchvision's keys: the backbone's under "backbone."
        name if name.startswith(("classifier.", "aux_classifier.")) else f"backbone.{name}": value
        for name, value in parameters.items()
    }
    path = save_state_dict(tmp_path / f"{head}.pth", state)
    model = builder(21, depth=50, aux=aux)
    report = load_torchvision_weights(model, path)
    skipped = {name for name in parameters if name.startswith("aux_classifier.")}
    assert set(report.skipped) == (
        {name.rsplit(".", 1)[0] for name in skipped} if not aux else set()
    )
    images = np.random.default_rng(8).uniform(0, 255, (1, 3, 35, 45))
    expected = segmentation_reference.segmentation_model(images, parameters, head)
    outputs = model(np.transpose(images, (0, 2, 3, 1)).astype("float32"))
    actual = keras.ops.convert_to_numpy(outputs["out"] if aux else outputs)
    error = resnet_reference.relative_error(np.transpose(actual, (0, 3, 1, 2)), expected["out"])
    assert error <= 1e-5


def test_the_state_dict_written_back_is_the_file_torch_wrote(tmp_path):
    """`torchvision_state_dict` inverts the loader: torchvision's keys, shapes and values."""
    parameters = segmentation_reference.random_parameters(np.random.default_rng(9), "fcn", 3, True)
    state = {
        name if name.startswith(("classifier.", "aux_classifier.")) else f"backbone.{name}": value
        for name, value in parameters.items()
        if not name.endswith("num_batches_tracked")
    }
    model = TorchvisionFCN(3, depth=50, aux=True)
    load_torchvision_weights(model, save_state_dict(tmp_path / "fcn.pth", state))

    written = torchvision_state_dict(model)

    assert sorted(written) == sorted(state)
    for name, value in state.items():
        np.testing.assert_allclose(written[name], value, rtol=1e-6, err_msg=name)
    reloaded = TorchvisionFCN(3, depth=50, aux=True)
    load_torchvision_weights(reloaded, save_state_dict(tmp_path / "again.pth", written))
    for source, copy in zip(model.weights, reloaded.weights, strict=True):
        np.testing.assert_array_equal(copy, source)
