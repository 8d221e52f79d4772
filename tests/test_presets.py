"""The presets, loaded through `from_preset` from files the tests write with
fcn_release_reference's encoder: the FCN release's 14 against its numpy forward passes of the
Caffe nets, DeepLab's and Dilation's against the models whose weights the files hold (their
graphs are checked against raw-op prototxts in tests/test_models_deeplab.py and
tests/test_models_dilation.py)."""

import dataclasses
import hashlib
import os
import zipfile

import fcn_release_reference as ref
import keras
import numpy as np
import pytest

from keras_fcn import presets
from keras_fcn.backbones.vgg16 import CAFFE_CONV_NAMES, CONV_NAMES
from keras_fcn.models.deeplab import LARGE_FOV, build_deeplab
from keras_fcn.models.dilation import build_dilation
from keras_fcn.presets import PRESETS, from_preset

NARROW = 8
SIZE = (29, 43)  # not a multiple of 32

# The means of the release's data layers (voc_layers.py, pascalcontext_layers.py,
# siftflow_layers.py, nyud_layers.py), BGR; HHA in its own order.
VOC_MEAN = (104.00698793, 116.66876762, 122.67891434)
CONTEXT_MEAN = (104.007, 116.669, 122.679)
SIFT_FLOW_MEAN = (114.578, 115.294, 108.353)
NYUD_COLOR_MEAN = (116.190, 97.203, 92.318)
NYUD_HHA_MEAN = (132.431, 94.076, 118.477)

# The release's caffemodel-url files.
URLS = {
    "voc-fcn32s": "fcn32s-heavy-pascal",
    "voc-fcn16s": "fcn16s-heavy-pascal",
    "voc-fcn8s": "fcn8s-heavy-pascal",
    "voc-fcn8s-atonce": "fcn8s-atonce-pascal",
    "voc-fcn-alexnet": "fcn-alexnet-pascal",
    "pascalcontext-fcn32s": "pascalcontext-fcn32s-heavy",
    "pascalcontext-fcn16s": "pascalcontext-fcn16s-heavy",
    "pascalcontext-fcn8s": "pascalcontext-fcn8s-heavy",
    "siftflow-fcn32s": "siftflow-fcn32s-heavy",
    "siftflow-fcn16s": "siftflow-fcn16s-heavy",
    "siftflow-fcn8s": "siftflow-fcn8s-heavy",
    "nyud-fcn32s-color": "nyud-fcn32s-color-heavy",
    "nyud-fcn32s-hha": "nyud-fcn32s-hha-heavy",
    "nyud-fcn32s-color-hha": "nyud-fcn32s-color-hha-heavy",
}


def only(images: dict):
    (image,) = images.values()
    return image


def caffe_net(name: str, fc_units: int = NARROW):
    """The preset's parameter layers and its forward pass, from fcn_release_reference."""
    if name == "voc-fcn-alexnet":
        return ref.fcn_alexnet_layers(21, fc_units), lambda b, x: ref.fcn_alexnet(
            b, only(x), VOC_MEAN
        )
    if name == "nyud-fcn32s-color-hha":
        return ref.nyud_late_fusion_layers(40, fc_units), lambda b, x: ref.nyud_late_fusion(
            b, x["color"], x["hha"], NYUD_COLOR_MEAN, NYUD_HHA_MEAN
        )
    stride = next(stride for stride in ("32s", "16s", "8s") if f"-fcn{stride}" in name)
    if name.startswith("siftflow"):
        heads = {"_sem": 33, "_geo": 3}
        layers = ref.fcn_layers(stride, heads, fc_units)
        return layers, lambda b, x: {
            f"score{head}": ref.fcn(b, only(x), SIFT_FLOW_MEAN, stride, head) for head in heads
        }
    classes, mean, options = {
        "voc": (21, VOC_MEAN, {}),
        "pascalcontext": (60, CONTEXT_MEAN, {}),
        "nyud-fcn32s-color": (40, NYUD_COLOR_MEAN, {}),
        "nyud-fcn32s-hha": (40, NYUD_HHA_MEAN, {"reverse_channels": False}),
    }[name if name.startswith("nyud") else name.split("-")[0]]
    at_once = name.endswith("atonce")
    layers = ref.fcn_layers(stride, {"": classes}, fc_units, at_once=at_once)
    return layers, lambda b, x: ref.fcn(b, only(x), mean, stride, at_once=at_once, **options)


