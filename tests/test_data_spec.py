import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_fcn.classes import VOC_CLASS_NAMES
from keras_fcn.data import testing
from keras_fcn.data.spec import from_spec, parse_spec
from keras_fcn.data.synthetic import synthetic_example


@pytest.mark.parametrize(
    ("text", "scheme", "arguments", "options"),
    [
        ("voc:/data/VOC2012", "voc", ("/data/VOC2012",), {}),
        (
            "voc:/data/VOC2012,split=train_aug,sbd=/data/sbd",
            "voc",
            ("/data/VOC2012",),
            {"split": "train_aug", "sbd": "/data/sbd"},
        ),
        ("sbd:/data/dataset,num_classes=21", "sbd", ("/data/dataset",), {"num_classes": 21}),
        ("tfds:voc/2012:5.0.0", "tfds", ("voc/2012:5.0.0",), {}),
        ("tfds:oxford_iiit_pet,data_dir=/d", "tfds", ("oxford_iiit_pet",), {"data_dir": "/d"}),
        ("folder:im,masks", "folder", ("im", "masks"), {}),
        ("folder:/a=b/im,masks", "folder", ("/a=b/im", "masks"), {}),
        ("synthetic", "synthetic", (), {}),
        ("synthetic:n=32,size=48,seed=3", "synthetic", (), {"n": 32, "size": 48, "seed": 3}),
    ],
)
def test_specs_parse_into_scheme_arguments_and_typed_options(text, scheme, arguments, options):
    spec = parse_spec(text)
    assert (spec.scheme, spec.arguments, spec.options, spec.text) == (
        scheme,
        arguments,
        options,
        text,
    )


def test_unknown_scheme_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match="valid schemes: voc, sbd, camvid, tfds, folder, synthetic"
    ):
        parse_spec("coco:/data")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("voc", "has 0 positional argument"),
        ("folder:only_images", "takes 2 .images_dir, masks_dir."),
        ("synthetic:extra", "takes 0"),
        ("voc:/x,colour=red", r"Unknown option 'colour'.*\['num_classes', 'sbd', 'split'\]"),
        ("synthetic:n=many", "must be an integer"),
        ("synthetic:n=1,n=2", "given twice"),
        ("voc:/x,,split=val", "Empty item"),
    ],
)
def test_malformed_specs_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(text)


def test_number_of_classes_comes_from_the_option_or_the_scheme():
    assert parse_spec("voc:/x").num_classes == 21
    assert parse_spec("voc:/x").class_names == VOC_CLASS_NAMES
    assert parse_spec("voc:/x,num_classes=5").num_classes == 5
    assert parse_spec("tfds:oxford_iiit_pet").num_classes == 2
    assert parse_spec("tfds:some_dataset").num_classes is None
    assert parse_spec("folder:a,b").num_classes is None
    assert parse_spec("synthetic").class_names == ("background", "disc", "square", "triangle")
    assert parse_spec("synthetic:num_classes=6").num_classes == 6


def test_synthetic_spec_builds_the_synthetic_split():
    dataset = from_spec("synthetic:n=3,size=32,num_classes=3,seed=2", split="val")
    images = [image.numpy() for image, _ in dataset]
    expected, _ = synthetic_example(2, image_size=32, num_classes=3, seed=2, split="val")
    assert len(images) == 3
    np.testing.assert_array_equal(images[2], expected)


def test_split_option_wins_over_the_split_argument():
    from_option = next(iter(from_spec("synthetic:n=1,split=val", split="train")))[0]
    expected, _ = synthetic_example(0, split="val")
    np.testing.assert_array_equal(from_option, expected)


def test_synthetic_with_more_classes_than_num_classes_is_an_error():
    with pytest.raises(ValueError, match="makes 4 classes but num_classes=3"):
        from_spec("synthetic:n=1", num_classes=3)


