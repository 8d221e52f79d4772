import re

import numpy as np
import pytest
import tensorflow as tf

from keras_fcn.data.dataset_problems import check_dataset
from keras_fcn.data.files import FilePairs
from keras_fcn.data.sources import SOURCES, Examples, Source, named_examples
from keras_fcn.data.spec import from_spec, parse_spec


def test_every_scheme_has_a_usage_line():
    assert all(layout.usage.startswith(name) for name, layout in SOURCES.items())


def test_every_source_lists_files_or_gives_examples_but_not_both():
    for name, source in SOURCES.items():
        assert (source.files is None) != (source.examples is None), name


@pytest.mark.parametrize("given", [{}, {"files": FilePairs, "examples": named_examples}])
def test_a_source_needs_exactly_one_way_of_being_checked(given):
    with pytest.raises(ValueError, match=r"exactly one of files= .* and examples="):
        Source((), {}, "x", build=lambda *_: None, class_names=lambda _: None, **given)


def test_unknown_scheme_lists_every_scheme_of_the_table():
    with pytest.raises(ValueError) as raised:
        parse_spec("coco:/data")
    message = str(raised.value)
    listed = re.search(r"valid schemes: ([^(]*) \(", message).group(1)
    assert listed.split(", ") == list(SOURCES)
    assert all(source.usage in message for source in SOURCES.values())


def test_file_based_sources_take_a_path_and_the_number_of_classes():
    for name in ("voc", "sbd", "folder"):
        assert SOURCES[name].files is not None
        assert SOURCES[name].arguments and "num_classes" in SOURCES[name].options


def test_named_examples_are_named_by_index():
    dataset = tf.data.Dataset.from_tensor_slices((tf.zeros([3, 2, 2, 3]), tf.zeros([3, 2, 2])))
    examples = named_examples(dataset, "tiny")
    assert examples.source == "tiny" and examples.label_map is None
    names = [name.decode() for _, _, name in examples.dataset.as_numpy_iterator()]
    assert names == ["tiny example 0", "tiny example 1", "tiny example 2"]


def test_a_new_row_is_all_that_parsing_building_and_checking_need(monkeypatch):
    # Labels 0..4 on 2 x 2 images; a spec option sets how many examples there are.
    def build(spec, split, num_classes, shuffle=False, seed=None):
        del split, num_classes, shuffle, seed
        count = spec.options.get("n", 2)
        labels = tf.reshape(tf.range(4 * count) % 5, [count, 2, 2])
        return tf.data.Dataset.from_tensor_slices((tf.zeros([count, 2, 2, 3], tf.uint8), labels))

    row = Source(
        arguments=(),
        options={"n": int},
        usage="counting[:n=N]",
        build=build,
        class_names=lambda spec: tuple("abcde"),
        examples=lambda spec, split: named_examples(build(spec, split, None), spec.text),
    )
    monkeypatch.setitem(SOURCES, "counting", row)
    spec = parse_spec("counting:n=3")
    assert spec.options == {"n": 3} and spec.num_classes == 5
    assert len(list(from_spec(spec))) == 3
    assert check_dataset(spec) == []
    # With 4 classes, the examples holding label 4 are reported: values 0..11 % 5 hold 4 at
    # positions 4 and 9, in examples 1 and 2.
    problems = check_dataset("counting:n=3", num_classes=4)
    assert [p.path for p in problems] == ["counting:n=3 example 1", "counting:n=3 example 2"]
    assert isinstance(row.examples(spec, "train"), Examples)


def test_class_names_come_from_the_row():
    names = parse_spec("synthetic:num_classes=3").class_names
    assert names == SOURCES["synthetic"].class_names(parse_spec("synthetic:num_classes=3"))
    np.testing.assert_equal(parse_spec("folder:a,b").class_names, None)