def write_caffemodel(path, name, seed=0, **options):
    layers = ref.random_blobs(caffe_net(name)[0], seed)
    path.write_bytes(ref.encode_net(layers, name=name, **options))
    return str(path), {layer: blobs for layer, _, blobs in layers if blobs}


def inputs_of(model, seed=1):
    rng = np.random.default_rng(seed)
    names = [tensor.name for tensor in model.inputs]
    return {name: rng.integers(0, 256, (1, *SIZE, 3)).astype("uint8") for name in names}


def outputs_of(model, images):
    outputs = model(images if len(images) > 1 else next(iter(images.values())))
    if isinstance(outputs, dict):
        return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}
    return keras.ops.convert_to_numpy(outputs)


@pytest.fixture(autouse=True)
def keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


FAMILY_REPRESENTATIVES = {
    "voc-fcn32s",
    "voc-fcn16s",
    "voc-fcn8s",
    "voc-fcn8s-atonce",
    "voc-fcn-alexnet",
    "siftflow-fcn16s",
    "nyud-fcn32s-hha",
    "nyud-fcn32s-color-hha",
}


@pytest.mark.parametrize(
    "name",
    [
        name if name in FAMILY_REPRESENTATIVES else pytest.param(name, marks=pytest.mark.slow)
        for name in URLS
    ],
)
def test_every_preset_loads_a_caffemodel_and_computes_the_caffe_net(tmp_path, name):
    path, blobs = write_caffemodel(tmp_path / f"{name}.caffemodel", name)
    model = from_preset(name, caffemodel=path, fc_units=NARROW)
    assert model.name == name
    images = inputs_of(model)
    expected = caffe_net(name)[1](blobs, {key: value[0] for key, value in images.items()})
    actual = outputs_of(model, images)
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected)
        pairs = [(actual[key], expected[key]) for key in expected]
    else:
        pairs = [(actual, expected)]
    for ours, theirs in pairs:
        assert ours.shape == theirs.shape and np.abs(theirs).max() > 0
        assert ref.relative_error(ours, theirs) <= 1e-5


