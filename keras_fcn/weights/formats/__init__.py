"""Weight file formats: each reader turns a file into arrays by name, nothing else.

`caffe`: Caffe's `.caffemodel` (read and written); `stored`: the `StoredLayer` every reader
gives. A format's own dependency (protobuf for Caffe) is imported only when a file of that
format is read or written.
"""
