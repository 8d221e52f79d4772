import pytest

from keras_fcn.export.runtimes import INSTALL_HINT, require


def test_a_missing_runtime_says_what_to_install():
    with pytest.raises(ImportError, match="'not-a-runtime' package") as raised:
        require("not_a_runtime_module", "not-a-runtime")
    assert INSTALL_HINT in str(raised.value)


def test_an_installed_module_is_returned():
    assert require("json").dumps([1]) == "[1]"