def test_the_table_holds_the_releases_nets_urls_means_and_classes():
    refinenet = [f"{data}-refinenet{depth}" for data in REFINENET for depth in (101, 152)]
    assert list(PRESETS) == [*URLS, *SUCCESSORS, *TORCHVISION, *PSPNET, *refinenet]
    for name, file in URLS.items():
        assert PRESETS[name].url == f"http://dl.caffe.berkeleyvision.org/{file}.caffemodel"
        assert PRESETS[name].file_name == f"{file}.caffemodel"
    means = {name: [stream.mean for stream in p.streams] for name, p in PRESETS.items()}
    assert means["voc-fcn8s"] == means["voc-fcn-alexnet"] == [VOC_MEAN]
    assert means["pascalcontext-fcn16s"] == [CONTEXT_MEAN]
    assert means["siftflow-fcn8s"] == [SIFT_FLOW_MEAN]
    assert means["nyud-fcn32s-color-hha"] == [NYUD_COLOR_MEAN, NYUD_HHA_MEAN]
    assert [s.reverse_channels for s in PRESETS["nyud-fcn32s-color-hha"].streams] == [True, False]
    classes = {name: p.num_classes for name, p in PRESETS.items()}
    assert classes["voc-fcn8s"] == 21 and classes["pascalcontext-fcn8s"] == 60
    assert classes["siftflow-fcn32s"] == {"sem": 33, "geo": 3}
    assert classes["nyud-fcn32s-hha"] == 40
    assert PRESETS["pascalcontext-fcn8s"].class_names[59] == "wood"
    assert PRESETS["siftflow-fcn8s"].class_names["geo"] == ("sky", "horizontal", "vertical")
    assert PRESETS["nyud-fcn32s-color"].class_names[0] == "wall"
    assert PRESETS["voc-fcn8s"].palette[15].tolist() == [192, 128, 128]
    assert PRESETS["siftflow-fcn8s"].palette["sem"].shape == (33, 3)
    scores = {name: p.mean_iou for name, p in PRESETS.items() if p.mean_iou}
    assert scores == {
        "voc-fcn32s": 63.6,
        "voc-fcn16s": 65.0,
        "voc-fcn8s": 65.5,
        "voc-fcn8s-atonce": 65.4,
        "voc-fcn-alexnet": 48.0,
        "voc-deeplab-largefov": 62.25,  # ICLR 2015 table 2, before the CRF
        "voc-deeplab-v2-resnet101": 76.35,  # PAMI 2017, multi-scale inputs, before the CRF
        **{name: score for name, (_, score) in TORCHVISION.items()},
        # hszhao/PSPNet README.md, multi-scale with flip.
        "ade20k-pspnet50": 42.78,
        "voc-pspnet101": 85.41,
        "cityscapes-pspnet101": 80.91,
        "voc-refinenet152": 83.4,  # the paper's abstract, VOC 2012 test
        "cityscapes-refinenet101": 73.6,  # the paper, Cityscapes test
    }
    assert PRESETS["voc-fcn8s"].mean_iou_split == "PASCAL VOC 2011 seg11valid"
    assert PRESETS["voc-fcn8s"].sha1 == "c449ea74dd7d83751d1357d6a8c323fcf4038962"


def test_the_converted_weights_are_cached_by_name_and_hash(tmp_path, keras_home, monkeypatch):
    path, _ = write_caffemodel(tmp_path / "a.caffemodel", "voc-fcn32s", seed=2)
    first = from_preset("voc-fcn32s", caffemodel=path, fc_units=NARROW)
    sha1 = hashlib.sha1(open(path, "rb").read()).hexdigest()  # noqa: SIM115
    cached = keras_home / "models" / f"voc-fcn32s-{sha1[:16]}.weights.h5"
    assert sorted(os.listdir(keras_home / "models")) == [cached.name]  # no temporary left

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(presets, "load_caffemodel", no_conversion)
    second = from_preset("voc-fcn32s", caffemodel=path, fc_units=NARROW)
    images = inputs_of(first)
    np.testing.assert_array_equal(outputs_of(second, images), outputs_of(first, images))
    # Another file of the same net has another hash: converted, not read from the stale cache.
    other, _ = write_caffemodel(tmp_path / "b.caffemodel", "voc-fcn32s", seed=3)
    monkeypatch.undo()
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    third = from_preset("voc-fcn32s", caffemodel=other, fc_units=NARROW)
    assert len(os.listdir(keras_home / "models")) == 2
    assert not np.array_equal(outputs_of(third, images), outputs_of(first, images))


def test_the_aligned_geometry_loads_the_same_weights(tmp_path):
    path, _ = write_caffemodel(tmp_path / "fcn16s.caffemodel", "voc-fcn16s", seed=4)
    original = from_preset("voc-fcn16s", caffemodel=path, fc_units=NARROW)
    aligned = from_preset("voc-fcn16s", caffemodel=path, fc_units=NARROW, geometry="aligned")
    assert aligned.get_layer("pad_to_stride") is not None
    for layer in original.layers:
        for ours, theirs in zip(
            aligned.get_layer(layer.name).get_weights() if layer.weights else [],
            layer.get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)


