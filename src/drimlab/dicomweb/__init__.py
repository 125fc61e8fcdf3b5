"""The DICOMweb protocol, sans I/O: paths, UIDs, media types, Accept, multipart."""