def test_voc_spec_reads_the_split_named_in_the_spec(voc_tree):
    tree = voc_tree({"train": ["2007_000032"], "val": ["2007_000033", "2007_000039"]})
    dataset = from_spec(f"voc:{tree.root},split=val", split="train")
    labels = [label.numpy() for _, label in dataset]
    np.testing.assert_array_equal(labels[1], tree.labels["2007_000039"])


def test_sbd_spec_builds_the_sbd_source(sbd_tree):
    tree = sbd_tree({"train": ["2008_000002"]})
    ((_, label),) = list(from_spec(f"sbd:{tree.root}"))
    np.testing.assert_array_equal(label, tree.labels["2008_000002"])


def test_folder_spec_builds_the_folder_source(tmp_path, data_writers):
    image, label = data_writers.example("x")
    data_writers.jpeg(tmp_path / "im" / "x.jpg", image)
    data_writers.palette_png(tmp_path / "ma" / "x.png", label)
    ((_, decoded),) = list(from_spec(f"folder:{tmp_path / 'im'},{tmp_path / 'ma'}"))
    np.testing.assert_array_equal(decoded, label)


def test_tfds_spec_goes_through_tfds_load():
    with tfds.testing.mock_data(num_examples=2, max_value=3):
        spec = "tfds:oxford_iiit_pet,image_key=image,mask_key=segmentation_mask"
        dataset = from_spec(spec, split="train")
    assert dataset.element_spec[1].shape.rank == 2


def test_folder_spec_takes_void_and_a_label_map(tmp_path, data_writers):
    image, label = data_writers.example("a")
    data_writers.jpeg(tmp_path / "images" / "a.jpg", image)
    data_writers.palette_png(tmp_path / "masks" / "a.png", np.where(label == 255, 11, label))
    directories = f"{tmp_path / 'images'},{tmp_path / 'masks'}"
    (_, voided), *_ = list(from_spec(f"folder:{directories},void=11,num_classes=21"))
    np.testing.assert_array_equal(voided, label)
    spec = parse_spec(f"folder:{directories},label_map=0:0/11:255/12:1")
    assert spec.options["label_map"] == {0: 0, 11: 255, 12: 1}
    with pytest.raises(ValueError, match=r"label_map='0-1' in dataset spec .* is malformed"):
        parse_spec(f"folder:{directories},label_map=0-1")
    with pytest.raises(ValueError, match="must be a number"):
        parse_spec("camvid:/data/CamVid,scale=half")


def _gray_example(example_id: str) -> tuple[np.ndarray, np.ndarray]:
    """A flat grey image whose level is 10 × the id's last two digits, and a background mask."""
    return np.full((6, 8, 3), 10 * int(example_id[-2:]), np.uint8), np.zeros((6, 8), np.uint8)


def _file_spec(scheme: str, root, ids: list[str]) -> str:
    if scheme == "folder":
        testing.write_folder_tree(root, ids, _gray_example)
        return f"folder:{root / 'images'},{root / 'masks'}"
    writer = {
        "voc": testing.write_voc_tree,
        "sbd": testing.write_sbd_tree,
        "camvid": testing.write_camvid_tree,
    }[scheme]
    writer(root, {"train": ids}, _gray_example)
    return f"{scheme}:{root}"


@pytest.mark.parametrize("scheme", ["voc", "sbd", "camvid", "folder"])
def test_file_sources_shuffle_all_their_files_anew_each_epoch(tmp_path, scheme):
    ids = [f"2008_0000{index:02d}" for index in range(12)]
    spec = _file_spec(scheme, tmp_path / scheme, ids)

    def epochs(dataset, count=3):
        return [
            [round(float(image.numpy().mean()) / 10) for image, _ in dataset] for _ in range(count)
        ]

    assert epochs(from_spec(spec), 1) == [list(range(12))]  # the listing's order
    shuffled = epochs(from_spec(spec, shuffle=True, seed=3))
    assert all(sorted(epoch) == list(range(12)) for epoch in shuffled)
    assert len({tuple(epoch) for epoch in [*shuffled, list(range(12))]}) == 4
    assert epochs(from_spec(spec, shuffle=True, seed=3)) == shuffled