def test_from_preset_downloads_checks_and_caches(tmp_path, keras_home, monkeypatch):
    source, _ = write_caffemodel(tmp_path / "served.caffemodel", "voc-fcn8s", seed=5)
    sha1 = hashlib.sha1(open(source, "rb").read()).hexdigest()  # noqa: SIM115
    preset = dataclasses.replace(PRESETS["voc-fcn8s"], url=f"file://{source}", sha1=sha1)
    monkeypatch.setitem(PRESETS, "voc-fcn8s", preset)
    first = from_preset("voc-fcn8s", fc_units=NARROW)
    downloaded = keras_home / "models" / "served.caffemodel"
    assert downloaded.read_bytes() == open(source, "rb").read()  # noqa: SIM115
    assert (keras_home / "models" / f"voc-fcn8s-{sha1[:16]}.weights.h5").is_file()
    # Later calls load the cached weights: neither the source nor the download is read again.
    os.remove(source)
    os.remove(downloaded)
    second = from_preset("voc-fcn8s", fc_units=NARROW)
    images = inputs_of(first)
    np.testing.assert_array_equal(outputs_of(second, images), outputs_of(first, images))


def test_a_download_of_another_hash_is_refused_and_deleted(tmp_path, keras_home, monkeypatch):
    source, _ = write_caffemodel(tmp_path / "altered.caffemodel", "voc-fcn32s", seed=6)
    preset = dataclasses.replace(PRESETS["voc-fcn32s"], url=f"file://{source}", sha1="0" * 40)
    monkeypatch.setitem(PRESETS, "voc-fcn32s", preset)
    with pytest.raises(ValueError, match=r"altered.caffemodel has SHA1 [0-9a-f]{40}, not the"):
        from_preset("voc-fcn32s", fc_units=NARROW)
    assert not (keras_home / "models" / "altered.caffemodel").exists()
    assert not [name for name in os.listdir(keras_home / "models") if name.endswith(".h5")]


def test_unknown_presets_options_and_files_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown preset 'voc-fcn4s'.*voc-fcn8s"):
        from_preset("voc-fcn4s")
    with pytest.raises(ValueError, match=r"takes the options .*received weights"):
        from_preset("voc-fcn8s", caffemodel="x.caffemodel", weights="imagenet")
    with pytest.raises(ValueError, match="original geometry only"):
        from_preset("voc-fcn-alexnet", caffemodel="x.caffemodel", geometry="aligned")
    with pytest.raises(FileNotFoundError, match=r"nothing\.caffemodel"):
        from_preset("voc-fcn32s", caffemodel=str(tmp_path / "nothing.caffemodel"), fc_units=8)


def test_a_file_of_another_net_is_refused_through_from_preset(tmp_path, keras_home):
    path, _ = write_caffemodel(tmp_path / "fcn32s.caffemodel", "voc-fcn32s", seed=7)
    with pytest.raises(ValueError, match=r"fcn32s.caffemodel is not the file of the model "):
        from_preset("voc-fcn8s", caffemodel=path, fc_units=NARROW)
    assert not list(keras_home.glob("models/*.h5"))  # nothing cached


@pytest.mark.slow
def test_a_full_width_fcn8s_file_converts_value_for_value(tmp_path):
    """The released voc-fcn8s's shapes (134,489,759 parameters, about 538 MB) end to end."""
    layers = caffe_net("voc-fcn8s", fc_units=4096)[0]
    path = tmp_path / "fcn8s-full.caffemodel"
    rng = np.random.default_rng(8)
    blobs = {}
    with open(path, "wb") as file:
        file.write(ref.length_delimited(1, b"voc-fcn8s"))
        for name, layer_type, shapes in layers:
            arrays = []
            for shape in shapes:
                fan_in = np.prod(shape[1:]) if layer_type == "Convolution" else shape[0]
                scale = np.sqrt(2.0 / fan_in) / (58.0 if name == "conv1_1" else 1.0)
                scale = 0.1 if len(shape) == 1 else scale
                arrays.append(rng.standard_normal(shape, dtype=np.float32) * np.float32(scale))
            file.write(ref.encode_layer(name, layer_type, arrays))
            if arrays:
                blobs[name] = arrays
    assert sum(array.size for arrays in blobs.values() for array in arrays) == 134_489_759
    model = from_preset("voc-fcn8s", caffemodel=str(path))
    image = np.random.default_rng(9).integers(0, 256, (1, *SIZE, 3)).astype("uint8")
    expected = ref.fcn(blobs, image[0], VOC_MEAN, "8s")
    actual = keras.ops.convert_to_numpy(model(image))
    assert ref.relative_error(actual, expected) <= 1e-5


