"""Weight file formats: each reader turns a file into arrays by name, nothing else.

`caffe`: Caffe's `.caffemodel` (read and written); `torch`: PyTorch's `.pth` state dicts, both
the zip and the legacy format, read without torch and without running any code of the file;
`matconvnet`: MatConvNet nets in MATLAB v7.3 `.mat` files (HDF5, read with h5py);
`stored`: the `StoredLayer` the loader takes. A format's own dependency (protobuf for Caffe) is
imported only when a file of that format is read or written.
"""
