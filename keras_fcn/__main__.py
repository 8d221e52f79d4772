"""`python -m keras_fcn` runs the `keras-fcn` command line."""

import sys

from keras_fcn.cli import main

sys.exit(main())