# DeepLab-LargeFOV's release (its download script) and fyu/dilation's `download_pretrained.sh`;
# the means of their data layers (DeepLab's test.prototxt, Dilation's pascal_voc.json), BGR.
TORCHVISION = {
    # pytorch/vision torchvision/models/segmentation/{fcn,deeplabv3}.py: the weights' URLs and
    # their published mean IU (COCO val2017, VOC's 20 classes).
    "torchvision-fcn-resnet50": ("fcn_resnet50_coco-1167a1af.pth", 60.5),
    "torchvision-fcn-resnet101": ("fcn_resnet101_coco-7ecb50ca.pth", 63.7),
    "torchvision-deeplabv3-resnet50": ("deeplabv3_resnet50_coco-cd0a2569.pth", 66.4),
    "torchvision-deeplabv3-resnet101": ("deeplabv3_resnet101_coco-586e9e4e.pth", 67.4),
}


REFINENET = {
    # guosheng/refinenet main/demo_predict_mscale_*.m (files), gen_class_info_*.m (classes,
    # void counted), README (improved pooling for the five later datasets).
    "voc": ("voc2012", 22, "original"),
    "cityscapes": ("cityscapes", 20, "original"),
    "nyud": ("nyud", 41, "improved"),
    "person-parts": ("person_parts", 7, "improved"),
    "pascalcontext": ("pascalcontext", 60, "improved"),
    "sunrgbd": ("sunrgbd", 38, "improved"),
    "ade20k": ("ade", 151, "improved"),
}

SUCCESSORS = {
    "voc-deeplab-largefov": (
        "http://www.cs.jhu.edu/~alanlab/ccvl/DeepLab-LargeFOV/train2_iter_8000.caffemodel",
        (104.008, 116.669, 122.675),
    ),
    "voc-dilation8": (
        "http://dl.yf.io/dilation/models/dilation8_pascal_voc.caffemodel",
        (102.93, 111.36, 116.52),
    ),
    # kazuto1011/deeplab-pytorch scripts/setup_caffemodels.sh; the mean of its configs.
    "voc-deeplab-v2-resnet101": (
        "http://liangchiehchen.com/projects/released/deeplab_aspp_resnet101/prototxt_and_model.zip",
        (104.008, 116.669, 122.675),
    ),
}
CAFFE_NAMES = dict(zip(CONV_NAMES, CAFFE_CONV_NAMES, strict=True))


def test_the_successors_presets_name_their_releases_files_and_means():
    for name, (url, mean) in SUCCESSORS.items():
        preset = PRESETS[name]
        assert preset.url == url and [stream.mean for stream in preset.streams] == [mean]
        assert preset.num_classes == 21 and preset.class_names[15] == "person"


def source_model(name, seed):
    """A narrow net of the preset's architecture with random kernels and biases."""
    keras.utils.set_random_seed(seed)
    mean = SUCCESSORS[name][1]
    if name == "voc-deeplab-largefov":
        model = build_deeplab(LARGE_FOV, 21, weights=None, fc_units=NARROW, mean=mean)
    else:
        model = build_dilation(21, context="large", weights=None, fc_units=NARROW, mean=mean)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype("float32")])
    return model


def caffe_layers(model):
    """The model's weighted layers as Caffe stores them: Caffe names, kernels `(out, in, kh,
    kw)`, in the order of the net."""
    return [
        (
            CAFFE_NAMES.get(layer.name, layer.name),
            "Convolution",
            [layer.get_weights()[0].transpose(3, 2, 0, 1), layer.get_weights()[1]],
        )
        for layer in model.layers
        if layer.weights
    ]


