"""DRIM-M documents around the WADO-RS exchange: the KOS, its XDS metadata, the CDA, XDM archives.

`kos` reads a KOS manifest once into the one `Kos` model (`part10` parses a DICOM file whole),
`xds` parses ProvideAndRegisterDocumentSet-b and XDM metadata into typed objects (`xds_build`
writes them), `cda` reads the CDA header fields the cross-validation compares, `cross` gathers
one exam's facts from every document, `xdm` reads and builds IHE XDM archives, and `validate`
runs the rule families over them into Reports (with dciodvfy's verdict on a KOS beside it).
This layer imports nothing from `datasets`, `store`, `trust`, `simulators` or `cli`.
"""
