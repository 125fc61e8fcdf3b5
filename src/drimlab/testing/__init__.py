"""Launchers of real peers (Orthanc, nginx) for tests and benchmarks."""