@pytest.mark.parametrize(
    "name, legacy",
    # DeepLab v1's release is in Caffe's legacy V1 format, Dilation's in the current one.
    [("voc-deeplab-largefov", True), ("voc-dilation8", False)],
)
def test_the_successors_presets_load_their_nets_value_for_value(tmp_path, name, legacy):
    source = source_model(name, seed=11)
    path = tmp_path / PRESETS[name].file_name
    options = {"legacy": True, "legacy_shape": True} if legacy else {}
    path.write_bytes(ref.encode_net(caffe_layers(source), name=name, **options))
    model = from_preset(name, caffemodel=str(path), fc_units=NARROW)
    assert model.name == name
    for layer in source.layers:
        for ours, theirs in zip(
            model.get_layer(layer.name).get_weights(), layer.get_weights(), strict=True
        ):
            np.testing.assert_array_equal(ours, theirs)
    images = np.random.default_rng(12).integers(0, 256, (1, *SIZE, 3)).astype("uint8")
    expected = keras.ops.convert_to_numpy(source(images))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images)), expected, rtol=1e-6)


def test_an_fcn_file_given_as_deeplab_is_refused(tmp_path, keras_home):
    path, _ = write_caffemodel(tmp_path / "fcn32s.caffemodel", "voc-fcn32s", seed=13)
    # The first layer whose blobs differ: FCN's fc6 is 7×7, DeepLab-LargeFOV's 3×3.
    message = r"fcn32s.caffemodel: layer 'fc6' .*\(8, 512, 7, 7\).* takes .*\(8, 512, 3, 3\)"
    with pytest.raises(ValueError, match=message):
        from_preset("voc-deeplab-largefov", caffemodel=path, fc_units=NARROW)
    assert not list(keras_home.glob("models/*.h5"))


RELEASE_FOLDER = "prototxt_and_model/voc12/"


def release_zip(path, layers, member="model/train_iter_20000.caffemodel"):
    """A zip archive as the release's: prototxts, the ImageNet init and the trained net, whose
    layers (scale 1 only: the multi-scale copies are tests/test_weights_mappings_caffe.py's)
    are written into the archive one at a time."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(RELEASE_FOLDER + "config/test.prototxt", 'name: "deeplab"\n')
        archive.writestr(RELEASE_FOLDER + "model/init.caffemodel", b"another net")
        if layers is not None:
            with archive.open(RELEASE_FOLDER + member, "w", force_zip64=True) as file:
                file.write(ref.length_delimited(1, b"voc12"))
                for name, layer_type, blobs in layers:
                    file.write(ref.encode_layer(name, layer_type, blobs))
    return path


def test_deeplab_v2_resnet101_loads_from_the_releases_zip(tmp_path, keras_home, deeplab_v2_release):
    preset = PRESETS["voc-deeplab-v2-resnet101"]
    assert (preset.model, preset.member) == (
        "deeplab-aspp-resnet101",
        "train_iter_20000.caffemodel",
    )
    assert preset.file_name == "prototxt_and_model.zip" and preset.sha1 is None
    path = release_zip(tmp_path / preset.file_name, deeplab_v2_release.layers)
    model = from_preset("voc-deeplab-v2-resnet101", path)  # the file as second argument
    assert model.name == "voc-deeplab-v2-resnet101"
    assert model.get_layer("preprocessing").mean == SUCCESSORS[preset.name][1]
    actual = keras.ops.convert_to_numpy(model(deeplab_v2_release.images))
    assert ref.relative_error(actual, deeplab_v2_release.logits) <= 1e-5
    # The member went through a temporary file, deleted; the converted weights stay.
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    assert os.listdir(keras_home / "models") == [f"{preset.name}-{sha1[:16]}.weights.h5"]


def test_a_zip_without_the_nets_caffemodel_is_refused(tmp_path, keras_home):
    path = release_zip(tmp_path / "prototxt_and_model.zip", None)
    message = (
        r"holds no train_iter_20000.caffemodel .*files are prototxt_and_model/voc12/model/init"
    )
    with pytest.raises(ValueError, match=message):
        from_preset("voc-deeplab-v2-resnet101", path)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"broken.zip is not a readable zip archive"):
        from_preset("voc-deeplab-v2-resnet101", broken)
    assert not list(keras_home.glob("models/*"))  # no temporary file, nothing cached


def test_the_file_is_given_once_by_position_or_keyword(tmp_path):
    path, _ = write_caffemodel(tmp_path / "fcn32s.caffemodel", "voc-fcn32s", seed=14)
    by_position = from_preset("voc-fcn32s", path, fc_units=NARROW)
    by_keyword = from_preset("voc-fcn32s", caffemodel=path, fc_units=NARROW)
    images = inputs_of(by_position)
    np.testing.assert_array_equal(outputs_of(by_position, images), outputs_of(by_keyword, images))
    with pytest.raises(ValueError, match="takes the file once"):
        from_preset("voc-fcn32s", path, caffemodel=path, fc_units=NARROW)


def test_torchvisions_presets_name_their_files_and_load_a_torch_written_one(tmp_path, keras_home):
    import resnet_reference
    import torchvision_segmentation_reference as reference

    torch = pytest.importorskip("torch")
    for name, (file, _) in TORCHVISION.items():
        assert PRESETS[name].url == f"https://download.pytorch.org/models/{file}"
        assert PRESETS[name].model == name and PRESETS[name].num_classes == 21
    parameters = reference.random_parameters(np.random.default_rng(9), "deeplabv3", 21, True)
    state = {
        key if key.startswith(("classifier.", "aux_classifier.")) else f"backbone.{key}": value
        for key, value in parameters.items()
    }
    path = tmp_path / "deeplabv3_resnet50_coco-cd0a2569.pth"
    torch.save({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in state.items()}, path)
    model = from_preset("torchvision-deeplabv3-resnet50", str(path))
    images = np.random.default_rng(10).uniform(0, 255, (1, 3, 35, 45))
    expected = reference.segmentation_model(images, parameters, "deeplabv3")["out"]
    actual = keras.ops.convert_to_numpy(model(np.transpose(images, (0, 2, 3, 1)).astype("float32")))
    assert resnet_reference.relative_error(np.transpose(actual, (0, 3, 1, 2)), expected) <= 1e-5
    assert model.name == "torchvision-deeplabv3-resnet50"


PSPNET = {
    # hszhao/PSPNet README.md and evaluation/model/README.md: Google Drive ids and files;
    # eval_all.m: input (crop) size, classes; README's table: ss and ms scores (with flip).
    "ade20k-pspnet50": (
        "1SyCa_mEB-WiwvnqyBBBkWycS1zQDtDzW",
        "pspnet50_ADE20K.caffemodel",
        473,
        150,
        {("pspnet-ss", "mean_iou"): 41.68, ("pspnet-ms", "mean_iou"): 42.78},
    ),
    "voc-pspnet101": (
        "1-jjYyRzbNEwsdQYP2UPJVy0ZV_yCVU2N",
        "pspnet101_VOC2012.caffemodel",
        473,
        21,
        {("pspnet-ms", "mean_iou"): 85.41},
    ),
    "cityscapes-pspnet101": (
        "1-Me01pX1KUsut_7l6uJXkIbaBxxSVgX0",
        "pspnet101_cityscapes.caffemodel",
        713,
        19,
        {("pspnet-cityscapes-ss", "mean_iou"): 79.70, ("pspnet-cityscapes-ms", "mean_iou"): 80.91},
    ),
}


def test_pspnets_presets_name_their_files_sizes_means_classes_and_scores():
    for name, (drive_id, file, size, classes, scores) in PSPNET.items():
        preset = PRESETS[name]
        assert preset.url == f"https://drive.google.com/file/d/{drive_id}/view?usp=sharing"
        assert preset.file_name == file and dict(preset.options) == {"input_size": size}
        # eval_all.m: RGB minus (123.68, 116.779, 103.939), then BGR.
        assert [stream.mean for stream in preset.streams] == [(103.939, 116.779, 123.68)]
        assert preset.num_classes == classes and preset.palette.shape == (classes, 3)
        published = {(protocol, metric): value for protocol, metric, value in preset.scores}
        assert published.items() >= scores.items()
    ade20k, cityscapes = PRESETS["ade20k-pspnet50"], PRESETS["cityscapes-pspnet101"]
    assert (ade20k.class_names[2], ade20k.palette[2].tolist()) == ("sky", [6, 230, 230])
    assert (cityscapes.class_names[0], cityscapes.palette[0].tolist()) == ("road", [128, 64, 128])
    assert PRESETS["voc-pspnet101"].palette[15].tolist() == [192, 128, 128]


def test_a_pspnet_preset_without_its_file_says_where_to_get_it(keras_home):
    with pytest.raises(FileNotFoundError) as error:
        from_preset("cityscapes-pspnet101")
    message = str(error.value)
    assert "pspnet101_cityscapes.caffemodel" in message
    assert "https://drive.google.com/file/d/1-Me01pX1KUsut_7l6uJXkIbaBxxSVgX0" in message
    assert "from_preset('cityscapes-pspnet101', path)" in message


def test_ade20k_pspnet50_loads_a_downloaded_file_and_computes_the_prototxt(
    keras_home, pspnet_release
):
    import pspnet_reference

    release = pspnet_release[50]
    model = from_preset("ade20k-pspnet50", release.path, input_size=41)
    assert model.name == "ade20k-pspnet50" and model.input.shape == (None, 41, 41, 3)
    actual = keras.ops.convert_to_numpy(model(release.images, training=False))
    assert pspnet_reference.relative_error(actual, release.logits) <= 1e-5


def test_refinenets_presets_name_their_files_classes_and_pooling():
    for data, (suffix, classes, pooling) in REFINENET.items():
        for depth, folder in ((101, "1U2c1N6QJdzB"), (152, "1UGhqllXOn_q")):
            preset = PRESETS[f"{data}-refinenet{depth}"]
            assert preset.file_name == f"refinenet_res{depth}_{suffix}.mat"
            assert preset.url.startswith(f"https://drive.google.com/open?id={folder}")
            assert (preset.model, preset.num_classes) == (f"refinenet{depth}", classes)
            assert dict(preset.options) == {"pooling": pooling} and preset.streams == ()
    assert PRESETS["voc-refinenet101"].class_names[-1] == "void"
    assert PRESETS["ade20k-refinenet101"].class_names[:2] == ("void", "wall")
    assert PRESETS["cityscapes-refinenet101"].palette[0].tolist() == [128, 64, 128]
    with pytest.raises(FileNotFoundError, match=r"refinenet_res101_ade\.mat.*Download it there"):
        from_preset("ade20k-refinenet101")
    with pytest.raises(ValueError, match=r"takes the options .*received pooling"):
        PRESETS["ade20k-refinenet101"].build(pooling="original")


@pytest.mark.slow
def test_a_refinenet_preset_loads_its_mat_file(tmp_path, keras_home):
    import matlab_files
    import refinenet_reference

    widths = (16, 8, 8, 8)
    rng = np.random.default_rng(11)
    parameters = refinenet_reference.random_parameters(rng, 41, 101, widths, "improved")
    path = tmp_path / "refinenet_res101_nyud.mat"
    matlab_files.write_refinenet_mat(path, parameters)
    model = from_preset("nyud-refinenet101", path, adapt_widths=widths)
    images = rng.uniform(0, 255, (1, 33, 41, 3))
    expected = refinenet_reference.refinenet_logits(images, parameters, 101, "improved")
    actual = keras.ops.convert_to_numpy(model(images.astype("float32")))
    assert ref.relative_error(actual, expected) <= 1e-5
    assert model.name == "nyud-refinenet101"
    assert len(os.listdir(keras_home / "models")) == 1  # the converted weights, cached
